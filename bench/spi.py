"""SPI createInstance throughput and latency: kaitong's endpoint vs a bare Django view, same run.

Both are served by the same gunicorn configuration (``kaitong.config.server.serve``) on this machine;
kaitong uses PostgreSQL. wrk (Debian package ``wrk``) drives them with pre-signed URLs:

- ``new``: every request is a new orderBizId (insert inbox row, insert instance, audit row);
- ``repeat``: the same signed create again and again (the idempotent path).

Prints requests/s and p50/p99 latency per scenario and concurrency, and ours ÷ bare. Two more
baselines split that ratio: the bare view plus one ``SELECT 1`` with our connection settings (what
talking to the database at all costs on this machine, health check included, where wrk, the servers
and PostgreSQL share two cores), and kaitong's own ``/healthz`` (our Django stack and middleware, no
SPI work). Each cell is the median of ``--runs`` runs.

The ``flood`` scenario (issue 10, item 8) serves kaitong alone and calls its SPI at a steady
``--spi-rate`` (new orders, each on a new connection, timed from when it was due, so a stalled server
cannot hide its backlog), first alone and then beside ``bench/signin_flood.py``: ``--flood-clients``
anonymous sign-ins with wrong passwords from rotating loopback addresses. It prints SPI p50/p99 with
and without the flood and the ratio of the p99s, per run and as medians. Usage:

    .venv/bin/python bench/spi.py [throughput|flood|all] [--seconds 5] [--runs 3]
        [--database postgresql://postgres@127.0.0.1:5432/kaitong_bench]
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

from common import ROOT, database_ready, demo_env, free_port, wait_up

KEY = "bench-isv-key-0123456789abcdef"
SPI_TIMEOUT = 10.0  # seconds; the marketplace gives up after 5
LUA = """
local paths = {}
local n = 0
init = function(args)
  for line in io.lines(args[1]) do n = n + 1; paths[n] = line end
end
local i = 0
request = function()
  i = i + 1
  if i > n then i = 1 end
  return wrk.format("GET", paths[i])
