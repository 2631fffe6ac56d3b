"""The metering ledger as a state machine: which event is legal in which state, and what it leads to.

Pure: no Django, no clock. ``ledger_writer.do_apply_ledger_event`` is the one writer that applies it
to ``MeteringRecord`` rows, writes the audit rows and raises the alarm where the table says so.

A record is pushed in steps that each commit before the next begins, so a process killed anywhere
leaves the ledger telling the truth::

    pending ──claimed──▶ claimed ──sent──▶ sent ──accepted──▶ accepted
       ▲                    │                │ ──rejected──▶ rejected ──operator retry──▶ pending
       └───lease expired────┘                │ ──retry later─▶ pending
                                             │ ──unknown / lease expired──▶ unknown
    unknown ──reconciled received──▶ accepted;  unknown ──reconciled not received──▶ pending

- *claimed*: leased to one pushing process. Nothing has left: if the process dies, its lease runs out
  and the record is pending again for the next claim, which takes it over (nothing is written before
  that: to a claim, a lapsed lease is no lease).
- *sent*: committed just before the request. From here on the request may have reached the
  marketplace, so no answer means *unknown*: never resent blindly; an operator reconciles it against
  the marketplace bill. An answer that arrives late (after the sweep called it unknown) is still the
  truth and is recorded.
- *accepted* is final: no event leaves it, not even an operator's. *rejected* waits for an operator
  (who fixes the cause and retries). Only events that prove nothing was recorded at the marketplace
  (an answer "retry later", an operator's "not received", an operator's retry of a rejection) lead
  back to *pending*, and so to another request.

``claimed`` is not a stored state: it is a pending row with a live lease (``kaitong_base.claims``),
which is why claiming, and a claim's lease running out, write no audit row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"  # stored as pending, with a live lease held by one pushing process
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNKNOWN = "unknown"

    @property
    def stored(self) -> str:
        """The value of ``MeteringRecord.state`` for this state."""
        return State.PENDING.value if self is State.CLAIMED else self.value


class Event(StrEnum):
    CLAIMED = "claimed"  # a pushing process leased the record
    SENT = "sent"  # committed just before the request leaves
    ACCEPTED = "accepted"  # answer: the marketplace recorded it
    REJECTED = "rejected"  # answer: refused for a reason; nothing recorded
    RETRY_LATER = "retry_later"  # answer: flow control, or the connection never opened; nothing recorded
    ANSWER_UNKNOWN = "answer_unknown"  # answer: timeout or unexplained error; it may have been recorded
    LEASE_EXPIRED = "lease_expired"  # the holder's lease ran out without an answer
    RECONCILED_RECEIVED = "reconciled_received"  # operator: found on the marketplace bill
    RECONCILED_NOT_RECEIVED = "reconciled_not_received"  # operator: not on the bill; push it again
    OPERATOR_RETRY = "operator_retry"  # operator: the cause of a rejection is fixed; push it again


class Lease(StrEnum):
    """What a transition does to the pushing process's hold on the record."""

    TAKE = "take"  # leased to the claimer
    KEEP = "keep"  # unchanged: the holder may still record the answer
    END = "end"  # the holder is done (its answer is in)
    DROP = "drop"  # taken away: whatever the old holder answers later is not recorded


class Alarm(StrEnum):
    """What a transition does to the record's alarm flag (and the operator's email)."""

    KEEP = "keep"
    RAISE = "raise"  # flag it and mail the operator (once per record: a flagged record stays quiet)
    CLEAR = "clear"  # a reopened record alarms again if it fails again


@dataclass(frozen=True)
class Transition:
    to: State
    lease: Lease = Lease.KEEP
    alarm: Alarm = Alarm.KEEP


class Refused(Exception):
    """``event`` is not possible in ``state``: nothing changes."""

    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"a {state} record cannot take '{event}'")
        self.state = state
        self.event = event


ANSWERS = frozenset({Event.ACCEPTED, Event.REJECTED, Event.RETRY_LATER, Event.ANSWER_UNKNOWN})
# Only the process that holds the record (its claim token) may apply these.
HOLDER_EVENTS = ANSWERS | {Event.SENT}
OPERATOR_EVENTS = frozenset({Event.RECONCILED_RECEIVED, Event.RECONCILED_NOT_RECEIVED, Event.OPERATOR_RETRY})


def _answers(lease: Lease) -> dict[Event, Transition]:
    """What an answer does, whether it finds the record sent or already called unknown by the sweep."""
    return {
        Event.ACCEPTED: Transition(State.ACCEPTED, lease),
        Event.REJECTED: Transition(State.REJECTED, lease, Alarm.RAISE),
        Event.RETRY_LATER: Transition(State.PENDING, lease),
        Event.ANSWER_UNKNOWN: Transition(State.UNKNOWN, lease, Alarm.RAISE),
    }


REOPEN = Transition(State.PENDING, Lease.DROP, Alarm.CLEAR)

# Every legal (state, event); any pair not listed is refused.
TABLE: Mapping[State, Mapping[Event, Transition]] = {
    State.PENDING: {
        Event.CLAIMED: Transition(State.CLAIMED, Lease.TAKE),
    },
    State.CLAIMED: {
        Event.SENT: Transition(State.SENT),
        Event.LEASE_EXPIRED: Transition(State.PENDING),
    },
    State.SENT: {
        **_answers(Lease.END),
        Event.LEASE_EXPIRED: Transition(State.UNKNOWN, Lease.KEEP, Alarm.RAISE),
    },
    State.UNKNOWN: {
        **_answers(Lease.END),
        Event.RECONCILED_RECEIVED: Transition(State.ACCEPTED),
        Event.RECONCILED_NOT_RECEIVED: REOPEN,
    },
    State.REJECTED: {
        Event.OPERATOR_RETRY: REOPEN,
    },
    State.ACCEPTED: {},
}


def transition(state: State, event: Event) -> Transition:
    """What ``event`` does to a record in ``state``; raises Refused when the table does not allow it."""
    try:
        return TABLE[state][event]
    except KeyError:
        raise Refused(state, event) from None


def sources(event: Event) -> frozenset[State]:
    """The states in which ``event`` is legal (the writer reads only rows in these states)."""
    return frozenset(state for state, events in TABLE.items() if event in events)


def observed(stored: str, *, held: bool) -> State:
    """The state of a row: its stored state, or *claimed* for a pending row held by the caller's claim."""
    state = State(stored)
    return State.CLAIMED if state is State.PENDING and held else state


TERMINAL = frozenset(state for state, events in TABLE.items() if not (set(events) - OPERATOR_EVENTS))
