"""What the marketplace's own view rules out, how two records of an instance are compared, the pacing of
the reconciliation's calls, and how a DescribeInstanceForIsv answer is read. No database, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from kaitong.marketplace.aliyun.instances import Failure, LookupFailed, _view
from kaitong.marketplace.domain import (
    Action,
    Call,
    Instance,
    MarketStatus,
    MarketView,
    State,
    catch_up_calls,
    decide,
    differences,
    needs_confirmation,
    ruled_out,
)
from kaitong.marketplace.reconciliation import Pacer

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
OPENING, OPENED, EXPIRED, CLOSED = MarketStatus


class TestWhatTheMarketplaceRulesOut:
    @pytest.mark.parametrize(
        ("action", "ruled_out_by"),
        [
            (Action.EXPIRE, {OPENING, OPENED}),  # a replayed expire of an instance in service
            (Action.RESUME, {EXPIRED, CLOSED}),  # a replayed resume after the marketplace froze it again
            (Action.RELEASE, {OPENING, OPENED}),  # the marketplace releases only what it no longer serves
        ],
    )
    def test_each_call_is_ruled_out_by_exactly_these_statuses(self, action, ruled_out_by):
        call = Call(action)
        assert needs_confirmation(call)
        assert {status for status in MarketStatus if ruled_out(call, MarketView(status))} == ruled_out_by

    @pytest.mark.parametrize("action", [Action.RENEW, Action.UPGRADE])
    def test_calls_tied_to_an_order_are_never_asked_about(self, action):
        # Their order makes a replay recognisable (applied_orders); the marketplace need not be asked.
        call = Call(action, expires_at=T0, sku_id="pro", order_id="o1")
        assert not needs_confirmation(call)
        assert not any(ruled_out(call, MarketView(status)) for status in MarketStatus)


def instance(state: State = State.ACTIVE, expires_at: datetime | None = None) -> Instance:
    return Instance(state=state, sku_id="basic", expires_at=expires_at)


class TestDifferences:
    @pytest.mark.parametrize(
        ("state", "status"),
        [
            (State.ACTIVE, OPENED),
            (State.ACTIVE, OPENING),
            (State.EXPIRED, EXPIRED),
            (State.RELEASED, CLOSED),
        ],
    )
    def test_the_same_state_agrees(self, state, status):
        assert differences(instance(state), MarketView(status)) == ()

    def test_a_different_state_is_one_line(self):
        assert differences(instance(State.ACTIVE), MarketView(EXPIRED)) == ("state: ours active, marketplace EXPIRED",)

    def test_expiries_closer_than_a_second_agree(self):
        # The SPI writes whole seconds, DescribeInstanceForIsv milliseconds.
        view = MarketView(OPENED, ends_at=T0 + timedelta(milliseconds=999))
        assert differences(instance(expires_at=T0), view) == ()

    def test_a_different_expiry_is_one_line_in_utc(self):
        view = MarketView(EXPIRED, ends_at=datetime(2027, 1, 1, 12, 0, tzinfo=UTC))
        assert differences(instance(State.ACTIVE, expires_at=T0), view) == (
            "state: ours active, marketplace EXPIRED",
            "expiry: ours 2026-11-30T08:00:00+00:00, marketplace 2027-01-01T12:00:00+00:00",
        )

    @pytest.mark.parametrize(("ours", "theirs"), [(None, T0), (T0, None), (None, None)])
    def test_an_expiry_known_on_one_side_only_is_not_compared(self, ours, theirs):
        # A pay-as-you-go instance may have none here while the marketplace shows a nominal one.
        assert differences(instance(expires_at=ours), MarketView(OPENED, ends_at=theirs)) == ()


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class TestPacer:
    def test_calls_are_spaced_to_the_rate(self):
        time = FakeTime()
        pacer = Pacer(4, monotonic=time.monotonic, sleep=time.sleep)
        starts = []
        for _ in range(9):
            pacer.wait()
            starts.append(time.now)
            time.now += 0.05  # the call itself
        assert starts[0] == 100.0 and time.slept[0] == pytest.approx(0.2)
        gaps = [b - a for a, b in pairwise(starts)]
        assert all(gap == pytest.approx(0.25) for gap in gaps)
        # No second holds more than four calls.
        assert max(sum(1 for s in starts if t <= s < t + 1) for t in starts) == 4

    def test_a_slow_call_is_not_made_up_for_with_a_burst(self):
        time = FakeTime()
        pacer = Pacer(2, monotonic=time.monotonic, sleep=time.sleep)
        pacer.wait()
        time.now += 3.0  # one call took three seconds
        pacer.wait()
        first_after = time.now
        pacer.wait()
        assert time.now - first_after == pytest.approx(0.5)


class TestReadingTheAnswer:
    def test_status_and_end_in_milliseconds(self):
        view = _view("EXPIRED", 1_764_489_600_123)
        assert view == MarketView(EXPIRED, ends_at=datetime(2025, 11, 30, 8, 0, 0, 123_000, tzinfo=UTC))

    def test_no_end_for_pay_as_you_go(self):
        assert _view("OPENED", None) == MarketView(OPENED, ends_at=None)

    @pytest.mark.parametrize(
        ("status", "end_on"), [("STARTED", None), ("", None), ("OPENED", "soon"), ("OPENED", True)]
    )
    def test_an_answer_we_cannot_read_is_a_failure_not_a_guess(self, status, end_on):
        with pytest.raises(LookupFailed) as info:
            _view(status, end_on)
        assert info.value.failure is Failure.REFUSED


class TestCatchingUpWithTheMarketplace:
    """The calls a reconciliation applies when the marketplace says what we never heard (issue 12), and
    that applying them through ``decide`` leaves both sides agreeing, or the difference for the operator."""

    LATER = T0 + timedelta(days=30)

    def caught_up(self, local: Instance, view: MarketView) -> Instance:
        for call in catch_up_calls(local, view):
            local = decide(local, call, now=T0).instance or local
        return local

    @pytest.mark.parametrize(
        ("local", "view", "calls"),
        [
            # A missed expire, release, resume, renew: the call the marketplace sent.
            (Instance(State.ACTIVE, "sku", None), MarketView(EXPIRED), (Call(Action.EXPIRE),)),
            (Instance(State.ACTIVE, "sku", None), MarketView(CLOSED), (Call(Action.RELEASE, is_refund=False),)),
            (Instance(State.EXPIRED, "sku", None), MarketView(CLOSED), (Call(Action.RELEASE, is_refund=False),)),
            (Instance(State.EXPIRED, "sku", None), MarketView(OPENED), (Call(Action.RESUME),)),
            (Instance(State.EXPIRED, "sku", T0), MarketView(OPENED, LATER), (Call(Action.RENEW, expires_at=LATER),)),
            (Instance(State.ACTIVE, "sku", T0), MarketView(OPENING, LATER), (Call(Action.RENEW, expires_at=LATER),)),
            # Nothing a call can make: agreeing, released here, an expiry the marketplace has earlier.
            (Instance(State.ACTIVE, "sku", None), MarketView(OPENED), ()),
            (Instance(State.RELEASED, "sku", None), MarketView(OPENED), ()),
            (Instance(State.ACTIVE, "sku", LATER), MarketView(OPENED, T0), ()),
            # Pay-as-you-go here, a nominal expiry there: not a difference (``differences``), nothing to do.
            (Instance(State.ACTIVE, "sku", None), MarketView(OPENED, LATER), ()),
        ],
    )
    def test_the_missed_call(self, local, view, calls):
        assert catch_up_calls(local, view) == calls

    @pytest.mark.parametrize(
        ("local", "view"),
        [
            (Instance(State.ACTIVE, "sku", None), MarketView(EXPIRED)),
            (Instance(State.ACTIVE, "sku", T0 - timedelta(days=1)), MarketView(EXPIRED, T0 - timedelta(days=1))),
            (Instance(State.EXPIRED, "sku", T0), MarketView(OPENED, T0 + timedelta(days=30))),
            (Instance(State.EXPIRED, "sku", None), MarketView(OPENED)),
            (Instance(State.ACTIVE, "sku", None), MarketView(CLOSED)),
        ],
    )
    def test_applied_through_the_lifecycle_both_sides_agree(self, local, view):
        assert differences(self.caught_up(local, view), view) == ()

    def test_an_expire_before_the_expiry_stays_a_difference_for_the_operator(self):
        """The lifecycle calls it stale (a renew moved the expiry on): the state machine wins, the alarm tells."""
        local = Instance(State.ACTIVE, "sku", self.LATER)
        view = MarketView(EXPIRED, self.LATER)
        assert catch_up_calls(local, view) == (Call(Action.EXPIRE),)
        assert differences(self.caught_up(local, view), view) == ("state: ours active, marketplace EXPIRED",)