end
"""


def signed_paths(count: int, *, start: int, repeat: bool) -> list[str]:
    sys.path.insert(0, str(ROOT / "src"))
    from kaitong.marketplace.aliyun.token import signed

    out = []
    for n in range(count):
        biz = str(start if repeat else start + n)
        params = {
            "action": "createInstance",
            "aliUid": "1234567890123456",
            "orderBizId": biz,
            "orderId": "9" + biz,
            "productCode": "cmgj00053362",
            "skuId": "cmgj00053362-postpay",
            "trial": "false",
        }
        out.append("/marketplace/aliyun/spi?" + urlencode(signed(params, KEY)))
    return out


def run_wrk(url: str, paths_file: Path, script: Path, *, connections: int, seconds: int) -> dict[str, float]:
    threads = min(2, connections)
    result = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
            "--",
            str(paths_file),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    text = result.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]

    def pct(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if errors:
        raise SystemExit(f"{errors.group(1)} error responses during the run:\n{text}")
    return {"rps": rps, "p50": pct("50"), "p99": pct("99")}


def throughput(args: argparse.Namespace, env: dict[str, str]) -> None:
    """kaitong's createInstance against the bare view, the query view and /healthz, driven by wrk."""
    if not shutil.which("wrk"):
        raise SystemExit("bench/spi.py needs wrk: apt-get install wrk")
    # The figures in the README were measured with 3 × 4; the bare views are served the same way.
    args = argparse.Namespace(**{**vars(args), "workers": args.workers or 3, "threads": args.threads or 4})
    python = sys.executable
    ours_port, bare_port, query_port = free_port(), free_port(), free_port()
    serve = ["--workers", str(args.workers), "--threads", str(args.threads)]
    ours = subprocess.Popen(
        [python, "-m", "kaitong.cli", "serve", "--port", str(ours_port), *serve], env=env, stdout=subprocess.DEVNULL
    )

    def serve_bare(port: int, *, query: bool) -> subprocess.Popen:
        code = (
            "import sys; sys.path.insert(0, 'bench'); from kaitong_base.server import serve; "
            f"serve(host='127.0.0.1', port={port}, workers={args.workers}, threads={args.threads}, wsgi='bare_app', "
            "name='bare')"
        )
        bare_env = dict(env, BENCH_BARE_QUERY="1" if query else "0")
        return subprocess.Popen([python, "-c", code], cwd=ROOT, env=bare_env, stdout=subprocess.DEVNULL)

    servers = [ours, serve_bare(bare_port, query=False), serve_bare(query_port, query=True)]
    try:
        wait_up(f"http://127.0.0.1:{ours_port}/healthz")
        wait_up(f"http://127.0.0.1:{bare_port}/marketplace/aliyun/spi")
        wait_up(f"http://127.0.0.1:{query_port}/marketplace/aliyun/spi")
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "paths.lua"
            script.write_text(LUA)
            rows = []
            next_id = 1_000_000
            for scenario in ("new", "repeat"):
                for connections in (10, 100):
                    cells: dict[str, list[dict[str, float]]] = {"ours": [], "bare": [], "query": [], "stack": []}
                    for _ in range(args.runs):
                        # Enough distinct ids that "new" never repeats within a run (wrk would wrap).
                        count = 1 if scenario == "repeat" else 4_000 * args.seconds
                        paths = signed_paths(count, start=next_id, repeat=scenario == "repeat")
                        next_id += count
                        paths_file = Path(tmp) / "paths.txt"
                        paths_file.write_text("\n".join(paths) + "\n")
                        health_file = Path(tmp) / "health.txt"
                        health_file.write_text("/healthz\n")
                        targets = (
                            ("bare", bare_port, paths_file),
                            ("ours", ours_port, paths_file),
                            ("query", query_port, paths_file),
                            ("stack", ours_port, health_file),
                        )
                        for name, port, file in targets:
                            cells[name].append(
                                run_wrk(
                                    f"http://127.0.0.1:{port}",
                                    file,
                                    script,
                                    connections=connections,
                                    seconds=args.seconds,
                                )
                            )
                    med = {
                        name: {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")}
                        for name, runs in cells.items()
                    }
                    rows.append((scenario, connections, med))
        print(
            f"\nSPI createInstance, gunicorn {args.workers} workers × {args.threads} threads, "
            f"{args.seconds}s × {args.runs} runs (medians), db={args.database.split('://')[0]}"
        )
        print(
            f"{'scenario':<8} {'conc':>4} | {'ours rps':>9} {'p50 ms':>7} {'p99 ms':>7} | "
            f"{'bare rps':>9} {'p50 ms':>7} {'p99 ms':>7} | {'ratio':>6} | "
            f"{'query rps':>9} {'÷bare':>6} {'ours÷':>6} | {'stack rps':>9} {'ours÷':>6}"
        )
        for scenario, connections, med in rows:
            o, b, q, k = med["ours"], med["bare"], med["query"], med["stack"]
            print(
                f"{scenario:<8} {connections:>4} | {o['rps']:>9.0f} {o['p50']:>7.2f} {o['p99']:>7.2f} | "
                f"{b['rps']:>9.0f} {b['p50']:>7.2f} {b['p99']:>7.2f} | {o['rps'] / b['rps']:>6.2f} | "
                f"{q['rps']:>9.0f} {q['rps'] / b['rps']:>6.2f} {o['rps'] / q['rps']:>6.2f} | "
                f"{k['rps']:>9.0f} {o['rps'] / k['rps']:>6.2f}"
            )
        print(
            "ratio = ours ÷ bare, the goal's measure; bare = a bare Django view, no middleware, no database;\n"
            "query = the same bare view plus one SELECT 1 with our connection settings: the ceiling for any\n"
            "endpoint that talks to the database on this machine; stack = kaitong's own /healthz, i.e. our\n"
            "Django stack and middleware with no SPI work."
        )
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=20)


def seed_accounts(env: dict[str, str], count: int) -> None:
    """``count`` console accounts flood0000… sharing one Argon2 hash (one hash, not ``count`` of them)."""
    code = (
        "from django.contrib.auth import get_user_model; from django.contrib.auth.hashers import make_password; "
        "h = make_password('the right password of the flood accounts'); "
        f"get_user_model().objects.bulk_create(get_user_model()(username=f'flood{{i:04d}}', password=h) "
        f"for i in range({count}))"
    )
    subprocess.run([sys.executable, "-m", "kaitong.cli", "admin", "shell", "-c", code], env=env, cwd=ROOT, check=True)


def paced_spi(port: int, paths: list[str], *, rate: float, seconds: float) -> dict[str, float]:
    """Call the SPI at ``rate`` a second for ``seconds``, each call on a new connection and timed from
    when it was due (a call that waits for a free caller thread waits on the clock)."""
    count = int(rate * seconds)
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def call(path: str, due: float) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=SPI_TIMEOUT)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            ok = response.status == 200 and json.loads(body).get("instanceId")
            outcome = "" if ok else f"{response.status} {body[:80]!r}"
        except OSError as exc:
            outcome = type(exc).__name__
        finally:
            conn.close()
        elapsed = (time.monotonic() - due) * 1000
        with lock:
            latencies.append(elapsed if not outcome else max(elapsed, SPI_TIMEOUT * 1000))
            if outcome:
                failures.append(outcome)

    start = time.monotonic() + 0.05
    with ThreadPoolExecutor(max_workers=64) as pool:
        for n in range(count):
            due = start + n / rate
            time.sleep(max(0.0, due - time.monotonic()))
            pool.submit(call, paths[n], due)
    if failures:
        print(f"  {len(failures)} SPI calls failed, e.g. {failures[0]}", flush=True)
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "p50": statistics.median(latencies),
        "p99": cuts[98],
        "max": max(latencies),
        "over_5s": sum(1 for v in latencies if v > 5000),
    }


