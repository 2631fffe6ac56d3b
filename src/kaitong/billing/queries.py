"""Reads for billing: the price table of a day, and primitives for the billing-center pages and the API."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Max, Q, QuerySet, Sum

from kaitong.billing import domain, formatting, overview
from kaitong.billing.models import (
    ClosedDay,
    DailyBill,
    DailyBillLine,
    MeteringRecord,
    PriceItem,
    PriceList,
    RetentionSetting,
    UsageSample,
)


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


def usage_of_id_range(*, low: int, high: int, start: datetime, end: datetime) -> dict[int, dict[str, domain.DayUsage]]:
    """Per workspace and item, the peak and the sum of the samples in ``[start, end)`` of the workspaces
    with ids ``low`` to ``high`` (closing walks all workspaces in such ranges: the (workspace, item,
    hour) index serves it, and each statement stays short)."""
    return _day_usage(
        UsageSample.objects.filter(workspace_id__gte=low, workspace_id__lte=high, hour__gte=start, hour__lt=end)
    )


def usage_of_workspaces(
    *, workspace_ids: Iterable[int], start: datetime, end: datetime
) -> dict[int, dict[str, domain.DayUsage]]:
    """Per workspace and item, the peak and the sum of the samples in ``[start, end)`` of these workspaces."""
    return _day_usage(UsageSample.objects.filter(workspace_id__in=list(workspace_ids), hour__gte=start, hour__lt=end))


def _day_usage(samples: QuerySet[UsageSample]) -> dict[int, dict[str, domain.DayUsage]]:
    usage: dict[int, dict[str, domain.DayUsage]] = defaultdict(dict)
    aggregates = (
        samples.values("workspace_id", "item")
        .annotate(peak=Max("quantity"), total=Sum("quantity"))
        .values_list("workspace_id", "item", "peak", "total")
    )
    for workspace_id, item, peak, total in aggregates:
        usage[workspace_id][item] = domain.DayUsage(Decimal(peak), Decimal(total))
    return usage


def retention_of(*, workspace_ids: Iterable[int] | None = None) -> dict[int, dict[str, int]]:
    """Each workspace's chosen retention per item (all workspaces when ``workspace_ids`` is None)."""
    settings = RetentionSetting.objects.all()
    if workspace_ids is not None:
        settings = settings.filter(workspace_id__in=list(workspace_ids))
    retention: dict[int, dict[str, int]] = defaultdict(dict)
    for workspace_id, item, days in settings.values_list("workspace_id", "item", "retention_days"):
        retention[workspace_id][item] = days
    return retention


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


@dataclass(frozen=True)
class BillDetail:
    head: BillRow
    lines: list[LineRow]
    price_list_version: str
    price_decimals: int  # every price of the bill's price list is written with this many decimals


def _line_row(line: DailyBillLine | domain.BillLine, *, names: dict[str, ItemName], english: bool) -> LineRow:
    """A bill's (or an estimate's) line, its item named in the page's language (its code when no price
    list names it)."""
    name = names.get(line.item)
    label, unit = (line.item, "") if name is None else (name.en, name.unit_en) if english else (name.zh, name.unit_zh)
    return LineRow(line.item, label, unit, line.quantity, line.units, line.retention_days, line.price, line.fee)


def bill_detail(*, workspace_id: int, day: date, language: str) -> BillDetail | None:
    bill = (
        DailyBill.objects.filter(workspace_id=workspace_id, day=day).select_related("workspace", "price_list").first()
    )
    if bill is None:
        return None
    names = item_names()
    english = language.startswith("en")
    rows = [
        _line_row(line, names=names, english=english)
        for line in DailyBillLine.objects.filter(bill=bill).order_by("item")
    ]
    head = BillRow(bill.workspace_id, bill.workspace.name, bill.day, bill.total, bill.settlement, bill.instance_id, 0)
    prices = PriceItem.objects.filter(price_list_id=bill.price_list_id).values_list("price", flat=True)
    return BillDetail(head, rows, bill.price_list.version, formatting.price_decimals(prices))


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


def workspace_names(*, workspace_ids: Iterable[int]) -> list[tuple[int, str]]:
    """(id, name) of these workspaces, oldest first."""
    from kaitong.workspaces.models import Workspace

    return list(
        Workspace.objects.filter(pk__in=list(workspace_ids)).order_by("created_at", "pk").values_list("pk", "name")
    )


# --- the overview: today's estimate, the last 30 days -----------------------------------------------


def today_estimate(*, workspaces: list[tuple[int, str]], now: datetime) -> overview.TodayEstimate | None:
    """Today's usage so far (Beijing day of ``now``), priced as closing will price it; None when no price
    list is in effect today."""
    today = domain.beijing_day(now)
    try:
        table = price_table(price_list_for(today))
    except NoPriceList:
        return None
    ids = [workspace_id for workspace_id, _ in workspaces]
    start, end = domain.day_window(today)
    return overview.estimate_today(
        now=now,
        workspaces=workspaces,
        usage=usage_of_workspaces(workspace_ids=ids, start=start, end=end),
        table=table,
        retention=retention_of(workspace_ids=ids),
    )


