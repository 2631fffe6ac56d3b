"""What queueing a job costs the change that queues it, next to a plain one-row write, same run.

Three ways, each its own transaction, repeated ``--count`` times on a fresh migrated database:

- ``plain``: one small row written (a ``Throttle`` counter), the floor any write pays;
- ``enqueue``: ``enqueue_email(...)``, what every action that mails calls inside its transaction;
- ``send code``: the whole ``do_send_verification_code`` (three rate-limit counts, the HMAC'd code
  row, its email queued), what a buyer's 发送验证码 costs below the view.

Prints the median microseconds per operation (median of ``--runs``) and the ratios to ``plain``, on
SQLite (a temporary file) and on PostgreSQL (127.0.0.1): wall time, and this process's CPU time (which a
busy shared machine disturbs less; on SQLite it includes the database's own work, on PostgreSQL not).
The API measured is the same before and after the job engine moved to django-tasks, so the script runs
unchanged on either. Usage:

    .venv/bin/python bench/enqueue.py [--count 2000] [--runs 3] [--only sqlite|postgresql]
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

WAYS = ["plain", "enqueue", "send code"]


def measure(count: int) -> dict[str, float]:
    """Microseconds per operation for each way (run in a child process set up for one database)."""
    import django

    django.setup()
    from django.db import transaction
    from django.utils import timezone

    from kaitong.accounts import actions, domain
    from kaitong.accounts.models import Throttle
    from kaitong.mail.actions import enqueue_email

    now = timezone.now()
    context = {"code": "123456", "minutes": 10, "purpose": "register"}

    def plain(n: int) -> None:
        with transaction.atomic():
            Throttle.objects.create(key=f"bench:{n}:{time.monotonic_ns()}", window_start=now, hits=1)

    def enqueue(n: int) -> None:
        with transaction.atomic():
            enqueue_email(
                message_type="verification_code", to=f"b{n}@x.example", language="en", context=context, now=now
            )

    def send_code(n: int) -> None:
        unique = f"{n}-{time.monotonic_ns()}"
        actions.do_send_verification_code(
            email=f"b{unique}@x.example", purpose=domain.Purpose.REGISTER, ip=unique, language="en", now=now
        )

    result = {}
    for name, operation in zip(WAYS, (plain, enqueue, send_code), strict=True):
        for n in range(50):  # warm the connection and the statement caches
            operation(-n - 1)
        began, cpu = time.perf_counter(), time.process_time()
        for n in range(count):
            operation(n)
        result[name] = (time.perf_counter() - began) / count * 1e6
        result[f"{name} cpu"] = (time.process_time() - cpu) / count * 1e6
    return result


def run_on(database: str, *, count: int, runs: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update({"KAITONG_ENV": "test", "KAITONG_DATABASE_URL": database})
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        if database.startswith("postgresql"):
            fresh_database(database, env)
        else:
            Path(database.removeprefix("sqlite:///")).unlink(missing_ok=True)
            migrate(env)
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(count)],
            env=dict(env, DJANGO_SETTINGS_MODULE="kaitong.config.settings"),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        for way, micros in json.loads(child.stdout.splitlines()[-1]).items():
            samples.setdefault(way, []).append(micros)
    return {way: statistics.median(values) for way, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/kaitong_jobs_bench")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return

    import kaitong

    print(f"kaitong from {Path(kaitong.__file__).parent}; {args.count} operations × {args.runs} runs, medians")
    with tempfile.TemporaryDirectory() as scratch:
        databases = {"sqlite": f"sqlite:///{scratch}/bench.sqlite3", "postgresql": args.database}
        for vendor, database in databases.items():
            if args.only and args.only != vendor:
                continue
            figures = run_on(database, count=args.count, runs=args.runs)
            for kind, suffix in (("wall", ""), ("cpu", " cpu")):
                floor = figures["plain" + suffix]
                line = "  ".join(
                    f"{way} {figures[way + suffix]:6.0f} µs ({figures[way + suffix] / floor:4.2f} ×)" for way in WAYS
                )
                print(f"{vendor:<10} {kind:<4} {line}")


if __name__ == "__main__":
    main()
