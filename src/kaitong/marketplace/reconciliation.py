"""Reconciliation with the marketplace: every instance's state and expiry, as DescribeInstanceForIsv tells them.

Our record of an instance is built from SPI calls; the marketplace's is the truth they report. They can
drift apart: a call the marketplace gave up delivering, a call applied while the marketplace could not
confirm it (``actions``, flagged ``unreconciled_since``), a replay applied before confirmation existed.
A periodic duty (``tasks.py``) asks about flagged instances first, then every instance not released,
each again after ``KAITONG_RECONCILE_INTERVAL_HOURS``, at most ``KAITONG_RECONCILE_CALLS_PER_SECOND``
calls a second (the Market API limits callers, and the SPI's own confirmations share the allowance).

- Both sides agree: the flag, its note and any alarm are cleared.
- They differ (or the marketplace has no such instance): the instance is flagged with what differs, and
  the first time, the operator's alarm is raised: an email listing the instances and a filter in the
  admin (``/ops/marketplace/marketplaceinstance/``). Nothing is changed to match: the operator decides.
- The marketplace cannot be asked (no answer, flow control, a refused AccessKey): the run stops there,
  writes nothing more, and the next run tries again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from kaitong.mail.actions import enqueue_email
from kaitong.marketplace import domain, queries
from kaitong.marketplace.aliyun.instances import Failure, InstanceLookup, LookupFailed
from kaitong.marketplace.models import MarketplaceInstance

log = logging.getLogger(__name__)
ALARM_EMAIL = "instance_drift"
LISTED = 200  # instances named in one email; the rest are counted
NOT_AT_MARKETPLACE = "the marketplace has no such instance"
# One run stays well inside the job lease and the duty's one-minute slot.
RUN_SECONDS = 30.0


@dataclass
class ReconcileReport:
    checked: int = 0
    agreed: int = 0
    # instance id → what differs, for every instance found differing in this run
    differences: dict[str, tuple[str, ...]] = field(default_factory=dict)
    alarmed: int = 0
    stopped: str = ""  # why the run ended early ("" when it went through its list)


class Pacer:
    """At most ``per_second`` calls a second: ``wait()`` before each call sleeps as long as needed."""

    def __init__(
        self,
        per_second: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._gap = 1.0 / per_second
        self._monotonic = monotonic
        self._sleep = sleep
        self._next: float | None = None

    def wait(self) -> None:
        now = self._monotonic()
        if self._next is not None and now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._gap


def do_reconcile(
    *,
    marketplace: InstanceLookup,
    clock: Callable[[], datetime],
    calls_per_second: float,
    interval: timedelta,
    run_seconds: float = RUN_SECONDS,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReconcileReport:
    """Ask the marketplace about the instances due, record what it says, raise the alarm on a difference.

    No transaction is open while the marketplace is asked; each answer is recorded in its own.
    """
    report = ReconcileReport()
    started = monotonic()
    limit = max(1, int(calls_per_second * run_seconds))
    pacer = Pacer(calls_per_second, monotonic=monotonic, sleep=sleep)
    for instance_id in queries.instances_to_reconcile(checked_before=clock() - interval, limit=limit):
        if monotonic() - started >= run_seconds:
            report.stopped = f"the run's {run_seconds:g} s are up"
            break
        pacer.wait()
        asked_at = clock()
        try:
            view: domain.MarketView | None = marketplace.describe(instance_id)
        except LookupFailed as exc:
            if exc.failure is not Failure.UNKNOWN_INSTANCE:
                report.stopped = f"the marketplace cannot be asked: {exc}"
                log.warning("reconciliation stopped after %d instance(s): %s", report.checked, report.stopped)
                break
            view = None
        found = _record(instance_id, view, asked_at=asked_at, now=clock())
        if found is None:
            continue
        report.checked += 1
        if found:
            report.differences[instance_id] = found
        else:
            report.agreed += 1
    if report.differences:
        report.alarmed = _raise_alarm(report.differences, now=clock())
    return report


def _record(
    instance_id: str, view: domain.MarketView | None, *, asked_at: datetime, now: datetime
) -> tuple[str, ...] | None:
    """Compare and write down one answer; return the differences (none: they agree), or None when the
    instance changed since the question (an SPI call came meanwhile): it is asked again next run."""
    with transaction.atomic():
        instance = MarketplaceInstance.objects.select_for_update().filter(instance_id=instance_id).first()
        if instance is None or instance.updated_at > asked_at:
            return None
        found = domain.differences(instance.as_domain(), view) if view is not None else (NOT_AT_MARKETPLACE,)
        instance.reconciled_at = now
        if found:
            instance.unreconciled_since = instance.unreconciled_since or now
            instance.reconcile_note = "; ".join(found)[:255]
        else:
            instance.unreconciled_since = None
            instance.reconcile_note = ""
            instance.drift_alarm_at = None
        instance.save(update_fields=["reconciled_at", "unreconciled_since", "reconcile_note", "drift_alarm_at"])
    return found


def _raise_alarm(differences: dict[str, tuple[str, ...]], *, now: datetime) -> int:
    """Flag the instances not yet alarmed and queue one operator email listing them; return how many.

    An instance already alarmed stays quiet until it agrees again (which clears its alarm)."""
    with transaction.atomic():
        fresh = sorted(
            MarketplaceInstance.objects.select_for_update()
            .filter(instance_id__in=list(differences), drift_alarm_at__isnull=True, unreconciled_since__isnull=False)
            .values_list("instance_id", flat=True)
        )
        if not fresh:
            return 0
        MarketplaceInstance.objects.filter(instance_id__in=fresh).update(drift_alarm_at=now)
        listed = [{"instance_id": i, "differences": list(differences[i])} for i in fresh[:LISTED]]
        enqueue_email(
            message_type=ALARM_EMAIL,
            to=settings.ENV.operator_email,
            language="zh-hans",
            context={"count": len(fresh), "instances": listed, "more": max(0, len(fresh) - LISTED)},
            now=now,
        )
    log.warning("marketplace alarm: %d instance(s) differ from the marketplace", len(fresh))
    return len(fresh)
