"""Closing a day at scale and pushing it to the simulator, next to the simulator's own intake rate.

Set-up (not timed): the simulator (``python -m kaitong_sim``, its own SQLite database, deadline check off
because the day is in the past) with ``--instances`` bought instances; a PostgreSQL vendor database
with one Alibaba-settled workspace per instance and a full day of usage: 24 hourly samples × 14 items
(COPied in). Each run then times:

- ``close``: ``do_close_day`` — a bill per workspace and item, one ledger record per instance;
- ``push``: ``push_pending`` through the official SDK — ≤ 100 records per request, one request per
  instance per 60 s, each answer recorded in the ledger;
- ``intake``: a bare loop of the same SDK calls (100 fresh instances' records per request, no ledger)
  — the simulator's own rate, the ceiling for ``push``.

Runs are ≥ 61 s apart (the simulator's rate limit per instance), counted from the end of a push.
Prints medians, records/s, push ÷ intake, and the 100,000-instance extrapolation against the 01:59
deadline. Usage:

    .venv/bin/python bench/settle.py [--instances 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from common import ROOT, fresh_database

from kaitong.billing import price_lists

sys.path.insert(0, str(ROOT))

# The 14 billing items of the price list in effect.
ITEMS = [item["item"] for item in price_lists.read("cn-2023-04")["items"]]
WINDOW_SECONDS = (1 * 60 + 59) * 60  # the day closes at 00:00 Beijing; the marketplace wants it by 01:59


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--intake", type=int, default=2_000, help="fresh instances per run for the bare SDK loop")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2, help="requests in flight at once (push)")
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/kaitong_bench_settle")
    args = parser.parse_args()

    from tests.support.billing_simulator import push_answers, seed_instances
    from tests.support.simulator import start_simulator

    folder = Path(tempfile.mkdtemp(prefix="kaitong-settle-"))
    overrides = {"KAITONG_SIMULATOR_ENFORCE_DEADLINE": "false", "KAITONG_SIMULATOR_RETRY_SECONDS": "86400"}
    with start_simulator(folder, **overrides) as sim:
        began = time.perf_counter()
        ids = seed_instances(sim, args.instances)
        fresh = [seed_instances(sim, args.intake) for _ in range(args.runs)]
        print(
            f"set-up: {args.instances + args.runs * args.intake:,} simulator instances "
            f"in {time.perf_counter() - began:.0f} s",
            flush=True,
        )

        env = {
            "KAITONG_ENV": "test",
            "KAITONG_DATABASE_URL": args.database,
            "KAITONG_ALIYUN_MARKET_ENDPOINT": sim.endpoint,
            "KAITONG_ALIYUN_MARKET_PROTOCOL": "http",
            "KAITONG_ALIYUN_ACCESS_KEY_ID": sim.access_key_id,
            "KAITONG_ALIYUN_ACCESS_KEY_SECRET": sim.access_key_secret,
            "KAITONG_ALIYUN_METERING_ASSIT": sim.metering_assit,
        }
        os.environ.pop("DJANGO_SETTINGS_MODULE", None)
        os.environ.update(env)
        fresh_database(args.database, os.environ.copy())
        os.environ["DJANGO_SETTINGS_MODULE"] = "kaitong.config.settings"
        import django

        django.setup()
        from django.db import connection
        from django.utils import timezone
        from django_tasks_db.models import DBTaskResult
        from tests.support.billing import DAY, after_close, workspaces

        from kaitong.billing import closing, domain, pushing
        from kaitong.billing.client import get_client
        from kaitong.billing.models import ClosedDay, DailyBill, MeteringEvent, MeteringRecord
        from kaitong.marketplace.aliyun.metering import SdkMeteringClient, metering_entry

        began = time.perf_counter()
        pool = workspaces(args.instances, instance_ids=ids)
        start, _ = domain.day_window(DAY)
        received = after_close()
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")  # set-up only: one COPY of millions of rows
            with cursor.cursor.copy(
                "COPY billing_usagesample (workspace_id, item, hour, quantity, received_at) FROM STDIN"
            ) as copy:
                for n, workspace in enumerate(pool):
                    for i, item in enumerate(ITEMS):
                        for h in range(24):
                            copy.write_row(
                                (
                                    workspace.pk,
                                    item,
                                    start + timedelta(hours=h),
                                    (n * 31 + i * 7 + h) % 50_000,
                                    received,
                                )
                            )
            cursor.execute("ANALYZE billing_usagesample")
            cursor.execute("RESET statement_timeout")
        samples = args.instances * len(ITEMS) * 24
        print(
            f"set-up: {len(pool):,} workspaces, {samples:,} samples in {time.perf_counter() - began:.0f} s", flush=True
        )

        client = get_client()
        assert isinstance(client, SdkMeteringClient)
        closes, pushes, intakes = [], [], []
        last_push = 0.0
        for run in range(args.runs):
            for model in (MeteringEvent, MeteringRecord, DailyBill, ClosedDay, DBTaskResult):
                model.objects.all().delete()
            wait = last_push + 61 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            before = push_answers(sim)
            t0 = time.perf_counter()
            result = closing.do_close_day(day=DAY, now=after_close())
            t1 = time.perf_counter()
            report = pushing.push_pending(
                client=client, clock=timezone.now, lease_seconds=120, concurrency=args.concurrency
            )
            t2 = time.perf_counter()
            # The next run pushes the same instances: 61 s after this push *ended*, so that no instance
            # is pushed twice within the marketplace's 60 s, however much faster the next push goes.
            last_push = time.monotonic()
            answers = push_answers(sim)
            refused = {k: v - before.get(k, 0) for k, v in answers.items() if k != "OK" and v != before.get(k, 0)}
            accepted = MeteringRecord.objects.filter(state="accepted").count()
            assert result.records == args.instances and accepted == args.instances and not refused, (
                result,
                accepted,
                refused,
                report,
            )
            closes.append(t1 - t0)
            pushes.append(t2 - t1)

            # The simulator's own intake: the same SDK, the same request size, no ledger.
            s0, e0 = int(start.timestamp()), int(start.timestamp()) + 86400
            batches = [fresh[run][i : i + 100] for i in range(0, len(fresh[run]), 100)]
            bodies = [
                [
                    metering_entry(
                        instance_id=i, start_time=s0, end_time=e0, amount_cents=100, metering_assit=sim.metering_assit
                    )
                    for i in batch
                ]
                for batch in batches
            ]
            t3 = time.perf_counter()
            for body in bodies:
                answer = client.push(metering=body)
                assert answer.outcome.value == "accepted", answer
            intakes.append(len(fresh[run]) / (time.perf_counter() - t3))
            print(
                f"run {run + 1}: close {t1 - t0:.1f} s, push {t2 - t1:.1f} s ({report.requests} requests), "
                f"intake {intakes[-1]:,.0f} records/s",
                flush=True,
            )

    close, push, intake = statistics.median(closes), statistics.median(pushes), statistics.median(intakes)
    rate = args.instances / push
    total = close + push
    scale = 100_000 / args.instances
    projected = total * scale
    print()
    print(
        f"settle: {args.instances:,} Alibaba-settled workspaces × 14 items, PostgreSQL + simulator, "
        f"median of {args.runs} runs"
    )
    print(f"  close the day   {close:7.1f} s   ({args.instances * len(ITEMS) / close:,.0f} bill lines/s)")
    print(
        f"  push            {push:7.1f} s   ({rate:,.0f} records/s, {args.instances // 100} requests, "
        f"{args.concurrency} in flight)"
    )
    print(f"  simulator intake          {intake:,.0f} records/s (bare SDK loop)   push ÷ intake = {rate / intake:.2f}")
    print(f"  wall time       {total:7.1f} s")
    print(
        f"  100,000 instances (linear): {projected:,.0f} s = {projected / 60:.1f} min "
        f"of the {WINDOW_SECONDS // 60} min from 00:00 to 01:59 — {WINDOW_SECONDS / projected:.1f}× inside, "
        f"{(WINDOW_SECONDS - projected) / 60:.0f} min spare"
    )
    print(json.dumps({"close_s": closes, "push_s": pushes, "intake_rps": intakes}))


if __name__ == "__main__":
    main()
