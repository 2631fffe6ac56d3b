"""The 14-day lock countdown of a workspace, as a pure function of (countdown, settlement, event, now).

A workspace whose settlement fails — the Alibaba instance settling it expired or released, or a bill its
billing-center account settles left unpaid a day past its due day — enters a countdown (issue 12,
guance-domain §3.4–3.5). During it the workspace works and its console shows a banner; three days
before the end its owner is told again; at the end it is locked: usage and its DataKit token refused,
no bills, its data cleared. The countdown is lifted (and a lock undone) only when its cause goes away:

- the settling instance is renewed (``renewInstance``) or resumed (``resumeInstance``);
- the workspace's settlement moves to another method or instance (the settlement door);
- the unpaid bills are paid.

Days passing never lift anything. Pure: no Django, no clock; ``now`` is passed in, and what the caller
must do (notices to send, the lock's data clearing) comes back with the new value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from kaitong.billing.domain import beijing_day, day_window
from kaitong.notices import domain as notice_codes
from kaitong.notices.domain import Notice
from kaitong.workspaces.domain import Method, Settlement

COUNTDOWN_DAYS = 14
# The second notice goes out when this many days are left (guance-domain §3.5: "a countdown email near
# its end"; issue 12: 3 days before the lock).
ENDING_NOTICE_DAYS = 3
# A billing-center bill is due the moment its day closes; unpaid for this long, it starts a countdown.
OVERDUE_AFTER = timedelta(days=1)


class Phase(StrEnum):
    CLEAR = "clear"  # no countdown
    COUNTING = "counting"  # the workspace works, with a banner, until ``locks_at``
    LOCKED = "locked"


# The notices' codes are the countdown's own words: one enum each, defined where the notices read them.
Cause = notice_codes.Cause  # why the countdown started (the notices' ``cause``)
Lift = notice_codes.UnlockReason  # why a countdown or a lock ended (``unlocked``'s ``reason``): the only ways out


INSTANCE_CAUSES = frozenset({Cause.INSTANCE_EXPIRED, Cause.INSTANCE_RELEASED})


@dataclass(frozen=True)
class Countdown:
    """One workspace's countdown. ``locks_at`` is 00:00 Beijing time of ``locks_on``; ``instance_id`` is
    the instance whose expiry or release started it ("" for an unpaid bill)."""

    phase: Phase
    cause: Cause | None = None
    instance_id: str = ""
    started_at: datetime | None = None
    locks_at: datetime | None = None
    ending_noticed: bool = False

    @property
    def active(self) -> bool:
        return self.phase is not Phase.CLEAR

    @property
    def locks_on(self) -> date | None:
        return None if self.locks_at is None else beijing_day(self.locks_at)


CLEAR = Countdown(Phase.CLEAR)


def lock_moment(started_at: datetime) -> datetime:
    """When a countdown started at ``started_at`` locks: 00:00 Beijing time, 14 days after its first day.

    The day it starts counts as day one of fourteen (the banner says "14 days left" that day), and every
    workspace whose countdown started on the same day locks at the same moment, the start of a billing
    day: a day is either wholly locked (no bill) or not.
    """
    return day_window(beijing_day(started_at) + timedelta(days=COUNTDOWN_DAYS))[0]


def days_left(countdown: Countdown, *, now: datetime) -> int:
    """Whole Beijing days until the lock, counting today: 14 on the first day, 0 once locked."""
    if countdown.locks_at is None or is_locked(countdown, now=now):
        return 0
    locks_on = beijing_day(countdown.locks_at)
    return max(0, (locks_on - beijing_day(now)).days)


def is_locked(countdown: Countdown, *, now: datetime) -> bool:
    """Locked from ``locks_at`` on, whether or not the duty that records the lock has run yet: usage, the
    token and bills are refused by this, so a late worker never lets a locked day through."""
    if countdown.phase is Phase.LOCKED:
        return True
    return countdown.phase is Phase.COUNTING and countdown.locks_at is not None and now >= countdown.locks_at


def ending_notice_due(countdown: Countdown) -> datetime | None:
    """When the 3-days-left notice is due (None: not counting)."""
    if countdown.phase is not Phase.COUNTING or countdown.locks_at is None:
        return None
    return countdown.locks_at - timedelta(days=ENDING_NOTICE_DAYS)


def overdue_since(bill_day: date) -> datetime:
    """When an unpaid billing-center bill for ``bill_day`` starts a countdown: it is due when its day closes
    (00:00 Beijing the next day) and overdue a day later."""
    return day_window(bill_day)[1] + OVERDUE_AFTER


# --- events ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceStopped:
    """The marketplace expired or released ``instance_id`` (SPI call or reconciliation)."""

    instance_id: str
    cause: Cause


@dataclass(frozen=True)
class InstanceRestored:
    """``instance_id`` is active again: renewed or resumed."""

    instance_id: str
    lift: Lift


@dataclass(frozen=True)
class SettlementMoved:
    """The workspace's settlement changed through the settlement door; ``to`` is the new one."""

    to: Settlement


