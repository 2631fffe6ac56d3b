"""The lock countdown as a pure state machine, driven by hypothesis through any sequence of expiries,
releases, renewals, resumptions, settlement moves, overdue bills, payments and days passing.

The test holds a small world around one workspace (two marketplace instances, its settlement, its
overdue bills) and feeds ``domain.step`` the events the real system feeds it. It checks:

- a locked workspace produces no bill: a day the workspace was locked all through (by the machine's own
  ``is_locked``, moment by moment) is a day the bookkeeping the database keeps (``locks_at``, lift time)
  does not bill, and the other way round;
- unlock only by the listed causes: a countdown or lock ends only on a renewal or resumption of the
  instance it counts for, a move of the settlement, or the payment of the overdue bills — never by time;
- the countdown runs exactly while its cause holds, locks exactly 14 days on (00:00 Beijing time), and
  tells the owner once at its start, once 3 days before the end, once at the lock and once when lifted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from kaitong.billing.domain import beijing_day, day_window
from kaitong.countdown import domain
from kaitong.countdown.domain import Cause, Lift, Phase
from kaitong.notices.domain import Notice
from kaitong.workspaces.domain import BY_BILLING_ACCOUNT, Method, Settlement, by_instance

T0 = datetime(2026, 3, 1, 3, 17, tzinfo=UTC)
INSTANCES = ("A", "B")
instances = st.sampled_from(INSTANCES)


class CountdownMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.marketplace = dict.fromkeys(INSTANCES, "active")  # active | expired | released
        self.settlement: Settlement = by_instance("A")
        self.overdue_bills = 0
        self.countdown = domain.CLEAR
        # (from, countdown) segments: what the machine held from each moment on.
        self.segments: list[tuple[datetime, domain.Countdown]] = [(T0, domain.CLEAR)]
        # What the database keeps of each episode: (locks_at, lifted_at or None).
        self.episodes: list[tuple[datetime, datetime | None]] = []
        self.closed_through = beijing_day(T0) - timedelta(days=1)
        self.episode_notices: list[Notice] = []

    # --- feeding the machine ---------------------------------------------------------------------------

    def feed(self, event: domain.Event, *, settlement: Settlement | None = None) -> domain.Outcome:
        before = self.countdown
        outcome = domain.step(before, settlement=settlement or self.settlement, event=event, now=self.now)
        after = outcome.countdown
        # Unlock only by the listed causes, each only for what it can undo.
        if before.active and not after.active:
            assert outcome.lifted is not None and Notice.UNLOCKED in outcome.notices
            match event:
                case domain.InstanceRestored(instance_id=instance_id, lift=lift):
                    assert before.cause in domain.INSTANCE_CAUSES and before.instance_id == instance_id
                    assert outcome.lifted is lift
                case domain.SettlementMoved(to=to):
                    assert to != (settlement or self.settlement) and outcome.lifted is Lift.SETTLEMENT_MOVED
                case domain.BillsPaid():
                    assert before.cause is Cause.UNPAID_BILL and outcome.lifted is Lift.BILL_PAID
                case _:
                    raise AssertionError(f"{event} lifted a countdown")
        else:
            assert outcome.lifted is None and Notice.UNLOCKED not in outcome.notices
        # The bookkeeping the database does with the outcome (countdown/actions.py).
        if not before.active and after.active:
            assert after.locks_at == domain.lock_moment(self.now) and after.started_at == self.now
            self.episodes.append((after.locks_at, None))
            self.episode_notices = []
        if outcome.lifted is not None:
            locks_at, _ = self.episodes[-1]
            self.episodes[-1] = (locks_at, self.now)
        self.episode_notices += [n for n in outcome.notices if n is not Notice.UNLOCKED]
        self.countdown = after
        self.segments.append((self.now, after))
        return outcome

    def instance_changes(self, instance_id: str, state: str, *, lift: Lift | None = None) -> None:
        before = self.marketplace[instance_id]
        if before == "released" or before == state:
            return  # released is final; a duplicate changes nothing (marketplace/domain.py)
        self.marketplace[instance_id] = state
        if state == "expired":
            self.feed(domain.InstanceStopped(instance_id, Cause.INSTANCE_EXPIRED))
        elif state == "released":
            self.feed(domain.InstanceStopped(instance_id, Cause.INSTANCE_RELEASED))
        else:
            assert lift is not None
            self.feed(domain.InstanceRestored(instance_id, lift))

    def duty(self) -> None:
        """The periodic duty: the clock, then overdue bills (countdown/actions.py do_run_countdowns)."""
        self.feed(domain.TimePassed())
        if self.overdue_bills and self.settlement.method is Method.BILLING_ACCOUNT:
            self.feed(domain.BillOverdue())

    # --- what happens in the world -----------------------------------------------------------------------

    @rule(instance_id=instances)
    def expire(self, instance_id: str) -> None:
        self.instance_changes(instance_id, "expired")

    @rule(instance_id=instances)
    def release(self, instance_id: str) -> None:
        self.instance_changes(instance_id, "released")

    @rule(instance_id=instances)
    def renew(self, instance_id: str) -> None:
        self.instance_changes(instance_id, "active", lift=Lift.INSTANCE_RENEWED)

    @rule(instance_id=instances)
    def resume(self, instance_id: str) -> None:
        self.instance_changes(instance_id, "active", lift=Lift.INSTANCE_RESUMED)

    @rule(to=st.sampled_from([None, *INSTANCES]))
    def move_settlement(self, to: str | None) -> None:
        """Through the settlement door: to the billing-center account, or to an active instance."""
        target = BY_BILLING_ACCOUNT if to is None else by_instance(to)
        if target == self.settlement or (to is not None and self.marketplace[to] != "active"):
            return
        before, self.settlement = self.settlement, target
        self.feed(domain.SettlementMoved(target), settlement=before)

    @precondition(lambda self: self.settlement.method is Method.BILLING_ACCOUNT)
    @rule()
    def a_bill_goes_overdue(self) -> None:
        self.overdue_bills += 1

    @precondition(lambda self: self.overdue_bills > 0)
    @rule(all_of_them=st.booleans())
    def pay(self, all_of_them: bool) -> None:
        self.overdue_bills = 0 if all_of_them else self.overdue_bills - 1
        if not self.overdue_bills:
            self.feed(domain.BillsPaid())

    @rule(hours=st.integers(min_value=1, max_value=24 * 9))
    def time_passes(self, hours: int) -> None:
        """The duty runs every minute; here it runs at least once a day, and at the moments it matters."""
        end = self.now + timedelta(hours=hours)
        while self.now < end:
            marks = [end, self.now + timedelta(days=1)]
            if self.countdown.phase is Phase.COUNTING:
                assert self.countdown.locks_at is not None
                marks += [m for m in (domain.ending_notice_due(self.countdown), self.countdown.locks_at) if m]
            self.now = min(m for m in marks if m > self.now)
            self.duty()
        self.close_days()

    # --- checks -----------------------------------------------------------------------------------------------

    def held_at(self, moment: datetime) -> domain.Countdown:
        held = domain.CLEAR
        for start, countdown in self.segments:
            if start <= moment:
                held = countdown
        return held

    def locked_all_day(self, day: date) -> bool:
        """By the machine's own states: locked at the day's start and at every change during it."""
        start, end = day_window(day)
        moments = [start] + [at for at, _ in self.segments if start < at < end]
        return all(domain.is_locked(self.held_at(m), now=m) for m in moments)

    def close_days(self) -> None:
        """Close every Beijing day that has ended: a bill for it unless it was locked all day."""
        while self.closed_through < beijing_day(self.now) - timedelta(days=1):
            self.closed_through += timedelta(days=1)
            billed = not domain.day_is_locked(self.episodes, self.closed_through)
            assert billed != self.locked_all_day(self.closed_through), self.closed_through

    @invariant()
    def the_countdown_runs_exactly_while_its_cause_holds(self) -> None:
        countdown, settlement = self.countdown, self.settlement
        failed = settlement.method is Method.ALIYUN and self.marketplace[settlement.instance_id] != "active"
        unpaid = settlement.method is Method.BILLING_ACCOUNT and self.overdue_bills > 0
        if countdown.cause in domain.INSTANCE_CAUSES:
            assert failed and countdown.instance_id == settlement.instance_id
            wanted = Cause.INSTANCE_RELEASED if self.marketplace[countdown.instance_id] == "released" else None
            assert wanted is None or countdown.cause is wanted
        elif countdown.cause is Cause.UNPAID_BILL:
            assert unpaid
        else:
            # No countdown: no failed instance settles it. An overdue bill waits for the next duty.
            assert not failed

    @invariant()
    def a_lock_comes_fourteen_days_on_and_each_notice_once(self) -> None:
        countdown = self.countdown
        if countdown.active:
            assert countdown.started_at is not None and countdown.locks_at is not None
            assert countdown.locks_at == domain.lock_moment(countdown.started_at)
            assert (countdown.locks_at - countdown.started_at) > timedelta(days=13)
            assert domain.is_locked(countdown, now=self.now) == (self.now >= countdown.locks_at)
            assert (countdown.phase is Phase.LOCKED) == (Notice.LOCKED in self.episode_notices)
        for notice in (Notice.COUNTDOWN_STARTED, Notice.COUNTDOWN_ENDING, Notice.LOCKED):
            assert self.episode_notices.count(notice) <= 1
        if self.episode_notices:
            assert self.episode_notices[0] is Notice.COUNTDOWN_STARTED


TestCountdownMachine = CountdownMachine.TestCase
TestCountdownMachine.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)


def test_days_left_counts_the_first_day_as_fourteen_and_the_last_as_one():
    started = datetime(2026, 3, 1, 15, 59, tzinfo=UTC)  # 23:59 Beijing time, 1 March
    countdown = domain.step(
        domain.CLEAR,
        settlement=by_instance("A"),
        event=domain.InstanceStopped("A", Cause.INSTANCE_EXPIRED),
        now=started,
    ).countdown
    assert domain.days_left(countdown, now=started) == 14
    assert countdown.locks_on == date(2026, 3, 15)
    assert domain.days_left(countdown, now=day_window(date(2026, 3, 14))[0]) == 1
    assert domain.days_left(countdown, now=day_window(date(2026, 3, 15))[0]) == 0
    assert domain.is_locked(countdown, now=day_window(date(2026, 3, 15))[0])


def test_an_overdue_bill_is_one_day_past_the_close():
    assert domain.overdue_since(date(2026, 3, 1)) == day_window(date(2026, 3, 3))[0]


def test_notice_context_is_the_agreed_shape():
    countdown = domain.step(domain.CLEAR, settlement=BY_BILLING_ACCOUNT, event=domain.BillOverdue(), now=T0).countdown
    assert domain.notice_context(countdown, Notice.COUNTDOWN_STARTED) == {
        "locks_on": "2026-03-15",
        "cause": "unpaid_bill",
        "instance_id": "",
    }
    assert domain.notice_context(countdown, Notice.UNLOCKED, lifted=Lift.BILL_PAID) == {"reason": "bill_paid"}


def test_usage_refusal_by_hour():
    locks_at = day_window(date(2026, 3, 15))[0]
    periods = [(locks_at, locks_at + timedelta(days=2))]
    assert domain.usage_refusal(locks_at - timedelta(hours=1), periods=periods, dissolved_at=None) is None
    assert "locked from 2026-03-15" in domain.usage_refusal(locks_at, periods=periods, dissolved_at=None)
    assert domain.usage_refusal(locks_at + timedelta(days=2), periods=periods, dissolved_at=None) is None
    assert "dissolved" in domain.usage_refusal(locks_at, periods=[], dissolved_at=locks_at)
