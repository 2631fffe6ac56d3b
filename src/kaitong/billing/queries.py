"""Reads for billing: the price table of a day, and primitives for the billing-center pages and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, Max, Q

from kaitong.billing import domain
from kaitong.billing.models import ClosedDay, DailyBill, DailyBillLine, MeteringRecord, PriceItem, PriceList


class NoPriceList(Exception):
    """No price list is in effect on the day asked for."""


def latest_closed_day() -> date | None:
    """The last Beijing day closed into bills (None before the first)."""
    return ClosedDay.objects.order_by("-day").values_list("day", flat=True).first()


def first_price_day() -> date | None:
    """The day the first price list took effect: no day before it can be closed (None: no list yet)."""
    return PriceList.objects.order_by("effective_from").values_list("effective_from", flat=True).first()


def price_list_for(day: date) -> PriceList:
    price_list = PriceList.objects.filter(effective_from__lte=day).order_by("-effective_from").first()
    if price_list is None:
        raise NoPriceList(f"no price list is in effect on {day}")
    return price_list


def price_table(price_list: PriceList) -> domain.PriceTable:
    prices: dict[str, list[domain.Price]] = {}
    for row in PriceItem.objects.filter(price_list=price_list).order_by("item", "retention_days"):
        prices.setdefault(row.item, []).append(
            domain.Price(
                item=row.item,
                unit_size=row.unit_size,
                daily_rule=domain.DailyRule(row.daily_rule),
                retention_days=row.retention_days,
                default_retention=row.default_retention,
                price=row.price,
            )
        )
    return domain.PriceTable(version=price_list.version, prices=prices)


def known_items() -> frozenset[str]:
    """Every item any price list knows: samples may name them (a price decides later whether they cost)."""
    return frozenset(PriceItem.objects.values_list("item", flat=True).distinct())


@dataclass(frozen=True)
class ItemName:
    zh: str
    en: str
    unit_zh: str
    unit_en: str


def item_names() -> dict[str, ItemName]:
    names: dict[str, ItemName] = {}
    for row in PriceItem.objects.order_by("price_list__effective_from").values(
        "item", "name_zh", "name_en", "unit_zh", "unit_en"
    ):
        names[row["item"]] = ItemName(row["name_zh"], row["name_en"], row["unit_zh"], row["unit_en"])
    return names


# --- pages ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BillRow:
    workspace_id: int
    workspace_name: str
    day: date
    total: Decimal
    settlement: str
    instance_id: str
    lines: int


@dataclass(frozen=True)
class LineRow:
    item: str
    name: str
    unit: str
    quantity: Decimal
    units: Decimal
    retention_days: int
    price: Decimal
    fee: Decimal


@dataclass(frozen=True)
class PushRow:
    instance_id: str
    day: date
    amount: Decimal
    state: str
    state_label: str
    reason: str
    attempts: int
    alarm: bool


def bills_for_workspaces(*, workspace_ids: list[int], limit: int = 400) -> list[BillRow]:
    query = (
        DailyBill.objects.filter(workspace_id__in=workspace_ids)
        .select_related("workspace")
        .annotate(line_count=Count("lines"))
        .order_by("-day", "workspace_id")[:limit]
    )
    return [
        BillRow(b.workspace_id, b.workspace.name, b.day, b.total, b.settlement, b.instance_id, b.line_count)
        for b in query
    ]


def bill_lines(*, workspace_id: int, day: date, language: str) -> tuple[BillRow, list[LineRow]] | None:
    bill = DailyBill.objects.filter(workspace_id=workspace_id, day=day).select_related("workspace").first()
    if bill is None:
        return None
    names = item_names()
    english = language.startswith("en")
    rows = []
    for line in DailyBillLine.objects.filter(bill=bill).order_by("item"):
        name = names.get(line.item)
        label = (name.en if english else name.zh) if name else line.item
        unit = (name.unit_en if english else name.unit_zh) if name else ""
        rows.append(
            LineRow(line.item, label, unit, line.quantity, line.units, line.retention_days, line.price, line.fee)
        )
    head = BillRow(bill.workspace_id, bill.workspace.name, bill.day, bill.total, bill.settlement, bill.instance_id, 0)
    return head, rows


def pushes_for_instances(*, instance_ids: list[str], limit: int = 400) -> list[PushRow]:
    labels = dict(MeteringRecord.State.choices)
    query = MeteringRecord.objects.filter(instance_id__in=instance_ids).order_by("-day", "instance_id")[:limit]
    return [
        PushRow(
            r.instance_id,
            r.day,
            Decimal(r.amount_cents) / 100,
            r.state,
            str(labels.get(r.state, r.state)),
            r.reason,
            r.attempts,
            r.alarm_at is not None,
        )
        for r in query
    ]


def ledger_summary(*, day: date) -> dict[str, int]:
    """Records per state for ``day`` (the ``settle`` command's closing line, the benchmarks)."""
    counts = MeteringRecord.objects.filter(day=day).values("state").annotate(n=Count("id"))
    return {row["state"]: row["n"] for row in counts}


def scope_for_user(*, user_id: int) -> tuple[list[int], list[str]]:
    """The workspaces a console account may see bills for (owned, or under its billing-center account),
    and the marketplace instances that settle them or are registered to that account."""
    from kaitong.accounts.models import CloudAccount
    from kaitong.workspaces.models import Workspace

    workspaces = Workspace.objects.filter(Q(owner_id=user_id) | Q(billing_account__console_account_id=user_id))
    workspace_ids = list(workspaces.values_list("pk", flat=True))
    instances = set(
        CloudAccount.objects.filter(billing_account__console_account_id=user_id).values_list(
            "instance__instance_id", flat=True
        )
    )
    instances |= set(
        DailyBill.objects.filter(workspace_id__in=workspace_ids)
        .exclude(instance_id="")
        .values_list("instance_id", flat=True)
    )
    return workspace_ids, sorted(instances)


def all_workspace_ids() -> list[int]:
    from kaitong.workspaces.models import Workspace

    return list(Workspace.objects.order_by("pk").values_list("pk", flat=True))


def in_flight_until() -> datetime | None:
    """The latest lease of a record marked sent without an answer yet (None: nothing in flight)."""
    return MeteringRecord.objects.filter(state=MeteringRecord.State.SENT).aggregate(t=Max("claimed_until"))["t"]
