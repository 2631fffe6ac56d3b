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

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum


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
