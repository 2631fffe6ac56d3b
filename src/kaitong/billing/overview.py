"""The billing center's overview besides closed bills: today's estimate and the last 30 days per workspace.

Pure: no Django, no clock. ``now`` is passed in by the view; usage, bills and prices by the queries.

Today's estimate is what today's bill would be if the day closed now: the samples reported so far
today (Beijing time), priced by ``domain.compute_bill`` with the price list in effect today and each
workspace's retention, exactly as closing will price them. It is not a bill: later samples (and, for
items billed by their daily maximum, a higher peak) still change it until 00:00, when the day closes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from kaitong.billing import domain, formatting

CHART_DAYS = 30
# More series than this are unreadable in a stacked bar; the smallest are summed into one "others" bar.
MAX_SERIES = 8


@dataclass(frozen=True)
class WorkspaceEstimate:
    workspace_id: int
    name: str
    lines: tuple[domain.BillLine, ...]
    total: Decimal


@dataclass(frozen=True)
class TodayEstimate:
    day: date
    as_of: datetime
    price_list_version: str
    price_decimals: int  # the precision of today's price list (formatting.price_decimals)
    workspaces: tuple[WorkspaceEstimate, ...]
    total: Decimal

    def by_workspace(self) -> dict[int, Decimal]:
        return {w.workspace_id: w.total for w in self.workspaces}


def estimate_today(
    *,
    now: datetime,
    workspaces: Sequence[tuple[int, str]],
    usage: Mapping[int, Mapping[str, domain.DayUsage]],
    table: domain.PriceTable,
    retention: Mapping[int, Mapping[str, int]],
) -> TodayEstimate:
    """Price today's usage so far (``usage``: each workspace's samples of today's Beijing day until
    ``now``) the way closing will. Every workspace of ``workspaces`` gets an entry, 0.00 without usage."""
    estimates = []
    for workspace_id, name in workspaces:
        bill = domain.compute_bill(usage.get(workspace_id, {}), table=table, retention=retention.get(workspace_id))
        estimates.append(WorkspaceEstimate(workspace_id, name, bill.lines, bill.total))
    total = sum((e.total for e in estimates), Decimal("0.00"))
    decimals = formatting.price_decimals(p.price for prices in table.prices.values() for p in prices)
    return TodayEstimate(domain.beijing_day(now), now, table.version, decimals, tuple(estimates), total)


def chart_days(today: date, count: int = CHART_DAYS) -> list[date]:
    """The ``count`` days ending with ``today``, oldest first."""
    return [today - timedelta(days=back) for back in range(count - 1, -1, -1)]


@dataclass(frozen=True)
class Series:
    """One workspace's daily totals (None: a day that has ended but is not closed into bills yet)."""

    workspace_id: int | None  # None: the workspaces summed into "others"
    name: str
    totals: tuple[Decimal | None, ...]

    def sum(self) -> Decimal:
        return sum((t for t in self.totals if t is not None), Decimal(0))


@dataclass(frozen=True)
class DailyChart:
    days: tuple[date, ...]
    estimated_day: date  # the last day: today, whose value is the estimate
    series: tuple[Series, ...]


def daily_chart(
    *,
    today: date,
    workspaces: Sequence[tuple[int, str]],
    billed: Mapping[tuple[int, date], Decimal],
    last_closed: date | None,
    estimate: Mapping[int, Decimal],
    others_name: str,
    max_series: int = MAX_SERIES,
) -> DailyChart:
    """Each workspace's total per day over the last CHART_DAYS days ending ``today``.

    A closed day shows the bill (0 where the workspace has none: it did not exist yet, or it is a day
    without usage); ``today`` shows the estimate; a day between the last closed day and today (closing
    has not run yet) shows None, not a misleading 0. The largest workspaces over the period come first;
    beyond ``max_series``, the rest are summed into one series named ``others_name``.
    """
    days = chart_days(today)

    def value(workspace_id: int, day: date) -> Decimal | None:
        if day == today:
            return estimate.get(workspace_id, Decimal("0.00"))
        if last_closed is None or day > last_closed:
            return None
        return billed.get((workspace_id, day), Decimal("0.00"))

    series = [Series(w, name, tuple(value(w, day) for day in days)) for w, name in workspaces]
    series.sort(key=lambda s: (-s.sum(), s.workspace_id or 0))
    if len(series) > max_series:
        kept, rest = series[: max_series - 1], series[max_series - 1 :]
        summed = tuple(
            None if column[0] is None else sum((t or Decimal(0) for t in column), Decimal("0.00"))
            for column in zip(*(s.totals for s in rest), strict=True)
        )
        series = [*kept, Series(None, others_name, summed)]
    return DailyChart(tuple(days), today, tuple(series))


def chart_json(chart: DailyChart, *, text: Mapping[str, str]) -> dict[str, Any]:
    """What the page's chart script reads (through ``json_script``): days, per-series totals as decimal
    strings (exact; the script turns them into numbers), which day is estimated, and the words it shows
    (``text``, already translated)."""
    return {
        "days": [day.isoformat() for day in chart.days],
        "labels": [day.strftime("%m-%d") for day in chart.days],
        "estimated": chart.estimated_day.isoformat(),
        "series": [
            {
                "workspace": s.workspace_id,
                "name": s.name,
                "totals": [None if t is None else f"{t:.2f}" for t in s.totals],
            }
            for s in chart.series
        ],
        "text": dict(text),
    }
