"""Today's estimate and the 30-day chart (pure rules: time and data passed in)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from kaitong.billing import overview
from kaitong.billing.domain import DailyRule, DayUsage, Price, PriceTable

TODAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 6, 32, tzinfo=UTC)  # 14:32 Beijing
TABLE = PriceTable(
    "t",
    {
        "logs": [
            Price("logs", Decimal(1_000_000), DailyRule.SUM, 14, True, Decimal("1.5")),
            Price("logs", Decimal(1_000_000), DailyRule.SUM, 30, False, Decimal("2")),
        ],
        "time_series": [Price("time_series", Decimal(1000), DailyRule.MAX, 7, True, Decimal("0.7"))],
        "forward_guance": [Price("forward_guance", Decimal(1), DailyRule.SUM, 0, False, Decimal("0.007"))],
    },
)


class TestEstimate:
    def test_priced_like_a_bill_with_each_workspaces_retention(self):
        estimate = overview.estimate_today(
            now=NOW,
            workspaces=[(1, "a"), (2, "b"), (3, "idle")],
            usage={
                1: {"logs": DayUsage(Decimal(2_000_000), Decimal(3_000_000)), "time_series": DayUsage(1200, 1500)},
                2: {"logs": DayUsage(Decimal(1_000_000), Decimal(1_000_000))},
            },
            table=TABLE,
            retention={2: {"logs": 30}},
        )
        assert estimate.day == TODAY and estimate.as_of == NOW and estimate.price_list_version == "t"
        # 3 M logs × 1.50 + 1.2 k series (the day's peak so far) × 0.70; 1 M logs at 30 days × 2.00.
        assert estimate.by_workspace() == {1: Decimal("5.34"), 2: Decimal("2.00"), 3: Decimal("0.00")}
        assert estimate.total == Decimal("7.34")
        assert [line.item for line in estimate.workspaces[0].lines] == ["logs", "time_series"]
        assert estimate.workspaces[2].lines == ()

    def test_the_price_precision_is_todays_lists(self):
        estimate = overview.estimate_today(now=NOW, workspaces=[], usage={}, table=TABLE, retention={})
        assert estimate.price_decimals == 3 and estimate.total == Decimal("0.00")

    def test_the_day_is_beijings(self):
        late = datetime(2026, 11, 30, 16, 5, tzinfo=UTC)  # 00:05 on 1 December in Beijing
        estimate = overview.estimate_today(now=late, workspaces=[], usage={}, table=TABLE, retention={})
        assert estimate.day == date(2026, 12, 1)


class TestChart:
    def test_thirty_days_ending_today(self):
        days = overview.chart_days(TODAY)
        assert len(days) == 30 and days[0] == date(2026, 11, 1) and days[-1] == TODAY

    def test_bills_then_todays_estimate_per_workspace(self):
        chart = overview.daily_chart(
            today=TODAY,
            workspaces=[(1, "a"), (2, "b")],
            billed={(1, date(2026, 11, 28)): Decimal("1.00"), (2, date(2026, 11, 29)): Decimal("9.50")},
            last_closed=date(2026, 11, 29),
            estimate={1: Decimal("5.34")},
            others_name="others",
        )
        assert chart.estimated_day == TODAY
        b, a = chart.series  # the larger over the period first
        assert (b.workspace_id, b.name) == (2, "b") and (a.workspace_id, a.name) == (1, "a")
        assert a.totals[-3:] == (Decimal("1.00"), Decimal("0.00"), Decimal("5.34"))
        assert b.totals[-3:] == (Decimal("0.00"), Decimal("9.50"), Decimal("0.00"))
        assert a.totals[0] == Decimal("0.00")  # closed, no bill: nothing to pay that day

    def test_an_ended_day_not_closed_yet_is_none_not_zero(self):
        chart = overview.daily_chart(
            today=TODAY,
            workspaces=[(1, "a")],
            billed={},
            last_closed=date(2026, 11, 28),  # 29 November has ended, its close has not run yet
            estimate={},
            others_name="others",
        )
        (a,) = chart.series
        assert a.totals[-3:] == (Decimal("0.00"), None, Decimal("0.00"))

    def test_nothing_ever_closed(self):
        chart = overview.daily_chart(
            today=TODAY, workspaces=[(1, "a")], billed={}, last_closed=None, estimate={1: Decimal(2)}, others_name="o"
        )
        assert chart.series[0].totals == (None,) * 29 + (Decimal(2),)

    def test_beyond_eight_series_the_smallest_are_summed_into_others(self):
        workspaces = [(n, f"ws{n}") for n in range(1, 12)]
        chart = overview.daily_chart(
            today=TODAY,
            workspaces=workspaces,
            billed={(n, date(2026, 11, 29)): Decimal(n) for n in range(1, 12)},
            last_closed=date(2026, 11, 29),
            estimate={n: Decimal("0.10") for n in range(1, 12)},
            others_name="others",
        )
        assert [s.workspace_id for s in chart.series] == [11, 10, 9, 8, 7, 6, 5, None]
        others = chart.series[-1]
        assert others.name == "others"
        assert others.totals[-2:] == (Decimal(1 + 2 + 3 + 4), Decimal("0.40"))
        assert sum((s.sum() for s in chart.series), Decimal(0)) == sum(range(1, 12)) + Decimal("1.10")

    def test_json_for_the_script(self):
        chart = overview.daily_chart(
            today=TODAY,
            workspaces=[(1, "a")],
            billed={(1, date(2026, 11, 29)): Decimal("1234.5")},
            last_closed=date(2026, 11, 28),
            estimate={1: Decimal("5.34")},
            others_name="others",
        )
        data = overview.chart_json(chart, text={"estimated": "estimate"})
        assert data["days"][0] == "2026-11-01" and data["labels"][-1] == "11-30"
        assert data["estimated"] == "2026-11-30"
        assert data["series"] == [{"workspace": 1, "name": "a", "totals": ["0.00"] * 28 + [None, "5.34"]}]
        assert data["text"] == {"estimated": "estimate"}
