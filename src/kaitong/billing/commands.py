"""``kaitong settle``, ``kaitong usage import`` and ``kaitong usage simulate`` (interface layer)."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from django.utils import timezone

from kaitong.billing import closing, domain, ingest, queries, tasks

CHUNK = domain.MAX_BATCH


class Progress:
    """A one-line progress bar on stderr (redrawn at most ten times a second)."""

    def __init__(self, *, total: int | None, label: str, stream: TextIO | None = None) -> None:
        self.total, self.label, self.done = total, label, 0
        self.stream = stream or sys.stderr
        self._drawn = 0.0
        self._started = time.monotonic()

    def advance(self, count: int) -> None:
        self.done += count
        if time.monotonic() - self._drawn >= 0.1:
            self.draw()

    def draw(self, *, end: str = "") -> None:
        self._drawn = time.monotonic()
        elapsed = max(self._drawn - self._started, 1e-6)
        rate = self.done / elapsed
        if self.total:
            share = min(1.0, self.done / self.total)
            bar = "#" * int(share * 30)
            text = f"\r{self.label} [{bar:<30}] {self.done}/{self.total} {share:4.0%} {rate:,.0f}/s"
        else:
            text = f"\r{self.label} {self.done} {rate:,.0f}/s"
        self.stream.write(text + end)
        self.stream.flush()

    def finish(self) -> None:
        self.draw(end="\n")


# --- settle -----------------------------------------------------------------------------------------


def settle(*, day: str, wait: bool = True) -> None:
    """Close ``day`` (bills + ledger) and push its records now; a second run changes nothing."""
    try:
        parsed = domain.parse_day(day)
        result = closing.do_close_day(day=parsed, now=timezone.now())
    except (ValueError, closing.DayNotOver, queries.NoPriceList) as exc:
        sys.exit(f"kaitong settle: {exc}")
    verb = "closed" if result.created else "already closed"
    print(f"{parsed}: {verb}: {result.bills} bills, total ¥{result.total}, {result.records} marketplace records")
    while True:
        report = tasks.push_now()
        if report.requests:
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items()))
            print(f"pushed {report.requests} request(s): {outcomes}")
        if report.paused_until is not None:
            # The circuit breaker: minutes or hours may pass before the Market API answers; the worker probes.
            at = report.paused_until.astimezone(domain.BEIJING).strftime("%Y-%m-%d %H:%M:%S")
            print(
                f"pushing paused: the Market API did not answer; `kaitong worker` probes it again from {at} "
                "Beijing time, and the rest stays pending until then",
                file=sys.stderr,
            )
            break
        # Records sent by a process that stopped before recording the answer: once their lease ends,
        # the sweep in push_now() calls them unknown (and raises the alarm). Wait for that too.
        moments = [t for t in (report.next_at, queries.in_flight_until()) if t is not None]
        if not moments or not wait:
            break
        pause = (min(moments) - timezone.now()).total_seconds()
        if pause > 0:
            print(f"waiting {pause:.0f} s (one request per instance per 60 s, or a claim to run out)")
            time.sleep(min(pause + 0.05, 65))
    summary = queries.ledger_summary(day=parsed)
    print("ledger: " + (", ".join(f"{k} {v}" for k, v in sorted(summary.items())) or "nothing to push"))
    if summary.get("rejected") or summary.get("unknown"):
        print("some records need an operator: see the ledger in the operator console (/ops/)", file=sys.stderr)
        sys.exit(2)


# --- usage import -----------------------------------------------------------------------------------


def _is_csv(path: Path) -> bool:
    with path.open(encoding="utf-8") as handle:
        first = handle.read(1)
    return path.suffix.lower() == ".csv" or bool(first and first not in "{[ \n\r\t")


def _rows(path: Path) -> Iterator[Any]:
    """Samples from a JSON-lines file, or a CSV with a header workspace,item,hour,quantity."""
    with path.open(encoding="utf-8", newline="") as handle:
        if _is_csv(path):
            for row in csv.DictReader(handle):
                yield {key: value for key, value in row.items() if key is not None}
            return
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line, parse_float=Decimal)
            except ValueError:
                yield None  # reported as "must be an object" at its index


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(buffer.count(b"\n") for buffer in iter(lambda: handle.read(1 << 20), b""))


def import_file(*, path: Path, now: datetime, stream: TextIO | None = None) -> int:
    """Check the whole file first (every error by line), then apply it in batches; returns samples applied.

    Raises ingest.SamplesRejected with indices counted from 0 = first sample (line 2 of a CSV).
    """
    total = _count_lines(path) - (1 if _is_csv(path) else 0)
    known = queries.known_items()
    checked: list[list[tuple[int, str, datetime, Decimal]]] = []
    errors: list[domain.SampleError] = []
    progress = Progress(total=total, label="checking", stream=stream)
    chunk: list[Any] = []
    index = 0

    def check(entries: list[Any], first: int) -> None:
        samples, problems = domain.parse_samples(entries, known_items=known, now=now, first_index=first)
        try:
            checked.append(ingest.check_samples(samples=samples, errors=problems).rows)
        except ingest.SamplesRejected as exc:
            errors.extend(exc.errors)

    for row in _rows(path):
        chunk.append(row)
        if len(chunk) == CHUNK:
            check(chunk, index)
            index += len(chunk)
            progress.advance(len(chunk))
            chunk = []
    if chunk:
        check(chunk, index)
        progress.advance(len(chunk))
    progress.finish()
    if errors:
        raise ingest.SamplesRejected(errors)
    applied = 0
    progress = Progress(total=sum(len(rows) for rows in checked), label="importing", stream=stream)
    for rows in checked:
        applied += ingest.do_ingest_samples(rows=rows, now=now)
        progress.advance(len(rows))
    progress.finish()
    return applied


def usage_import(*, path: str) -> None:
    file = Path(path)
    if not file.is_file():
        sys.exit(f"kaitong usage import: no such file: {path}")
    try:
        applied = import_file(path=file, now=timezone.now())
    except ingest.SamplesRejected as exc:
        for error in exc.errors[:50]:
            where = f"sample {error.index}" if error.index >= 0 else "file"
            print(f"{where}: {error.field} {error.message}".replace("  ", " "), file=sys.stderr)
        more = len(exc.errors) - 50
        if more > 0:
            print(f"… and {more} more", file=sys.stderr)
        sys.exit(f"kaitong usage import: {len(exc.errors)} error(s); nothing was imported")
    print(f"imported {applied} samples")


# --- usage simulate ---------------------------------------------------------------------------------

# A plausible day for a small workspace: (item, typical hourly quantity). Max-rule items are levels
# (how many series, hosts, sessions); sum-rule items are counts per hour.
PLAUSIBLE = {
    "time_series": 4_000,
    "logs": 1_200_000,
    "apm_trace": 300_000,
    "profile": 2_000,
    "rum_pv": 8_000,
    "session_replay": 300,
    "dial_test": 5_000,
    "task_call": 20_000,
    "sms": 2,
    "network_host": 3,
}


def simulated_samples(*, workspace_ids: list[int], day: datetime, until: datetime) -> list[list[Any]]:
    """Hourly samples of ``day`` (Beijing) up to ``until``, deterministic per workspace and day."""
    start, _ = domain.day_window(day.date())
    hours = [start + timedelta(hours=h) for h in range(24) if start + timedelta(hours=h) <= until]
    rows = []
    for workspace_id in workspace_ids:
        seed = hashlib.sha256(f"{workspace_id}:{day.date()}".encode()).digest()
        rng = random.Random(seed)
        scale = rng.uniform(0.3, 3.0)
        for item, typical in PLAUSIBLE.items():
            for hour in hours:
                # Busier in Beijing working hours.
                local = (hour.hour + 8) % 24
                load = 1.4 if 9 <= local <= 18 else 0.6
                quantity = int(typical * scale * load * rng.uniform(0.8, 1.2))
                rows.append([workspace_id, item, hour.strftime("%Y-%m-%dT%H:00:00Z"), quantity])
    return rows


def usage_simulate(*, day: str | None) -> None:
    """Feed plausible usage for every workspace, for ``day`` (default today, Beijing) up to now."""
    now = timezone.now()
    try:
        target = domain.parse_day(day) if day else domain.beijing_day(now)
    except ValueError as exc:
        sys.exit(f"kaitong usage simulate: {exc}")
    workspace_ids = queries.all_workspace_ids()
    if not workspace_ids:
        print("no workspaces yet: nothing to simulate")
        return
    moment = datetime.combine(target, datetime.min.time())
    rows = simulated_samples(workspace_ids=workspace_ids, day=moment, until=now)
    samples = [{"workspace": w, "item": i, "hour": h, "quantity": q} for w, i, h, q in rows]
    progress = Progress(total=len(samples), label="simulating")
    applied = 0
    try:
        for offset in range(0, len(samples), CHUNK):
            batch = samples[offset : offset + CHUNK]
            applied += ingest.ingest_batch(raw=batch, now=now, first_index=offset)
            progress.advance(len(batch))
    except ingest.SamplesRejected as exc:
        progress.finish()
        first = exc.errors[0]
        sys.exit(f"kaitong usage simulate: {first.field} {first.message} (and {len(exc.errors) - 1} more)")
    progress.finish()
    print(f"{applied} samples for {len(workspace_ids)} workspace(s) on {target}")
