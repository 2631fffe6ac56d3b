"""The demo's clock: real time plus an offset that only moves forward, so that the 14 days of a lock
countdown can be watched to their end in minutes (issue 12, "advance the clock").

Demo and tests only: both programs refuse ``KAITONG_CLOCK_OFFSET_FILE`` in production (their
configurations say so at start-up). The offset lives in that file, a whole number of seconds, so that
every process of the demo (the vendor's web server, its worker, the marketplace simulator) agrees on
the time; the simulator's 已购买的服务 page moves it.

``install`` replaces ``django.utils.timezone.now``, which every reader of the time in these programs
calls: the apps' own code, Django's sessions and ``auto_now`` fields, the job engine's ``run_after``.
Shifting only some of them would make one process disagree with itself (a day closed into bills while
the usage API still takes samples for it, a retried task due in a future the worker never reaches).
What another party stamps with the machine's real clock — the Market API SDK's request timestamps —
is checked against ``real_now``.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from pathlib import Path

from django.utils import timezone

OFFSET_FILE_VARIABLE = "KAITONG_CLOCK_OFFSET_FILE"
# How far the demo's clock may run ahead: a year covers every countdown, expiry and renewal to watch.
MAX_OFFSET = timedelta(days=366)
# A process re-reads the file at most this often (seconds): the pages and the worker move together
# within it, and the file is not read on every one of a request's many looks at the clock.
REREAD_SECONDS = 0.5

_real_now = timezone.now


def real_now() -> datetime:
    """The machine's own time, whatever the demo's offset."""
    return _real_now()


class ClockOffsetError(ValueError):
    """The offset asked for is not a forward step within MAX_OFFSET."""


def read_offset(path: str | os.PathLike[str]) -> timedelta:
    """The offset in ``path`` (none: the file is missing or empty). A value that is not a whole number of
    seconds between 0 and MAX_OFFSET counts as none: the demo's clock never runs backwards or wild."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return timedelta(0)
    if not text.isdigit():
        return timedelta(0)
    seconds = int(text)
    if seconds > MAX_OFFSET.total_seconds():
        return timedelta(0)
    return timedelta(seconds=seconds)


def write_offset(path: str | os.PathLike[str], offset: timedelta) -> None:
    """Store ``offset`` (whole seconds), replacing the file at once so no reader sees half of it."""
    if offset < timedelta(0) or offset > MAX_OFFSET:
        raise ClockOffsetError(f"the demo clock's offset must lie between 0 and {MAX_OFFSET.days} days")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}")
    temporary.write_text(f"{int(offset.total_seconds())}\n", encoding="ascii")
    os.replace(temporary, target)


def advance(path: str | os.PathLike[str], by: timedelta) -> timedelta:
    """Move the demo's clock forward by ``by``; return the new offset. Raises ClockOffsetError."""
    if by <= timedelta(0):
        raise ClockOffsetError("the demo clock only moves forward")
    offset = read_offset(path) + by
    write_offset(path, offset)
    current = installed()
    if current is not None and Path(current.path) == Path(path):
        current.forget()  # this process sees its own step at once (the page it redirects to shows it)
    return offset


class OffsetClock:
    """``timezone.now`` with the offset of ``path`` added (re-read at most every REREAD_SECONDS)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path
        self._offset = read_offset(path)
        self._read_at = time.monotonic()

    def forget(self) -> None:
        """Read the file again on the next look."""
        self._read_at = float("-inf")

    def offset(self) -> timedelta:
        if time.monotonic() - self._read_at >= REREAD_SECONDS:
            self._offset = read_offset(self.path)
            self._read_at = time.monotonic()
        return self._offset

    def __call__(self) -> datetime:
        return _real_now() + self.offset()


def install(path: str | os.PathLike[str]) -> OffsetClock:
    """Make ``django.utils.timezone.now`` the offset clock of ``path`` in this process (demo and tests)."""
    clock = OffsetClock(path)
    setattr(timezone, "now", clock)  # noqa: B010 (a module attribute every caller looks up when it calls)
    return clock


def uninstall() -> None:
    """Back to the machine's own time (tests)."""
    setattr(timezone, "now", _real_now)  # noqa: B010


def installed() -> OffsetClock | None:
    """The offset clock this process runs on (None: the machine's own time)."""
    now = getattr(timezone, "now")  # noqa: B009
    return now if isinstance(now, OffsetClock) else None
