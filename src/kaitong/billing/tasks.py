"""Worker side of billing: the outbox handlers and the periodic duties ``kaitong worker`` runs each loop.

This is an interface layer: it reads the clock and the configuration, and calls the actions.
"""

from __future__ import annotations

import os
import signal
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from kaitong.billing import actions, domain
from kaitong.billing.client import get_client
from kaitong.billing.models import ClosedDay
from kaitong.outbox.actions import RetryLater, handler, periodic

FAULT_VARIABLE = "KAITONG_BILLING_FAULT"


def fault_step(name: str) -> None:
    """Fault injection for the crash tests: SIGKILL this process at the step named in KAITONG_BILLING_FAULT."""
    if os.environ.get(FAULT_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def push_concurrency() -> int:
    """Requests in flight at once: KAITONG_METERING_CONCURRENCY on PostgreSQL; one on SQLite (one writer)."""
    return 1 if connection.vendor == "sqlite" else settings.ENV.metering_concurrency


def push_now() -> actions.PushReport:
    """Sweep stale sends, then push everything that may go now, with the configured client."""
    actions.do_sweep_stale_sent(now=timezone.now())
    return actions.push_pending(
        client=get_client(),
        clock=timezone.now,
        lease_seconds=settings.ENV.metering_lease_seconds,
        step=fault_step,
        concurrency=push_concurrency(),
    )


@handler(actions.CLOSE_DAY_JOB)
def close_day(payload: dict[str, Any], now: datetime) -> None:
    actions.do_close_day(day=domain.parse_day(payload["day"]), now=now)


@handler(actions.PUSH_JOB)
def push(payload: dict[str, Any], now: datetime) -> None:
    report = push_now()
    if report.next_at is not None:
        # Records remain (rate limit, someone else's lease): this same job comes back when they may go.
        raise RetryLater("records still pending", at=report.next_at)


CATCH_UP_DAYS = 7


@periodic
def schedule_close(now: datetime) -> None:
    """When a Beijing day has ended, queue its close once (the dedup key makes repeats no-ops).

    After an outage the days missed since the last closed one are queued too (up to a week back).
    """
    day = domain.last_closed_day(now)
    latest = ClosedDay.objects.order_by("-day").values_list("day", flat=True).first()
    if latest == day:
        return
    first = day if latest is None else max(latest + timedelta(days=1), day - timedelta(days=CATCH_UP_DAYS - 1))
    while first <= day:
        actions.enqueue_close_day(day=first, now=now)
        first += timedelta(days=1)


@periodic
def watch_ledger(now: datetime) -> None:
    """Unknown fates and missed deadlines raise the alarm."""
    actions.do_sweep_stale_sent(now=now)
    actions.do_check_deadline(now=now)