@dataclass(frozen=True)
class EstimateRow:
    workspace_id: int
    name: str
    total: Decimal
    lines: list[LineRow]


def estimate_rows(estimate: overview.TodayEstimate, *, language: str) -> list[EstimateRow]:
    """Each workspace's estimate with its lines named in the page's language, as the bill page shows them."""
    names = item_names()
    english = language.startswith("en")
    return [
        EstimateRow(
            w.workspace_id, w.name, w.total, [_line_row(line, names=names, english=english) for line in w.lines]
        )
        for w in estimate.workspaces
    ]


def daily_chart(
    *, workspaces: list[tuple[int, str]], today: date, estimate: dict[int, Decimal], others_name: str
) -> overview.DailyChart:
    """The last 30 days' totals per workspace: closed days from the bills, today from ``estimate``."""
    days = overview.chart_days(today)
    ids = [workspace_id for workspace_id, _ in workspaces]
    billed = {
        (workspace_id, day): total
        for workspace_id, day, total in DailyBill.objects.filter(
            workspace_id__in=ids, day__gte=days[0], day__lt=today
        ).values_list("workspace_id", "day", "total")
    }
    return overview.daily_chart(
        today=today,
        workspaces=workspaces,
        billed=billed,
        last_closed=latest_closed_day(),
        estimate=estimate,
        others_name=others_name,
    )


def all_workspace_ids() -> list[int]:
    from kaitong.workspaces.models import Workspace

    return list(Workspace.objects.order_by("pk").values_list("pk", flat=True))


def in_flight_until() -> datetime | None:
    """The latest lease of a record marked sent without an answer yet (None: nothing in flight)."""
    return MeteringRecord.objects.filter(state=MeteringRecord.State.SENT).aggregate(t=Max("claimed_until"))["t"]


def unfinished_ledger_counts() -> dict[str, int]:
    """Records in every state but accepted, over all days (the ``state`` index keeps this cheap: an
    accepted record is final and they grow without bound, the others are few)."""
    states = [s for s in MeteringRecord.State.values if s != MeteringRecord.State.ACCEPTED]
    counts = MeteringRecord.objects.filter(state__in=states).values("state").annotate(n=Count("id")).order_by()
    found = {row["state"]: row["n"] for row in counts}
    return {state: found.get(state, 0) for state in states}


# --- a workspace's recent usage, as its console shows it ----------------------------------------------


@dataclass(frozen=True)
class UsageHistoryRow:
    item: str
    name: str
    unit: str
    quantities: list[Decimal | None]  # one per day of the history, None: no samples that day


@dataclass(frozen=True)
class UsageHistory:
    days: list[date]
    rows: list[UsageHistoryRow]


def usage_history(*, workspace_id: int, today: date, days: int, language: str) -> UsageHistory:
    """The workspace's daily usage per item over the ``days`` Beijing days up to ``today``, each day's
    quantity reduced as its bill reduces it (the price list's max or sum; today so far)."""
    window = [today - timedelta(days=back) for back in range(days - 1, -1, -1)]
    rules: dict[str, domain.DailyRule] = {}
    for row in PriceItem.objects.order_by("price_list__effective_from").values("item", "daily_rule"):
        rules[row["item"]] = domain.DailyRule(row["daily_rule"])
    per_day: dict[str, dict[date, Decimal]] = defaultdict(dict)
    for day in window:
        day_start, day_end = domain.day_window(day)
        usage = usage_of_workspaces(workspace_ids=[workspace_id], start=day_start, end=day_end).get(workspace_id, {})
        for item, day_usage in usage.items():
            per_day[item][day] = domain.daily_quantity(rules.get(item, domain.DailyRule.SUM), day_usage)
    names = item_names()
    english = language.startswith("en")
    rows = []
    for item in sorted(per_day):
        name = names.get(item)
        label, unit = (item, "") if name is None else (name.en, name.unit_en) if english else (name.zh, name.unit_zh)
        rows.append(UsageHistoryRow(item, label, unit, [per_day[item].get(day) for day in window]))
    return UsageHistory(window, rows)


def unpaid_bill_ids(*, workspace_ids: Iterable[int]) -> list[int]:
    """The workspaces' bills their billing-center account has to pay and that are not paid yet."""
    from kaitong.workspaces.models import Workspace

    bills = DailyBill.objects.filter(
        workspace_id__in=list(workspace_ids),
        settlement=Workspace.Settlement.BILLING_ACCOUNT,
        total__gt=0,
        payment__isnull=True,
    )
    return list(bills.order_by("day", "pk").values_list("pk", flat=True))
