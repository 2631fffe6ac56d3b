"""Pure billing rules: parsing samples, the day's arithmetic, batching pushes, reading answers."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaitong.billing import domain
from kaitong.billing.domain import DailyRule, DayUsage, Price, PriceTable

NOW = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)
ITEMS = {"time_series", "logs"}
TOKEN = "tkn_" + "a" * 32


def table(**overrides: str) -> PriceTable:
    ts = [
        Price("time_series", Decimal(1000), DailyRule.MAX, days, days == 7, Decimal(p))
        for days, p in ((3, "0.6"), (7, "0.7"), (14, "0.8"))
    ]
    logs = [Price("logs", Decimal(1_000_000), DailyRule.SUM, 14, True, Decimal(overrides.get("logs", "1.5")))]
    sms = [Price("sms", Decimal(10), DailyRule.SUM, 0, False, Decimal(1))]
    return PriceTable("t", {"time_series": ts, "logs": logs, "sms": sms})


class TestTime:
    def test_day_window_is_beijing_midnight_to_midnight(self):
        start, end = domain.day_window(date(2026, 11, 20))
        assert start.isoformat() == "2026-11-19T16:00:00+00:00"
        assert end.isoformat() == "2026-11-20T16:00:00+00:00"

    def test_last_closed_day_turns_at_beijing_midnight(self):
        assert domain.last_closed_day(datetime(2026, 11, 20, 15, 59, tzinfo=UTC)) == date(2026, 11, 19)
        assert domain.last_closed_day(datetime(2026, 11, 20, 16, 0, tzinfo=UTC)) == date(2026, 11, 20)

    def test_alarm_is_0130_beijing_next_day(self):
        assert domain.alarm_time(date(2026, 11, 20)).isoformat() == "2026-11-20T17:30:00+00:00"


class TestParseSamples:
    def test_good_batch(self):
        raw = [
            {"workspace": 7, "item": "logs", "hour": "2026-11-26T08:00:00Z", "quantity": 12},
            {"workspace": TOKEN, "item": "time_series", "hour": "2026-11-26T09:00:00+00:00", "quantity": "3.5"},
        ]
        samples, errors = domain.parse_samples(raw, known_items=ITEMS, now=NOW)
        assert errors == []
        assert samples[0].workspace == domain.WorkspaceRef(id=7)
        assert samples[1].workspace == domain.WorkspaceRef(token="tkn_" + "a" * 32)
        assert samples[1].quantity == Decimal("3.5")

    def test_object_with_samples_key(self):
        samples, errors = domain.parse_samples(
            {"samples": [{"workspace": 1, "item": "logs", "hour": "2026-11-26T08:00:00Z", "quantity": 0}]},
            known_items=ITEMS,
            now=NOW,
        )
        assert errors == [] and len(samples) == 1

    def test_every_error_is_listed_by_index(self):
        raw = [
            {"workspace": 1, "item": "logs", "hour": "2026-11-26T08:00:00Z", "quantity": 1},
            {"workspace": "nope", "item": "beer", "hour": "2026-11-26T08:30:00Z", "quantity": -1},
            {"workspace": 1, "item": "logs", "hour": "2026-11-26T08:00:00+08:00", "quantity": "x"},
            {"workspace": 1, "item": "logs", "hour": "2026-11-26T08:00:00", "quantity": 1, "extra": 1},
            {"workspace": 1, "item": "logs", "hour": "2026-11-27T08:00:00Z", "quantity": True},
            "not an object",
            {"item": "logs"},
        ]
        samples, errors = domain.parse_samples(raw, known_items=ITEMS, now=NOW)
        assert [s.index for s in samples] == [0]
        found = {(e.index, e.field) for e in errors}
        assert found == {
            (1, "workspace"),
            (1, "item"),
            (1, "hour"),
            (1, "quantity"),
            (2, "hour"),
            (2, "quantity"),
            (3, "extra"),
            (4, "hour"),
            (4, "quantity"),
            (5, ""),
            (6, "workspace"),
            (6, "hour"),
            (6, "quantity"),
        }
        messages = {(e.index, e.field): e.message for e in errors}
        assert "on the hour" in messages[(1, "hour")]
        assert "UTC" in messages[(2, "hour")]
        assert "future" in messages[(4, "hour")]

    def test_batch_too_large(self):
        with pytest.raises(domain.BatchTooLarge):
            domain.parse_samples([{}] * (domain.MAX_BATCH + 1), known_items=ITEMS, now=NOW)

    def test_not_a_list(self):
        _, errors = domain.parse_samples({"x": 1}, known_items=ITEMS, now=NOW)
        assert errors[0].index == -1

    def test_quantity_precision(self):
        raw = [{"workspace": 1, "item": "logs", "hour": "2026-11-26T08:00:00Z", "quantity": "0.0000001"}]
        _, errors = domain.parse_samples(raw, known_items=ITEMS, now=NOW)
        assert errors[0].field == "quantity"

    def test_last_wins_keeps_the_latest_value(self):
        h = datetime(2026, 11, 26, 8, tzinfo=UTC)
        assert domain.last_wins([(1, "logs", h, Decimal(1)), (1, "logs", h, Decimal(2))]) == [
            (1, "logs", h, Decimal(2))
        ]


class TestBill:
    def test_max_item_uses_the_peak_and_the_retention_price(self):
        usage = DayUsage.of([Decimal(3000), Decimal(3500), Decimal(1000)])
        bill = domain.compute_bill({"time_series": usage}, table=table(), retention={"time_series": 14})
        (line,) = bill.lines
        assert (line.quantity, line.units, line.price, line.fee) == (
            Decimal(3500),
            Decimal("3.50"),
            Decimal("0.8"),
            Decimal("2.80"),
        )
        assert bill.total == Decimal("2.80")

    def test_default_retention_when_none_is_set(self):
        bill = domain.compute_bill({"time_series": DayUsage.of([Decimal(3500)])}, table=table())
        assert bill.lines[0].retention_days == 7
        assert bill.total == Decimal("2.45")

    def test_sum_item_units_and_fee_are_truncated(self):
        # 1,999,999 logs = 1.999999 M → 1.99 units × 1.5 = 2.985 → 2.98
        usage = DayUsage.of([Decimal(999_999), Decimal(1_000_000)])
        bill = domain.compute_bill({"logs": usage}, table=table())
        assert (bill.lines[0].units, bill.lines[0].fee) == (Decimal("1.99"), Decimal("2.98"))

    def test_below_one_cent_is_zero(self):
        # 0.09 messages at ¥1 per 10 is ¥0.009: truncated to ¥0.00, where rounding would give ¥0.01.
        bill = domain.compute_bill({"sms": DayUsage.of([Decimal("0.09")])}, table=table())
        assert [line.item for line in bill.lines] == ["sms"]
        assert bill.lines[0].fee == Decimal("0.00") and bill.total == Decimal("0.00")

    def test_no_usage_is_a_zero_bill(self):
        bill = domain.compute_bill({}, table=table())
        assert bill.lines == () and bill.total == Decimal("0.00")

    def test_item_without_a_price_is_not_billed(self):
        bill = domain.compute_bill({"gone": DayUsage.of([Decimal(5)])}, table=table())
        assert bill.lines == ()

    def test_cents(self):
        assert domain.cents(Decimal("12.34")) == 1234
        assert domain.cents(Decimal("0.00")) == 0

    @given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=24))
    def test_each_item_is_billed_on_its_daily_rule(self, quantities):
        # Time series count the day's peak hour; logs count every hour (guance-domain §3.7).
        values = [Decimal(q) for q in quantities]
        bill = domain.compute_bill({"time_series": DayUsage.of(values), "logs": DayUsage.of(values)}, table=table())
        quantity = {line.item: line.quantity for line in bill.lines}
        assert quantity == {"time_series": max(values), "logs": sum(values)}


class TestPlanBatch:
    def test_one_product_each_instance_once_at_most_100(self):
        # Instances repeat (several days each).
        candidates = [domain.Candidate(n, f"i{n % 250}", "p1" if n % 2 else "p2") for n in range(1000)]
        batch = domain.plan_batch(candidates, busy_instances=frozenset({"i0"}))
        assert len(batch) == 100
        assert len({c.instance_id for c in batch}) == 100
        assert {c.product_code for c in batch} == {"p1"}  # i0 (p2) is busy: the first eligible is p1
        assert "i0" not in {c.instance_id for c in batch}

    def test_everything_busy_is_an_empty_plan(self):
        assert domain.plan_batch([domain.Candidate(1, "a", "p")], busy_instances=frozenset({"a"})) == []

    def test_random_plans_never_break_the_limits(self):
        rng = random.Random(5)
        for _ in range(50):
            candidates = [
                domain.Candidate(n, f"i{rng.randrange(300)}", rng.choice(["p1", "p2", "p3"])) for n in range(500)
            ]
            busy = frozenset(f"i{rng.randrange(300)}" for _ in range(50))
            batch = domain.plan_batch(candidates, busy_instances=busy)
            assert len(batch) <= 100
            assert len({c.product_code for c in batch}) <= 1
            assert len({c.instance_id for c in batch}) == len(batch)
            assert not {c.instance_id for c in batch} & busy
