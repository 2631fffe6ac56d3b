"""Is this process fit to take traffic (``/readyz``), and the numbers ``/metrics`` reads from the database.

Liveness (``/healthz``) asks nothing of the database: a process whose database is down is still alive,
and restarting it would not bring the database back. Readiness asks the database for a write, within
a short wait, and asks the task queue how long its oldest due task has waited for a worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connections, transaction
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kaitong.billing import domain as billing_rules
from kaitong.billing import queries as billing_queries
from kaitong.jobs import queries as job_queries

# /readyz waits at most this long for SQLite's write lock (PostgreSQL: its connect_timeout).
PROBE_WAIT_SECONDS = 1.0


def probe_database(*, wait_seconds: float = PROBE_WAIT_SECONDS) -> None:
    """Raise DatabaseError unless the database takes a write transaction within ``wait_seconds``.

    SQLite's readers never wait (WAL): only a write finds out that another process holds the lock, so
    the probe opens a write transaction (BEGIN IMMEDIATE) with a busy timeout of its own.
    """
    connection = connections["default"]
    connection.ensure_connection()
    if connection.vendor != "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return
    usual = connection.settings_dict["OPTIONS"].get("timeout", 5)
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA busy_timeout = {round(wait_seconds * 1000)}")
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {round(usual * 1000)}")


@dataclass(frozen=True)
class Readiness:
    ready: bool
    body: dict[str, Any]


def readiness(*, now: datetime, max_queue_age_seconds: int) -> Readiness:
    """Ready when the database takes a write and, unless ``max_queue_age_seconds`` is 0, no due task has
    waited longer than that for a worker (no worker running, or too few)."""
    try:
        probe_database()
    except DatabaseError as error:
        return Readiness(False, {"ready": False, "database": f"unavailable ({type(error).__name__})"})
    body: dict[str, Any] = {"ready": True, "database": "ok"}
    if max_queue_age_seconds:
        try:
            queue = job_queries.queue_state(now=now)
        except DatabaseError as error:
            return Readiness(False, {"ready": False, "database": f"unavailable ({type(error).__name__})"})
        late = queue.oldest_due_seconds > max_queue_age_seconds
        body["queue"] = {
            "due": queue.due,
            "oldest_due_seconds": round(queue.oldest_due_seconds, 1),
            "limit_seconds": max_queue_age_seconds,
        }
        if late:
            body["ready"] = False
    return Readiness(body["ready"], body)


class DatabaseGauges(Collector):
    """Numbers of state, read from the database when /metrics is scraped (so every process agrees).

    A database that does not answer is reported as ``kaitong_database_up 0``; the scrape itself still
    succeeds with the counters.
    """

    def __init__(self, *, now: datetime) -> None:
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("kaitong_database_up", "1 when the database answered this scrape's queries.")
        try:
            families = list(self._read())
        except DatabaseError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> Iterator[GaugeMetricFamily]:
        queue = job_queries.queue_state(now=self.now)
        tasks = GaugeMetricFamily(
            "kaitong_jobs_tasks", "Task rows by status (finished ones until pruned).", labels=["status"]
        )
        for status, count in sorted(queue.by_status.items()):
            tasks.add_metric([status.lower()], count)
        yield tasks
        due = GaugeMetricFamily("kaitong_jobs_due_tasks", "Tasks due now and waiting for a worker.")
        due.add_metric([], queue.due)
        yield due
        oldest = GaugeMetricFamily(
            "kaitong_jobs_oldest_due_seconds", "How long the oldest due task has waited for a worker (0: none)."
        )
        oldest.add_metric([], queue.oldest_due_seconds)
        yield oldest

        ledger = GaugeMetricFamily(
            "kaitong_ledger_records",
            "Metering records not (yet) accepted, by state, over every day (accepted records are final).",
            labels=["state"],
        )
        for state, count in billing_queries.unfinished_ledger_counts().items():
            ledger.add_metric([state], count)
        yield ledger

        deadline = billing_rules.alarm_time(billing_rules.last_closed_day(self.now))
        left = GaugeMetricFamily(
            "kaitong_push_deadline_seconds",
            "Seconds until 01:30 Beijing, when the day being pushed must be accepted or the alarm fires "
            "(negative once past, until the next day closes at 00:00).",
        )
        left.add_metric([], (deadline - self.now).total_seconds())
        yield left
