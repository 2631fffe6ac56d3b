"""Where the SPI create's time goes: CPU per request through each server's WSGI app, no HTTP, same run.

A companion to bench/spi.py (which measures throughput over HTTP): this one calls the two WSGI
applications directly, so gunicorn, wrk and the network drop out and only the per-request CPU of our
code path (Django middleware, view, token, one PostgreSQL statement) vs a bare Django view remains.

    .venv/bin/python bench/spi_cpu.py [--requests 500] [--database postgresql://postgres@127.0.0.1:5432/kaitong_bench]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-isv-key-0123456789abcdef"

CHILD = """
import io, os, sys, time
sys.path.insert(0, {bench!r}); sys.path.insert(0, {root!r})
from bench.spi import signed_paths
app = __import__({module!r}, fromlist=["application"]).application
def environ(path):
    p, q = path.split("?", 1)
    return {{"REQUEST_METHOD": "GET", "PATH_INFO": p, "QUERY_STRING": q, "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000", "wsgi.input": io.BytesIO(b""), "wsgi.url_scheme": "http",
            "HTTP_HOST": "127.0.0.1:8000", "REMOTE_ADDR": "127.0.0.1", "wsgi.errors": sys.stderr}}
paths = signed_paths({n} + 100, start=int(time.time() * 1000), repeat=False)
for p in paths[:100]:
    b"".join(app(environ(p), lambda *a: None))
cpu, wall = time.process_time(), time.perf_counter()
for p in paths[100:]:
    b"".join(app(environ(p), lambda *a: None))
print((time.process_time() - cpu) / {n} * 1000, (time.perf_counter() - wall) / {n} * 1000)
"""


def measure(module: str, *, n: int, env: dict[str, str]) -> tuple[float, float]:
    code = CHILD.format(bench=str(ROOT / "bench"), root=str(ROOT), module=module, n=n)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    cpu, wall = out.stdout.split()
    return float(cpu), float(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/kaitong_bench")
    args = parser.parse_args()
    env = dict(
        os.environ,
        KAITONG_ENV="demo",
        KAITONG_DATABASE_URL=args.database,
        KAITONG_ALIYUN_ISV_KEY=KEY,
        DJANGO_SETTINGS_MODULE="kaitong.config.settings",
    )
    subprocess.run([sys.executable, "-m", "kaitong.cli", "migrate"], env=env, check=True, capture_output=True)
    results: dict[str, list[tuple[float, float]]] = {"ours": [], "bare": []}
    for _ in range(args.runs):
        results["bare"].append(measure("bare_app", n=args.requests, env=env))
        results["ours"].append(measure("kaitong.config.wsgi", n=args.requests, env=env))
    med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for k, v in results.items()}
    print(f"\nSPI createInstance through the WSGI app, {args.requests} requests × {args.runs} runs (medians)")
    print(f"{'':<6} {'CPU ms/req':>10} {'wall ms/req':>11}")
    for name in ("ours", "bare"):
        print(f"{name:<6} {med[name][0]:>10.3f} {med[name][1]:>11.3f}")
    print(f"ours ÷ bare CPU: {med['ours'][0] / med['bare'][0]:.1f}×")


if __name__ == "__main__":
    main()
