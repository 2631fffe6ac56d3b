"""The circuit breaker on PushMeteringData, as pure rules: when pushing stops, when it probes, what an
answer does to it.

Every request whose answer leaves its records *unknown* (a read timeout, a reset after sending, an
unexplained server error) costs an operator a reconciliation against the marketplace bill. Against a
Market API that accepts connections and never answers, every batch of the day would end that way. So:

- *closed*: batches are sent. ``THRESHOLD`` unknown answers in a row open the breaker; any other answer
  (accepted, rejected, retry later: the marketplace answered, or the request never left) resets the count.
- *open*: nothing is sent; the records stay pending (nothing to reconcile) and the alarm is raised once.
  From ``retry_at`` on, one process probes with one request carrying a single record. An answer that is
  not unknown closes the breaker and pushing resumes; an unknown one keeps it open, and the next probe
  waits twice as long (1, 2, 4, 8, then every 15 minutes).

A late answer (a request sent before the breaker opened) is still an answer: unknown, it changes no
schedule; anything else proves the marketplace answers, and closes the breaker.

Pure: no Django, no clock. ``breaker_writer`` keeps the one shared row and applies these rules.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

THRESHOLD = 3  # unknown answers in a row that open the breaker
FIRST_WAIT = timedelta(minutes=1)  # from opening to the first probe
LONGEST_WAIT = timedelta(minutes=15)  # between probes, however long the Market API stays silent
PROBE_RECORDS = 1  # a probe that goes unanswered costs one record's reconciliation, not a batch's


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"


@dataclass(frozen=True)
class Breaker:
    state: State = State.CLOSED
    failures: int = 0  # unknown answers in a row
    probes: int = 0  # probes that went unanswered since it opened
    retry_at: datetime | None = None  # open: no probe before this


@dataclass(frozen=True)
class Change:
    after: Breaker
    opened: bool = False  # it just opened: raise the alarm
    closed: bool = False  # it just closed: pushing resumes


def wait_after(unanswered_probes: int) -> timedelta:
    """How long after opening (0) or after the n-th unanswered probe the next probe waits."""
    return min(FIRST_WAIT * 2 ** min(unanswered_probes, 10), LONGEST_WAIT)


def answered(breaker: Breaker, *, unknown: bool, probe: bool, now: datetime) -> Change:
    """What an answer does: ``unknown`` when it leaves its records unknown; ``probe`` when it answers
    the probe the caller holds."""
    if not unknown:
        if breaker.state is State.OPEN:
            return Change(Breaker(), closed=True)
        return Change(replace(breaker, failures=0))
    failures = breaker.failures + 1
    if breaker.state is State.CLOSED:
        if failures >= THRESHOLD:
            return Change(Breaker(State.OPEN, failures, 0, now + wait_after(0)), opened=True)
        return Change(replace(breaker, failures=failures))
    if probe:
        probes = breaker.probes + 1
        return Change(replace(breaker, failures=failures, probes=probes, retry_at=now + wait_after(probes)))
    return Change(replace(breaker, failures=failures))


def may_probe(breaker: Breaker, *, now: datetime) -> bool:
    """An open breaker whose wait is over: one process may send the probe."""
    return breaker.state is State.OPEN and breaker.retry_at is not None and breaker.retry_at <= now