@dataclass(frozen=True)
class BillOverdue:
    """A bill the workspace's billing-center account settles is unpaid a day past its due day."""


@dataclass(frozen=True)
class BillsPaid:
    """No overdue bill of the workspace is left unpaid."""


@dataclass(frozen=True)
class TimePassed:
    """The clock moved on (the periodic duty, or any look at the workspace)."""


Event = InstanceStopped | InstanceRestored | SettlementMoved | BillOverdue | BillsPaid | TimePassed


@dataclass(frozen=True)
class Outcome:
    """The countdown after an event, and what the caller must do in the same transaction."""

    countdown: Countdown
    notices: tuple[Notice, ...] = ()
    lifted: Lift | None = None  # the countdown or the lock ended, for this reason
    locked: bool = False  # the lock started now: clear the workspace's data


def _start(cause: Cause, instance_id: str, *, now: datetime) -> Outcome:
    started = Countdown(Phase.COUNTING, cause=cause, instance_id=instance_id, started_at=now, locks_at=lock_moment(now))
    # A countdown that starts already inside its last three days (not possible with 14 days, but the
    # numbers are configuration) says so once, not twice.
    return _pass_time(started, now=now, notices=(Notice.COUNTDOWN_STARTED,))


def _lift(lift: Lift) -> Outcome:
    return Outcome(CLEAR, notices=(Notice.UNLOCKED,), lifted=lift)


def _pass_time(countdown: Countdown, *, now: datetime, notices: tuple[Notice, ...] = ()) -> Outcome:
    if countdown.phase is not Phase.COUNTING:
        return Outcome(countdown, notices=notices)
    if is_locked(countdown, now=now):
        return Outcome(replace(countdown, phase=Phase.LOCKED), notices=(*notices, Notice.LOCKED), locked=True)
    due = ending_notice_due(countdown)
    if not countdown.ending_noticed and due is not None and now >= due:
        ending = () if Notice.COUNTDOWN_STARTED in notices else (Notice.COUNTDOWN_ENDING,)
        return Outcome(replace(countdown, ending_noticed=True), notices=(*notices, *ending))
    return Outcome(countdown, notices=notices)


def settled_by_instance(settlement: Settlement, instance_id: str) -> bool:
    return settlement.method is Method.ALIYUN and settlement.instance_id == instance_id


def step(countdown: Countdown, *, settlement: Settlement, event: Event, now: datetime) -> Outcome:
    """What ``event`` does to the countdown of a workspace settled as ``settlement`` (for a move: as it
    was before the move) at ``now``.

    Time is applied first, so that an event arriving after ``locks_at`` meets a locked workspace (and
    its lock is recorded) before it lifts anything.
    """
    passed = _pass_time(countdown, now=now)
    current, earlier = passed.countdown, passed.notices
    outcome = _apply(current, settlement=settlement, event=event, now=now)
    return Outcome(
        outcome.countdown,
        notices=(*earlier, *outcome.notices),
        lifted=outcome.lifted,
        locked=passed.locked or outcome.locked,
    )


