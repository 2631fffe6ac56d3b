"""Argon2 with a cap: a flood of sign-ins cannot make this machine hash more than one password at a time.

Every password Django hashes or checks goes through the hasher named first in PASSWORD_HASHERS:
console and operator sign-in (``check_password``, and for an unknown username the dummy hash Django
computes so that the answer takes as long), registration (``make_password``), a rehash on upgrade.
Django's Argon2 takes about 0.3 s of CPU (8 lanes on 8 threads) and 100 MiB per hash; 24 anonymous
clients hashing at once took both cores and every server thread, and the marketplace's SPI calls
waited up to 20 s (issue 10, item 8; ``docs/decisions/2026-11-30-spi-capacity-under-flood.md``).

So a hash waits its turn, at most ``WAIT_SECONDS``: one at a time in a process (a semaphore), and one
at a time on the machine (an exclusive ``flock`` on ``settings.PASSWORD_HASHING_LOCK_FILE``, shared by
gunicorn's worker processes). It then runs in a thread of its own under ``SCHED_IDLE``: whatever else
the server does (an SPI call, a page) takes the CPU first and the moment it wakes. A hash that does
not get its turn raises ``HashingBusy``, which ``kaitong.config.capacity`` answers with 429,
``Retry-After`` and a page saying to try again shortly. A known and an unknown username wait in the
same line, so their answers still take as long. The stored format is Django's own (``argon2``, same
parameters): nothing is rehashed because of this class.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher

# Hashes at once per process. One Django Argon2 hash already runs 8 lanes on as many threads, so one
# is enough to use every core there is; a second would only add memory (100 MiB) and waiting threads.
HASHING_SLOTS = 1
# How long a request waits for its turn: a few hashes' worth, so a person signing in during a burst
# waits a moment instead of being refused, while a flood is refused before it holds threads for long.
WAIT_SECONDS = 1.0
# How often a process waiting for the machine's turn asks again (flock has no timeout of its own).
POLL_SECONDS = 0.01
# Seconds a refused client is told to wait before trying again.
RETRY_AFTER_SECONDS = 2

T = TypeVar("T")


class HashingBusy(Exception):
    """No turn to hash came within ``WAIT_SECONDS``: ask again shortly."""

    retry_after = RETRY_AFTER_SECONDS


def _lowest_priority() -> None:
    # On Linux scheduling belongs to the thread (and to the threads it starts: Argon2's lanes). A thread
    # can lower its own priority but never raise it back, hence threads of their own. SCHED_IDLE rather
    # than nice 19: a thread that wakes (an SPI call whose query came back) preempts an idle-class thread
    # at once, where against nice 19 it may wait out a time slice at each wake-up.
    tid = threading.get_native_id()
    try:
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux: the next best thing
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, tid, 19)


@contextlib.contextmanager
def _machine_turn(deadline: float) -> Iterator[None]:
    """Hold this machine's hashing lock (none configured: no machine-wide turn), or raise HashingBusy
    at ``deadline``. Closing the file releases the lock, even if the process dies holding it."""
    path: Path | None = getattr(settings, "PASSWORD_HASHING_LOCK_FILE", None)
    if path is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise HashingBusy from None
                time.sleep(POLL_SECONDS)
        yield
    finally:
        os.close(fd)


class _Hashing:
    """``HASHING_SLOTS`` idle-class threads, a semaphore and the machine's lock, waited on together
    for at most ``WAIT_SECONDS``."""

    def __init__(self) -> None:
        self._reset()
        # gunicorn forks its workers after kaitong is imported (and the demo hashes its seed passwords
        # before it serves): a child must not inherit a pool whose threads stayed in the parent.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self.slots = threading.BoundedSemaphore(HASHING_SLOTS)
        self.pool = ThreadPoolExecutor(HASHING_SLOTS, thread_name_prefix="argon2", initializer=_lowest_priority)

    def run(self, work: Callable[..., T], *args: Any) -> T:
        deadline = time.monotonic() + WAIT_SECONDS
        if not self.slots.acquire(timeout=WAIT_SECONDS):
            raise HashingBusy
        try:
            with _machine_turn(deadline):
                return self.pool.submit(work, *args).result()
        finally:
            self.slots.release()


hashing = _Hashing()


class CappedArgon2PasswordHasher(Argon2PasswordHasher):
    """Django's Argon2 hasher (same parameters, same stored format), run through ``hashing``."""

    def encode(self, password: str, salt: str) -> str:
        return hashing.run(super().encode, password, salt)

    def verify(self, password: str, encoded: str) -> bool:
        return hashing.run(super().verify, password, encoded)
