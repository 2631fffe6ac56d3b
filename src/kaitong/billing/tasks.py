"""Worker side of billing: its tasks (close the days that ended, push the ledger, watch it) and their
periodic duties.

This is an interface layer: it reads the clock and the configuration, and calls the actions.
"""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from kaitong.billing import alarms, closing, domain, pushing, queries
from kaitong.billing.client import get_client
from kaitong.jobs import scheduler
from kaitong.jobs.domain import every
from kaitong.jobs.framework import task
from kaitong.jobs.retries import RetryLater

FAULT_VARIABLE = "KAITONG_BILLING_FAULT"
CATCH_UP_DAYS = 7


def fault_step(name: str) -> None:
    """Fault injection for the crash tests: SIGKILL this process at the step named in KAITONG_BILLING_FAULT."""
    if os.environ.get(FAULT_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def push_concurrency() -> int:
    """Requests in flight at once: KAITONG_METERING_CONCURRENCY on PostgreSQL; one on SQLite (one writer)."""
    return 1 if connection.vendor == "sqlite" else settings.ENV.metering_concurrency


def push_now() -> pushing.PushReport:
    """Sweep stale sends, then push everything that may go now, with the configured client."""
    pushing.do_sweep_stale_sent(now=timezone.now())
    return pushing.push_pending(
        client=get_client(),
        clock=timezone.now,
        lease_seconds=settings.ENV.metering_lease_seconds,
        step=fault_step,
        concurrency=push_concurrency(),
    )


MIN_PUSH_REQUEUE = timedelta(seconds=1)


@task()
def push_metering() -> dict[str, Any]:
    """Push what may go now; while records remain (the 60 s rule, another process's lease, the circuit
    breaker's pause), the same task comes back when the earliest of them may go (the breaker: its probe)."""
    report = push_now()
    outcomes = dict(report.outcomes)
    if report.next_at is not None:
        why = (
            "the Market API does not answer: paused, then one probe" if report.paused_until else "records still pending"
        )
        # Records that are free yet could not be claimed (another transaction holds their rows) give
        # next_at = now; without a floor the task would queue itself again and again within the second.
        at = max(report.next_at, timezone.now() + MIN_PUSH_REQUEUE)
        raise RetryLater(f"{report.requests} request(s) {outcomes}; {why}", at=at)
    return {"requests": report.requests, "outcomes": outcomes}


@task()
def close_days(slot: str) -> list[str]:
    """Close the Beijing day ``slot`` names, and the days missed before it (an outage), up to a week back.

    Idempotent: a closed day is never recomputed.
    """
    day = domain.parse_day(slot)
    latest = queries.latest_closed_day()
    first = day if latest is None else max(latest + timedelta(days=1), day - timedelta(days=CATCH_UP_DAYS - 1))
    closed = []
    while first <= day:
        closing.do_close_day(day=first, now=timezone.now())
        closed.append(first.isoformat())
        first += timedelta(days=1)
    return closed


@task()
def watch_ledger(slot: str) -> None:
    """Unknown fates and missed deadlines raise the alarm."""
    now = timezone.now()
    pushing.do_sweep_stale_sent(now=now)
    alarms.do_check_deadline(now=now)


# A new slot when a Beijing day ends (00:00): its close is queued once.
scheduler.register("billing.close_days", task=close_days, slot=lambda now: domain.last_closed_day(now).isoformat())
# Every minute, so that the 01:30 deadline alarm is at most a minute late.
scheduler.register("billing.watch_ledger", task=watch_ledger, slot=every(timedelta(minutes=1)))
