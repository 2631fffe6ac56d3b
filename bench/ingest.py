"""Usage ingest throughput: the HTTP API and ``kaitong usage import`` next to a plain COPY, same run.

One PostgreSQL database, one table (``billing_usagesample``), the same rows each time (a Beijing day
of 24 hourly samples × 14 items for ``--workspaces`` workspaces), the table emptied before each way:

- ``api``: ``POST /api/v1/usage/samples`` in batches of 10,000 to ``kaitong serve`` (gunicorn, one
  client connection, batches sent one after another), validated as a whole and upserted;
- ``import``: ``kaitong usage import FILE`` on a JSON-lines file, process start-up included;
- ``copy``: psycopg ``COPY`` of the already-resolved rows into the same table (the floor).

Prints samples/s per way (median of ``--runs``) and the ratios to COPY. Usage:

    .venv/bin/python bench/ingest.py [--workspaces 150] [--runs 3]
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
from datetime import timedelta
from pathlib import Path

from common import ROOT, free_port, fresh_database, wait_up

from kaitong.billing import price_lists

# The 14 billing items of the price list in effect.
ITEMS = [item["item"] for item in price_lists.read("cn-2023-04")["items"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspaces", type=int, default=150)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/kaitong_bench_ingest")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update({"KAITONG_ENV": "test", "KAITONG_DATABASE_URL": args.database})
    os.environ.update(env)
    python = sys.executable
    fresh_database(args.database, env)

    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "kaitong.config.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from tests.support.billing import DAY, after_close, workspaces

    from kaitong.billing import domain

    pool = workspaces(args.workspaces, alibaba=False)
    start, _ = domain.day_window(DAY)
    hours = [start + timedelta(hours=h) for h in range(24)]
    samples = [
        {"workspace": w.pk, "item": item, "hour": h.strftime("%Y-%m-%dT%H:00:00Z"), "quantity": (n * 7 + i) % 100_000}
        for n, w in enumerate(pool)
        for i, item in enumerate(ITEMS)
        for h in hours
    ]
    count = len(samples)
    received = after_close()
    every_hour = hours * (count // 24)
    rows = [(s["workspace"], s["item"], h, s["quantity"], received) for s, h in zip(samples, every_hour, strict=True)]
    bodies = [json.dumps(samples[i : i + 10_000]).encode() for i in range(0, count, 10_000)]
    folder = Path(tempfile.mkdtemp(prefix="kaitong-ingest-"))
    jsonl = folder / "usage.jsonl"
    jsonl.write_text("\n".join(json.dumps(s) for s in samples) + "\n")

    port = free_port()
    server = subprocess.Popen(
        [python, "-m", "kaitong.cli", "serve", "--port", str(port), "--workers", "2", "--threads", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    token = settings.ENV.usage_api_token

    def empty() -> None:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE billing_usagesample")

    def via_api() -> float:
        import httpx

        with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
            began = time.perf_counter()
            for body in bodies:
                response = client.post(
                    f"http://127.0.0.1:{port}/api/v1/usage/samples",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                response.raise_for_status()
            return time.perf_counter() - began

    def via_import() -> float:
        began = time.perf_counter()
        subprocess.run(
            [python, "-m", "kaitong.cli", "usage", "import", str(jsonl)],
            env=env,
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        return time.perf_counter() - began

    def via_copy() -> float:
        raw = connection.connection
        began = time.perf_counter()
        with (
            raw.cursor() as cursor,
            cursor.copy(
                "COPY billing_usagesample (workspace_id, item, hour, quantity, received_at) FROM STDIN"
            ) as copy,
        ):
            for row in rows:
                copy.write_row(row)
        raw.commit()
        return time.perf_counter() - began

    try:
        wait_up(f"http://127.0.0.1:{port}/healthz")
        ways = {"api": via_api, "import": via_import, "copy": via_copy}
        seconds: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(args.runs):
            for way, run in ways.items():
                empty()
                seconds[way].append(run())
                with connection.cursor() as cursor:
                    cursor.execute("SELECT COUNT(*) FROM billing_usagesample")
                    assert cursor.fetchone()[0] == count, way
    finally:
        server.terminate()
        server.wait(timeout=20)

    rate = {way: count / statistics.median(values) for way, values in seconds.items()}
    print(
        f"ingest: {count:,} samples ({args.workspaces} workspaces × 14 items × 24 h), PostgreSQL, "
        f"median of {args.runs} runs"
    )
    for way in ("api", "import", "copy"):
        spread = ", ".join(f"{count / s:,.0f}" for s in seconds[way])
        print(f"  {way:<7} {rate[way]:>10,.0f} samples/s   ÷ copy = {rate[way] / rate['copy']:.3f}   (runs: {spread})")


if __name__ == "__main__":
    main()