def warm_up(port: int, paths: list[str]) -> None:
    """Many SPI calls at once, so that every worker thread has its database connection and every
    module is loaded before anything is timed (the first call of a thread takes up to seconds)."""

    def call(path: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", path)
        conn.getresponse().read()
        conn.close()

    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(call, paths))


def flood(args: argparse.Namespace, env: dict[str, str]) -> None:
    """SPI latency at a steady rate, alone and beside the sign-in flood (issue 10, item 8)."""
    seed_accounts(env, args.flood_accounts)
    port = free_port()
    sys.path.insert(0, str(ROOT / "src"))
    from kaitong.cli import build_parser

    # Served as `kaitong serve` is by default, unless told otherwise.
    defaults = build_parser().parse_args(["serve"])
    args = argparse.Namespace(
        **{**vars(args), "workers": args.workers or defaults.workers, "threads": args.threads or defaults.threads}
    )
    serve = ["--workers", str(args.workers), "--threads", str(args.threads)]
    # Every 429 is a warning line of Django's: the server's log goes to a file, not over the figures.
    log = tempfile.NamedTemporaryFile(prefix="kaitong-flood-server-", suffix=".log", delete=False)  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "kaitong.cli", "serve", "--port", str(port), *serve],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    print(f"kaitong serve {' '.join(serve)}; its log: {log.name}", flush=True)
    rows = []
    next_id, next_address = 5_000_000, 0
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz")
        warm_up(port, signed_paths(400, start=next_id, repeat=False))
        next_id += 400
        for run in range(args.runs):
            count = int(args.spi_rate * args.seconds) + 1
            alone = paced_spi(port, signed_paths(count, start=next_id, repeat=False), **pace(args))
            next_id += count
            flooder = subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "bench" / "signin_flood.py"),
                    f"--port={port}",
                    f"--clients={args.flood_clients}",
                    f"--accounts={args.flood_accounts}",
                    f"--first-address={next_address}",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert flooder.stdin and flooder.stdout
            flooder.stdout.readline()  # "flooding"
            time.sleep(args.flood_warmup)
            flooded = paced_spi(port, signed_paths(count, start=next_id, repeat=False), **pace(args))
            next_id += count
            flooder.stdin.close()
            report = json.loads(flooder.stdout.readline())
            flooder.wait(timeout=60)
            next_address += report["addresses"] + 1
            rows.append((alone, flooded))
            print(
                f"run {run + 1}: SPI alone p50 {alone['p50']:.1f} p99 {alone['p99']:.1f} ms | under the flood "
                f"p50 {flooded['p50']:.1f} p99 {flooded['p99']:.1f} max {flooded['max']:.0f} ms, "
                f"{flooded['over_5s']} over 5 s | ratio {flooded['p99'] / alone['p99']:.2f} | "
                f"sign-ins by status {report['attempts']}",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)

    def med(index: int, key: str) -> float:
        return statistics.median(row[index][key] for row in rows)

    print(
        f"\nSPI createInstance at {args.spi_rate:g}/s beside {args.flood_clients} sign-in clients, gunicorn "
        f"{args.workers} workers × {args.threads} threads, {args.seconds}s × {args.runs} runs (medians)"
    )
    print(f"{'':<14} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'alone':<14} {med(0, 'p50'):>8.1f} {med(0, 'p99'):>8.1f}")
    print(f"{'under flood':<14} {med(1, 'p50'):>8.1f} {med(1, 'p99'):>8.1f}")
    ratio = statistics.median(flooded["p99"] / alone["p99"] for alone, flooded in rows)
    print(f"p99 under the flood ÷ alone: {ratio:.2f} (median of the runs' ratios); goal < 3 and p99 < 500 ms")


def pace(args: argparse.Namespace) -> dict[str, float]:
    return {"rate": args.spi_rate, "seconds": args.seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", nargs="?", choices=("throughput", "flood", "all"), default="all")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, help="throughput: 3; flood: kaitong serve's default")
    parser.add_argument("--threads", type=int, help="throughput: 4; flood: kaitong serve's default")
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/kaitong_bench")
    parser.add_argument("--spi-rate", type=float, default=50.0, help="SPI calls a second in the flood scenario")
    parser.add_argument("--flood-clients", type=int, default=24)
    parser.add_argument("--flood-accounts", type=int, default=500)
    parser.add_argument("--flood-warmup", type=float, default=2.0, help="seconds of flood before SPI is timed")
    args = parser.parse_args()

    env = demo_env(args.database, KAITONG_ALIYUN_ISV_KEY=KEY, KAITONG_PUBLIC_URL="http://127.0.0.1")
    database_ready(args.database, env)
    if args.scenario in ("throughput", "all"):
        throughput(args, env)
    if args.scenario in ("flood", "all"):
        flood(args, env)


if __name__ == "__main__":
    main()
