"""Pure rules of the job engine: how long to wait before a retry or a reconnect, and the time slots of
periodic duties. No Django, no clock: callers pass ``now``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

# A failed task runs again after 5 s, 10 s, 20 s … at most 15 minutes apart.
RETRY_FIRST = timedelta(seconds=5)
RETRY_LONGEST = timedelta(minutes=15)
# While the database is unavailable the worker tries it again after 1 s, 2 s, 4 s … at most 30 s apart.
RECONNECT_FIRST_SECONDS = 1.0
RECONNECT_LONGEST_SECONDS = 30.0


def retry_delay(*, attempts: int) -> timedelta:
    """How long a task that has failed ``attempts`` times (≥ 1) waits before its next attempt."""
    return min(RETRY_LONGEST, RETRY_FIRST * 2 ** max(0, attempts - 1))


def next_reconnect_delay(seconds: float) -> float:
    """The wait after one of ``seconds`` that did not find the database back: twice as long, capped."""
    return min(RECONNECT_LONGEST_SECONDS, seconds * 2)


Slot = Callable[[datetime], str]


def every(period: timedelta) -> Slot:
    """Slots of ``period`` counted from the Unix epoch, each named by its start (UTC, ISO 8601).

    A duty on ``every(timedelta(minutes=1))`` fires once a minute however many schedulers look.
    """
    seconds = period.total_seconds()
    if seconds <= 0:
        raise ValueError("a period must be positive")

    def slot(now: datetime) -> str:
        start = int(now.timestamp() // seconds * seconds)
        return datetime.fromtimestamp(start, tz=UTC).isoformat(timespec="seconds")

    return slot
