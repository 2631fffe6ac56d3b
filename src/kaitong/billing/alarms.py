"""The operator's alarm: ledger records that need a person, flagged in the admin and listed in one email.

A record raises it when the ledger's transition table says so (rejected, unknown: see ``ledger``),
and every record of a day not accepted by 01:30 Beijing the next day raises it at the deadline.
A flagged record stays quiet until an operator reopens it. The push's circuit breaker raises it once
when it opens (``breaker``): pushing has stopped because the Market API does not answer.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from kaitong.billing import domain
from kaitong.billing.models import MeteringRecord
from kaitong.mail.actions import enqueue_email
from kaitong.marketplace.aliyun.spi import BEIJING

log = logging.getLogger(__name__)
ALARM_EMAIL = "billing_alarm"
BREAKER_EMAIL = "billing_breaker"
LISTED = 200  # records named in one email; the rest are counted


def raise_alarm(*, record_ids: list[int], now: datetime, why: str) -> int:
    """Flag the records (admin) and queue one operator email listing them; records already flagged stay quiet.

    Call it inside the transaction of the change that raises it. Returns how many records were flagged.
    """
    fresh = list(
        MeteringRecord.objects.filter(pk__in=record_ids, alarm_at__isnull=True)
        .order_by("day", "instance_id")
        .values_list("pk", "instance_id", "day", "state", "amount_cents", "reason")
    )
    if not fresh:
        return 0
    MeteringRecord.objects.filter(pk__in=[row[0] for row in fresh]).update(alarm_at=now)
    listed = [
        {"instance_id": i, "day": d.isoformat(), "state": s, "amount": str(Decimal(c) / 100), "reason": r}
        for _, i, d, s, c, r in fresh[:LISTED]
    ]
    enqueue_email(
        message_type=ALARM_EMAIL,
        to=settings.ENV.operator_email,
        language="zh-hans",
        context={"why": why, "count": len(fresh), "records": listed, "more": max(0, len(fresh) - LISTED)},
        now=now,
    )
    log.warning("billing alarm (%s): %d metering record(s) need an operator", why, len(fresh))
    return len(fresh)


def do_check_deadline(*, now: datetime) -> int:
    """At 01:30 Beijing, every record of the day before that is not accepted raises the alarm."""
    last = domain.last_closed_day(now)
    cutoff = last if now >= domain.alarm_time(last) else last - timedelta(days=1)
    late = MeteringRecord.objects.filter(day__lte=cutoff, alarm_at__isnull=True).exclude(
        state=MeteringRecord.State.ACCEPTED
    )
    ids = list(late.values_list("pk", flat=True)[:5000])
    if not ids:
        return 0
    with transaction.atomic():
        return raise_alarm(record_ids=ids, now=now, why="deadline")


def raise_breaker_alarm(*, now: datetime, failures: int, reason: str, retry_at: datetime | None, pending: int) -> None:
    """The Market API left ``failures`` requests in a row unanswered and pushing stopped: mail the operator.

    Call it inside the transaction that opens the breaker (once per opening; failed probes stay quiet).
    """
    probe = (retry_at or now).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    enqueue_email(
        message_type=BREAKER_EMAIL,
        to=settings.ENV.operator_email,
        language="zh-hans",
        context={"failures": failures, "reason": reason, "pending": pending, "probe_at": probe},
        now=now,
    )
    log.warning(
        "billing alarm (breaker): %d push(es) in a row went unanswered (%s); pushing stopped, %d record(s) "
        "pending, next probe at %s Beijing time",
        failures,
        reason,
        pending,
        probe,
    )
