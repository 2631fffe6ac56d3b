"""Closing a Beijing day: every workspace's bill, and one pending ledger record per Alibaba instance.

A workspace locked the whole day (its lock countdown ran out: ``kaitong.countdown``), or dissolved before
the day began, gets no bill, and so adds nothing to its instance's record.

``kaitong worker``'s scheduler queues the close when a day has ended (``billing.tasks``); ``kaitong settle``
runs it at once. A closed day is final: closing it again changes nothing and pushes nothing twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from kaitong.billing import domain, queries
from kaitong.billing.bulk import insert_rows
from kaitong.billing.models import (
    ClosedDay,
    DailyBill,
    DailyBillLine,
    MeteringRecord,
)
from kaitong.billing.pushing import PUSH_JOB
from kaitong.countdown import queries as countdown
from kaitong.jobs.actions import enqueue
from kaitong.notices import actions as notices
from kaitong.workspaces.models import Workspace

State = MeteringRecord.State
AGGREGATE_CHUNK = 2000


class DayNotOver(Exception):
    """The day has not ended yet in Beijing time."""


@dataclass(frozen=True)
class CloseResult:
    day: date
    created: bool
    bills: int
    records: int
    total: Decimal


def do_close_day(*, day: date, now: datetime) -> CloseResult:
    """Write every workspace's bill for ``day`` (but those locked all day or dissolved before it) and one
    pending ledger record per Alibaba instance.

    Idempotent: a closed day is never recomputed (a second call, or a concurrent one that loses the
    UNIQUE race, returns what the first wrote). Raises DayNotOver, queries.NoPriceList.
    """
    if day > domain.last_closed_day(now):
        raise DayNotOver(f"{day} has not ended yet in Beijing time")
    existing = ClosedDay.objects.filter(day=day).first()
    if existing is not None:
        return CloseResult(day, False, existing.bills, existing.records, existing.total)
    try:
        return _close_day(day=day, now=now)
    except IntegrityError:
        existing = ClosedDay.objects.get(day=day)
        return CloseResult(day, False, existing.bills, existing.records, existing.total)


def _close_day(*, day: date, now: datetime) -> CloseResult:
    start, end = domain.day_window(day)
    price_list = queries.price_list_for(day)
    table = queries.price_table(price_list)
    with transaction.atomic():
        # The claim on the day comes first, so a concurrent close fails fast on the UNIQUE day.
        closed = ClosedDay.objects.create(day=day, closed_at=now, price_list=price_list)
        workspaces = list(
            Workspace.objects.filter(created_at__lt=end)
            .exclude(countdown.unbilled_workspaces(day))
            .values_list(
                "pk", "settlement", "cloud_account__instance__instance_id", "cloud_account__instance__product_code"
            )
        )
        retention = queries.retention_of()
        usage: dict[int, dict[str, domain.DayUsage]] = {}
        # Aggregated by ranges of workspaces, so that each statement stays short (statement_timeout)
        # and walks the (workspace, item, hour) index, however many workspaces there are.
        ids = sorted(row[0] for row in workspaces)
        for chunk in range(0, len(ids), AGGREGATE_CHUNK):
            low, high = ids[chunk], ids[min(chunk + AGGREGATE_CHUNK, len(ids)) - 1]
            usage |= queries.usage_of_id_range(low=low, high=high, start=start, end=end)

        bills: list[tuple[Any, ...]] = []
        drafts: dict[int, domain.Bill] = {}
        per_instance: dict[str, Decimal] = defaultdict(Decimal)
        products: dict[str, str] = {}
        for workspace_id, settlement, instance_id, product_code in workspaces:
            draft = domain.compute_bill(usage.get(workspace_id, {}), table=table, retention=retention.get(workspace_id))
            alibaba = settlement == Workspace.Settlement.ALIYUN and instance_id
            bills.append(
                (workspace_id, day, draft.total, settlement, instance_id if alibaba else "", price_list.pk, now)
            )
            drafts[workspace_id] = draft
            if alibaba:
                per_instance[instance_id] += draft.total
                products[instance_id] = product_code
        insert_rows(
            DailyBill,
            ["workspace_id", "day", "total", "settlement", "instance_id", "price_list_id", "created_at"],
            bills,
        )
        bill_ids = DailyBill.objects.filter(day=day).values_list("workspace_id", "pk")
        lines = [
            (bill_id, line.item, line.quantity, line.units, line.retention_days, line.price, line.fee)
            for workspace_id, bill_id in bill_ids
            for line in drafts[workspace_id].lines
        ]
        insert_rows(DailyBillLine, ["bill_id", "item", "quantity", "units", "retention_days", "price", "fee"], lines)
        # 高消费预警: items above their workspace's threshold, told once, in this transaction.
        notices.do_alert_high_spend(day=day, now=now)

        # Amount mode: the instance's day in cents. A day with no charge pushes nothing (no record).
        env = settings.ENV
        product_of = {instance_id: products[instance_id] or env.aliyun_product_code for instance_id in per_instance}
        records = [
            (
                instance_id,
                product_of[instance_id],
                day,
                int(start.timestamp()),
                int(end.timestamp()),
                domain.cents(amount),
                env.metering_assit_of(product_of[instance_id]),
                State.PENDING,
                "",
                "",
                "",
                0,
                now,
                now,
            )
            for instance_id, amount in sorted(per_instance.items())
            if domain.cents(amount) > 0
        ]
        insert_rows(
            MeteringRecord,
            [
                "instance_id",
                "product_code",
                "day",
                "start_time",
                "end_time",
                "amount_cents",
                "metering_assit",
                "state",
                "reason",
                "claim_token",
                "request_id",
                "attempts",
                "created_at",
                "updated_at",
            ],
            records,
        )
        total = sum((d.total for d in drafts.values()), Decimal("0.00"))
        closed.bills, closed.records, closed.total = len(bills), len(records), total
        closed.save(update_fields=["bills", "records", "total"])
        if records:
            enqueue(PUSH_JOB)
    return CloseResult(day, True, len(bills), len(records), total)
