"""The lifecycle of one marketplace instance, as a pure function of (state, call, now).

The marketplace may repeat, reorder and retry its calls (protocol §1.5), so every transition is decided
here from absolute values, never from "what came last":

- ``renew`` sets the expiry to the later of the stored and the new one and unfreezes;
- ``expired`` freezes only when the instance has no expiry or its expiry has passed — an ``expired``
  that arrives after a ``renew`` moved the expiry into the future is stale: acknowledged, no change;
- ``released`` is final: later calls for it are acknowledged (expire/release) or refused with a
  message (renew/upgrade/resume, which cannot be honoured);
- expire/release of an unknown instance is acknowledged, or the marketplace would retry 120 times;
  renew/upgrade/resume of an unknown instance fails, so the marketplace retries until create arrives.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

# The marketplace speaks Beijing time (protocol §1.3), and so do the days operators read.
BEIJING = ZoneInfo("Asia/Shanghai")

# Every time an instance, the inbox or its audit trail holds lies in these years (Beijing time): no real
# subscription lies outside them, and a time far outside them may not even be readable back (PostgreSQL
# stores years Python cannot hold, and a year-9999 time overflows when shown in Beijing time). The SPI
# refuses other times, and a CHECK constraint on every such column (models.py) refuses them from anyone.
PLAUSIBLE_YEARS = range(2000, 2101)
EARLIEST_TIME = datetime(PLAUSIBLE_YEARS.start, 1, 1, tzinfo=BEIJING)
END_OF_TIME = datetime(PLAUSIBLE_YEARS.stop, 1, 1, tzinfo=BEIJING)  # the first instant after the window


def is_plausible_time(moment: datetime) -> bool:
    return EARLIEST_TIME <= moment < END_OF_TIME


class State(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    RELEASED = "released"


class Action(StrEnum):
    CREATE = "createInstance"
    RENEW = "renewInstance"
    UPGRADE = "upgradeInstance"
    EXPIRE = "expiredInstance"
    RELEASE = "releaseInstance"
    RESUME = "resumeInstance"


@dataclass(frozen=True)
class Instance:
    """What the lifecycle needs to know of an instance; the model stores the same fields."""

    state: State
    sku_id: str
    expires_at: datetime | None
    refunded: bool = False
    # Orders already applied by renew/upgrade: a replayed or retried order changes nothing twice.
    applied_orders: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Call:
    """A verified, parsed lifecycle call (create is handled by the unique insert, not here)."""

    action: Action
    expires_at: datetime | None = None
    sku_id: str | None = None
    is_refund: bool = False
    order_id: str | None = None

    @property
    def order_key(self) -> str | None:
        """Idempotency key of a renew/upgrade (protocol §1.5): the order, else the target SKU."""
        if self.action is Action.RENEW and self.order_id:
            return f"renew:{self.order_id}"
        if self.action is Action.UPGRADE:
            return f"upgrade:{self.order_id or ''}:{self.sku_id}"
        return None


@dataclass(frozen=True)
class Outcome:
    """The verdict on a call: the new instance (or None when nothing changes) and the answer."""

    success: bool
    instance: Instance | None
    message: str = ""

    @property
    def changed(self) -> bool:
        return self.instance is not None


def acknowledged(message: str = "") -> Outcome:
    return Outcome(success=True, instance=None, message=message)


def refused(message: str) -> Outcome:
    return Outcome(success=False, instance=None, message=message)


def decide(current: Instance | None, call: Call, *, now: datetime) -> Outcome:
    """Decide what ``call`` does to ``current`` at ``now``. Pure: no I/O, no clock."""
    if current is None:
        if call.action in (Action.EXPIRE, Action.RELEASE):
            return acknowledged("unknown instance; nothing to do")
        return refused("unknown instance")

    if current.state is State.RELEASED:
        if call.action in (Action.EXPIRE, Action.RELEASE):
            return acknowledged("instance already released")
        return refused("instance released; it cannot be renewed, upgraded or resumed")

    key = call.order_key
    if key is not None and key in current.applied_orders:
        return acknowledged("duplicate order; already applied")
    applied = current.applied_orders | {key} if key else current.applied_orders

    match call.action:
        case Action.RENEW:
            expires_at = current.expires_at
            if call.expires_at is not None and (expires_at is None or call.expires_at > expires_at):
                expires_at = call.expires_at
            return _changed(
                current, replace(current, state=State.ACTIVE, expires_at=expires_at, applied_orders=applied)
            )
        case Action.UPGRADE:
            assert call.sku_id is not None
            return _changed(current, replace(current, sku_id=call.sku_id, applied_orders=applied))
        case Action.EXPIRE:
            if current.expires_at is not None and current.expires_at > now:
                return acknowledged("stale: the instance is renewed until a later date")
            return _changed(current, replace(current, state=State.EXPIRED))
        case Action.RELEASE:
            return _changed(current, replace(current, state=State.RELEASED, refunded=call.is_refund))
        case Action.RESUME:
            return _changed(current, replace(current, state=State.ACTIVE))
    raise ValueError(f"not a lifecycle call: {call.action}")


def _changed(before: Instance, after: Instance) -> Outcome:
    # A duplicate call lands here with after == before: it succeeds and writes nothing.
    return Outcome(success=True, instance=None if after == before else after)


# --- the marketplace's own view: confirming calls, reconciling instances --------------------------------
#
# The SPI token is an md5 over the parameters and a shared key, with no timestamp or nonce (protocol
# §1.2), so a captured URL stays valid for ever. Calls tied to a new order (create, renew, upgrade) are
# idempotent by that order; the others — expire, release, resume — would change the state again when
# replayed. Before applying one of those, the vendor asks the marketplace (DescribeInstanceForIsv) what
# it says of the instance, and a call the marketplace's own view rules out is acknowledged and ignored.


class MarketStatus(StrEnum):
    """``Status`` of an APP-type instance in DescribeInstanceForIsv (protocol §3.3)."""

    OPENING = "OPENING"
    OPENED = "OPENED"
    EXPIRED = "EXPIRED"
    CLOSED = "CLOSED"


# What each marketplace status means for our state.
MARKET_STATE = {
    MarketStatus.OPENING: State.ACTIVE,
    MarketStatus.OPENED: State.ACTIVE,
    MarketStatus.EXPIRED: State.EXPIRED,
    MarketStatus.CLOSED: State.RELEASED,
}

# Calls carrying no order of their own: a replay of one is not recognisable from its parameters.
CONFIRMED_ACTIONS = frozenset({Action.EXPIRE, Action.RELEASE, Action.RESUME})

# The marketplace statuses under which it cannot have sent the call just now. An expire or a release
# is ruled out while the marketplace has the instance in service; a resume once it has expired or
# closed it. A release of an instance the marketplace shows EXPIRED is let through: releases follow
# expiry, and the marketplace may show the release a little after sending it.
_RULED_OUT_BY = {
    Action.EXPIRE: frozenset({MarketStatus.OPENING, MarketStatus.OPENED}),
    Action.RELEASE: frozenset({MarketStatus.OPENING, MarketStatus.OPENED}),
    Action.RESUME: frozenset({MarketStatus.EXPIRED, MarketStatus.CLOSED}),
}

# DescribeInstanceForIsv gives times in milliseconds, the SPI in whole seconds: closer than this is equal.
EXPIRY_TOLERANCE = timedelta(seconds=1)


@dataclass(frozen=True)
class MarketView:
    """What the marketplace says of one instance: its status and its expiry (``EndOn``; none for
    pay-as-you-go)."""

    status: MarketStatus
    ends_at: datetime | None = None


def needs_confirmation(call: Call) -> bool:
    return call.action in CONFIRMED_ACTIONS


def ruled_out(call: Call, view: MarketView) -> bool:
    """Whether the marketplace's ``view`` rules out that it sent ``call`` now (a replay, or a call
    overtaken by a later one): acknowledge it and change nothing."""
    return view.status in _RULED_OUT_BY.get(call.action, frozenset())


def differences(local: Instance, view: MarketView) -> tuple[str, ...]:
    """How our record of an instance differs from the marketplace's, one line per field (none: they agree).

    An expiry is compared only when both sides have one: a pay-as-you-go instance may have none here
    while the marketplace shows a nominal one.
    """
    found = []
    if local.state is not MARKET_STATE[view.status]:
        found.append(f"state: ours {local.state.value}, marketplace {view.status.value}")
    if (
        local.expires_at is not None
        and view.ends_at is not None
        and abs(local.expires_at - view.ends_at) >= EXPIRY_TOLERANCE
    ):
        ours, theirs = local.expires_at.astimezone(UTC).isoformat(), view.ends_at.astimezone(UTC).isoformat()
        found.append(f"expiry: ours {ours}, marketplace {theirs}")
    return tuple(found)


# -- SPI calls refused before they were authenticated ------------------------------------------------
# Anyone can send the SPI a call without a token, with a wrong one, or too malformed to check. Such a
# call is only counted, per source address, action and Beijing day (a tally, not the call itself), and
# past a daily number per address it is answered 429 until the next day. A correctly signed call is
# never counted or limited: the marketplace's calls cannot be starved by someone else's.

UNPARSED = "(unparsed)"  # too malformed to read the action
NO_ACTION = "(none)"
OTHER_ACTION = "(other)"  # any action the SPI does not know: a caller cannot add rows by inventing names
TALLY_KEPT_DAYS = 90
_KNOWN_ACTIONS = frozenset(action.value for action in Action)


def tally_action(action: str | None) -> str:
    """The action a refused call is counted under: one of a fixed few, whatever the caller sent."""
    if action is None:
        return UNPARSED
    if not action:
        return NO_ACTION
    return action if action in _KNOWN_ACTIONS else OTHER_ACTION


def tally_source(address: str) -> str:
    """The source a refused call is counted and limited under: its address, or for IPv6 its /64 network
    (one host usually holds a whole /64, and would otherwise get a fresh budget from every address)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def tally_day(now: datetime) -> date:
    return now.astimezone(BEIJING).date()


def seconds_until_next_day(now: datetime) -> int:
    """Until 00:00 Beijing time, when a throttled address may call again (Retry-After)."""
    next_day = datetime.combine(tally_day(now) + timedelta(days=1), time(0), tzinfo=BEIJING)
    return max(1, int((next_day - now).total_seconds() + 0.999))