def _apply(countdown: Countdown, *, settlement: Settlement, event: Event, now: datetime) -> Outcome:
    match event:
        case TimePassed():
            return Outcome(countdown)
        case InstanceStopped(instance_id=instance_id, cause=cause):
            if not settled_by_instance(settlement, instance_id):
                return Outcome(countdown)
            if not countdown.active:
                return _start(cause, instance_id, now=now)
            if countdown.instance_id == instance_id and cause is Cause.INSTANCE_RELEASED:
                # Released after expiring: the clock keeps running from the expiry, but renewing is no
                # longer a way out, and the banner says so.
                return Outcome(replace(countdown, cause=cause))
            return Outcome(countdown)
        case InstanceRestored(instance_id=instance_id, lift=lift):
            if countdown.active and countdown.cause in INSTANCE_CAUSES and countdown.instance_id == instance_id:
                return _lift(lift)
            return Outcome(countdown)
        case SettlementMoved(to=to):
            # Any real move leaves the failed cause behind: an instance cause moves off that instance, an
            # unpaid bill off the billing-center account (a workspace settles one way at a time).
            if countdown.active and to != settlement:
                return _lift(Lift.SETTLEMENT_MOVED)
            return Outcome(countdown)
        case BillOverdue():
            if settlement.method is Method.BILLING_ACCOUNT and not countdown.active:
                return _start(Cause.UNPAID_BILL, "", now=now)
            return Outcome(countdown)
        case BillsPaid():
            if countdown.active and countdown.cause is Cause.UNPAID_BILL:
                return _lift(Lift.BILL_PAID)
            return Outcome(countdown)
    raise TypeError(f"not a countdown event: {event!r}")


def notice_context(countdown: Countdown, notice: Notice, *, lifted: Lift | None = None) -> dict[str, str]:
    """The context of a countdown notice, as agreed with the notice templates: ``locks_on`` (Beijing
    date), ``cause`` and ``instance_id`` for the countdown and lock notices, ``reason`` for ``unlocked``."""
    if notice is Notice.UNLOCKED:
        assert lifted is not None
        return {"reason": lifted.value}
    assert countdown.locks_at is not None and countdown.cause is not None
    return {
        "locks_on": beijing_day(countdown.locks_at).isoformat(),
        "cause": countdown.cause.value,
        "instance_id": countdown.instance_id,
    }


def day_is_locked(periods: list[tuple[datetime, datetime | None]], day: date) -> bool:
    """Whether the Beijing ``day`` lies wholly inside one of the lock ``periods`` ([locked, lifted), lifted
    None: still locked). Such a day gets no bill and no metering record: no usage of it was accepted."""
    start, end = day_window(day)
    return any(locked <= start and (lifted is None or lifted >= end) for locked, lifted in periods)


def usage_refusal(
    hour: datetime, *, periods: list[tuple[datetime, datetime | None]], dissolved_at: datetime | None
) -> str | None:
    """Why usage of ``hour`` for a workspace is refused (the usage API answers 403 with it), or None.

    Usage of an hour the workspace is (or was) locked is refused: a locked workspace takes no data, and
    its locked days are never billed. So is usage from the moment a workspace was dissolved on.
    """
    if dissolved_at is not None and hour >= dissolved_at:
        return f"the workspace was dissolved on {beijing_day(dissolved_at)} (Beijing time); its usage is refused"
    for locked, lifted in periods:
        if locked <= hour and (lifted is None or hour < lifted):
            return (
                f"the workspace is locked from {beijing_day(locked)} (Beijing time): its lock countdown ran out; "
                "usage of a locked workspace is refused until it is unlocked"
            )
    return None
