"""What the lock countdown costs where time is short: the SPI release that starts it, the duty that locks,
the day's close that leaves locked workspaces out.

On a fresh PostgreSQL database (127.0.0.1), in one process (set-up through the actions, not timed):

- ``release``: one ``releaseInstance`` through the SPI action for an instance settling W workspaces
  (W = 0, 10, 100, 500): each workspace's countdown starts, with its history row and its notice, inside the
  SPI call's transaction. The marketplace waits about 5 s for the answer: the per-workspace cost says
  how many workspaces one instance may settle before that budget is at risk;
- ``lock``: the periodic duty at the lock moment, for those 610 workspaces at once (history row, notice,
  clearing job each), per workspace;
- ``close``: closing a day of 1,390 workspaces (before the others exist), then a day of 2,000 of which the
  610 locked are left out by the countdown's subquery: the same 1,390 bills, so the ratio is the filter's
  cost.

Prints medians of ``--runs`` and ratios. Usage:

    .venv/bin/python bench/countdown.py [--runs 3] [--database postgresql://…/kaitong_bench_countdown]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from common import ROOT, fresh_database

SIZES = (0, 10, 100, 500)
CLOSE_WORKSPACES = 2000


def measure() -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from datetime import UTC, date, datetime, timedelta

    from django.conf import settings
    from tests.support.billing import workspaces
    from tests.support.marketplace import spi_query

    from kaitong.billing import closing
    from kaitong.billing.domain import day_window
    from kaitong.countdown import actions, domain
    from kaitong.marketplace import actions as marketplace
    from kaitong.marketplace.aliyun.instances import scripted

    released_at = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    result: dict[str, float] = {}
    workspaces(CLOSE_WORKSPACES - sum(SIZES), alibaba=False, prefix="plain")
    day = date(2026, 11, 20)
    # A day closed before the countdowns exist (after a first one, so that both closes run warm).
    closing.do_close_day(day=date(2026, 11, 2), now=day_window(date(2026, 11, 2))[1])
    began = time.perf_counter()
    closing.do_close_day(day=date(2026, 11, 3), now=day_window(date(2026, 11, 3))[1])
    result["close, 1390 workspaces (s)"] = time.perf_counter() - began
    for n, size in enumerate(SIZES):
        instance_id = f"9{n:07d}"
        ids = [instance_id] * max(size, 1)
        made = workspaces(max(size, 1), instance_ids=ids, prefix=f"w{n}") if size else []
        if not size:
            from tests.support.billing import open_instances

            open_instances([instance_id])
        assert len(made) == size
        params = {"action": "releaseInstance", "instanceId": instance_id, "isRefund": "false"}
        began = time.perf_counter()
        answer = marketplace.do_receive_spi_call(
            raw_sources=[spi_query(params)],
            now=released_at,
            isv_key=settings.ENV.aliyun_isv_key,
            auth_url="http://bench/sso",
            marketplace=scripted,
            refused_calls_per_day=100,
        )
        result[f"release, {size} workspaces (ms)"] = (time.perf_counter() - began) * 1000
        assert answer.body == {"success": True}, answer.body
    locks_at = domain.lock_moment(released_at)
    began = time.perf_counter()
    report = actions.do_run_countdowns(now=locks_at + timedelta(seconds=5), limit=10_000)
    elapsed = time.perf_counter() - began
    assert len(report.locked) == sum(SIZES)
    result["lock, per workspace (ms)"] = elapsed * 1000 / len(report.locked)
    began = time.perf_counter()
    closing.do_close_day(day=day, now=day_window(day)[1])
    result["close, 2000, 610 locked (s)"] = time.perf_counter() - began
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/kaitong_bench_countdown")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure()))
        return
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update({"KAITONG_ENV": "demo", "KAITONG_DATABASE_URL": args.database})
    samples: dict[str, list[float]] = {}
    for _ in range(args.runs):
        fresh_database(args.database, env)
        child = subprocess.run(
            [sys.executable, __file__, "--child"],
            env=dict(env, DJANGO_SETTINGS_MODULE="kaitong.config.settings"),
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if child.returncode:
            raise SystemExit(child.stderr)
        for name, value in json.loads(child.stdout.splitlines()[-1]).items():
            samples.setdefault(name, []).append(value)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"medians of {args.runs} runs, PostgreSQL at {args.database.rsplit('@', 1)[-1]}")
    for name, value in medians.items():
        print(f"  {name:<32} {value:10.2f}")
    base = medians["release, 0 workspaces (ms)"]
    per = (medians["release, 500 workspaces (ms)"] - base) / 500
    print(
        f"  release: {per:.2f} ms per workspace; {base:.1f} ms without any; 5 s ≈ {int((5000 - base) / per)} workspaces"
    )
    ratio = medians["close, 2000, 610 locked (s)"] / medians["close, 1390 workspaces (s)"]
    print(f"  close, 1,390 bills with 610 locked left out ÷ 1,390 bills alone: {ratio:.2f} ×")


if __name__ == "__main__":
    main()
