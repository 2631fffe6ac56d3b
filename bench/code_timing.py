"""Does the time of 获取验证码 on 绑定观测云企业账号 tell whether the username and the email belong together?

The in-page request (htmx) through the whole Django stack, in process (no network: the most an
outsider could ever resolve), for the account's own address and for an outsider's, interleaved, same
run, on SQLite (a temporary file) and PostgreSQL (127.0.0.1). A third way is what the request would cost
if a withheld code skipped queueing its (mail-nobody) task, the gap that twin task closes. Each
request uses a fresh username/address pair and client address, so no cooldown or cap is met.

Prints, per database, the median microseconds of each way, the difference of the medians to the
account's own, and the spread (interquartile range) of the account's own requests. Usage:

    .venv/bin/python bench/code_timing.py [--count 300] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, fresh_database, migrate

WAYS = ["matching", "outsider", "outsider, no twin task"]


def measure(count: int) -> dict[str, list[float]]:
    """Microseconds of each request, by way (run in a child process set up for one database)."""
    import secrets

    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.test import Client
    from django.utils import timezone
    from tests.support.activation import verify_url
    from tests.support.marketplace import call_spi, create_params

    from kaitong.accounts import actions as account_actions

    client = Client()
    call_spi(client, create_params("990001"))
    assert client.get(verify_url("990001")).status_code == 302
    password = make_password("bench-password-not-used-2026")
    for n in range(count):
        account_actions.do_register_verified_console_account(
            username=f"bench{n}",
            password_hash=password,
            email=f"bench{n}@x.example",
            enterprise_name="",
            now=timezone.now(),
        )

    import kaitong.accounts.actions as module

    real_enqueue = module.enqueue_email

    def skip_withheld(**kwargs):  # type: ignore[no-untyped-def]
        if kwargs.get("deliver", True):
            real_enqueue(**kwargs)

    def send(n: int, way: str) -> float:
        email = f"bench{n}@x.example" if way == "matching" else f"outsider{n}-{way[-4:]}@y.example"
        data = {"op": "send_code", "username": f"bench{n}", "email": email, "form_token": secrets.token_urlsafe(24)}
        module.enqueue_email = skip_withheld if way == "outsider, no twin task" else real_enqueue
        began = time.perf_counter()
        answer = client.post(
            "/activate/bind/", data, HTTP_HX_REQUEST="true", REMOTE_ADDR=f"10.{way[0] == 'o'}.{n // 250}.{n % 250}"
        )
        took = (time.perf_counter() - began) * 1e6
        assert answer.status_code == 200, answer.content
        return took

    for n in range(20):  # warm the connection, the templates and the statement caches
        send(count - 1 - n, "matching")
    samples: dict[str, list[float]] = {way: [] for way in WAYS}
    for n in range(count - 20):
        for way in WAYS[n % 3 :] + WAYS[: n % 3]:  # each way first in turn
            samples[way].append(send(n, way))
    module.enqueue_email = real_enqueue
    return samples


def run_on(database: str, *, count: int) -> dict[str, list[float]]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update({"KAITONG_ENV": "test", "KAITONG_DATABASE_URL": database})
    if database.startswith("postgresql"):
        fresh_database(database, env)
    else:
        Path(database.removeprefix("sqlite:///")).unlink(missing_ok=True)
        migrate(env)
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(count)],
        env=dict(env, DJANGO_SETTINGS_MODULE="tests.settings", PYTHONPATH=str(ROOT)),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if child.returncode:
        raise SystemExit(child.stderr[-3000:])
    return json.loads(child.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/kaitong_code_timing_bench")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    print(f"{args.count - 20} requests of each way, interleaved; medians, µs")
    with tempfile.TemporaryDirectory() as scratch:
        databases = {"sqlite": f"sqlite:///{scratch}/bench.sqlite3", "postgresql": args.database}
        for vendor, database in databases.items():
            if args.only and args.only != vendor:
                continue
            samples = run_on(database, count=args.count)
            base = statistics.median(samples["matching"])
            quartiles = statistics.quantiles(samples["matching"], n=4)
            line = "  ".join(
                f"{way} {statistics.median(samples[way]):7.0f} ({statistics.median(samples[way]) - base:+5.0f})"
                for way in WAYS
            )
            print(f"{vendor:<10} {line}  | matching's IQR {quartiles[2] - quartiles[0]:5.0f}")


if __name__ == "__main__":
    main()
