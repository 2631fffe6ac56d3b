"""Where the SPI create's time goes: CPU per request through each server's WSGI app, no HTTP, same run.

A companion to bench/spi.py (which measures throughput over HTTP): this one calls the two WSGI
applications directly, so gunicorn, wrk and the network drop out and only the per-request CPU of our
code path (Django middleware, view, token, one PostgreSQL statement) vs a bare Django view remains.

    .venv/bin/python bench/spi_cpu.py [--requests 2000] [--database postgresql://postgres@127.0.0.1:5432/kaitong_bench]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from common import ROOT, database_ready, demo_env
from spi import KEY

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
from django.db import connection
backend = connection.connection.info.backend_pid if connection.vendor == "postgresql" else None
def server_cpu():
    # The PostgreSQL backend serving this process's connection runs on this machine: read its CPU.
    if backend is None:
        return 0.0
    fields = open(f"/proc/{{backend}}/stat").read().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
pg, cpu, wall = server_cpu(), time.process_time(), time.perf_counter()
for p in paths[100:]:
    b"".join(app(environ(p), lambda *a: None))
cpu, wall, pg = time.process_time() - cpu, time.perf_counter() - wall, server_cpu() - pg
same = backend is None or connection.connection.info.backend_pid == backend
print(cpu / {n} * 1000, wall / {n} * 1000, pg / {n} * 1000 if same else float("nan"))
"""


def measure(module: str, *, n: int, env: dict[str, str]) -> tuple[float, float, float]:
    code = CHILD.format(bench=str(ROOT / "bench"), root=str(ROOT), module=module, n=n)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    cpu, wall, server = out.stdout.split()
    return float(cpu), float(wall), float(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/kaitong_bench")
    args = parser.parse_args()
    env = demo_env(args.database, KAITONG_ALIYUN_ISV_KEY=KEY, DJANGO_SETTINGS_MODULE="kaitong.config.settings")
    database_ready(args.database, env)
    results: dict[str, list[tuple[float, float, float]]] = {"ours": [], "bare": []}
    for _ in range(args.runs):
        results["bare"].append(measure("bare_app", n=args.requests, env=env))
        results["ours"].append(measure("kaitong.config.wsgi", n=args.requests, env=env))
    med = {k: [statistics.median(r[i] for r in v) for i in range(3)] for k, v in results.items()}
    print(f"\nSPI createInstance through the WSGI app, {args.requests} requests × {args.runs} runs (medians)")
    print(f"{'':<6} {'CPU ms/req':>10} {'wall ms/req':>11} {'PostgreSQL CPU ms/req':>21}")
    for name in ("ours", "bare"):
        print(f"{name:<6} {med[name][0]:>10.3f} {med[name][1]:>11.3f} {med[name][2]:>21.3f}")
    print(f"ours ÷ bare CPU: {med['ours'][0] / med['bare'][0]:.1f}×")


if __name__ == "__main__":
    main()
