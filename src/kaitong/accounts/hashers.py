"""Argon2 with a cap: a flood of sign-ins cannot make this process hash more than one password at a time.

Every password Django hashes or checks goes through the hasher named first in PASSWORD_HASHERS:
console and operator sign-in (``check_password``, and for an unknown username the dummy hash Django
computes so that the answer takes as long), registration (``make_password``), a rehash on upgrade.
Django's Argon2 takes about 0.3 s of CPU and 100 MiB per hash; 24 anonymous clients hashing at once
took both cores and every server thread, and the marketplace's SPI calls waited up to 20 s (issue 10,
item 8; ``docs/decisions/2026-11-30-spi-capacity-under-flood.md``).

So each process hashes in ``HASHING_SLOTS`` threads of its own, at the lowest CPU priority (nice 19):
whatever else the server does (an SPI call, a page) takes the CPU first, and hashing gets what is
left. A request waits at most ``WAIT_SECONDS`` for a free slot; then ``HashingBusy`` is raised, which
``kaitong.config.capacity`` answers with 429, ``Retry-After`` and a page saying to try again shortly.
A known and an unknown username wait in the same queue, so their answers still take as long.
The stored format is Django's own (algorithm ``argon2``): nothing is rehashed because of this class.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.contrib.auth.hashers import Argon2PasswordHasher

# Hashes at once per process. One Django Argon2 hash already runs 8 lanes on as many threads, so one
# is enough to use every core there is; a second would only add memory (100 MiB) and waiting threads.
HASHING_SLOTS = 1
# How long a request waits for a slot: a few hashes' worth, so a person signing in during a burst
# waits a moment instead of being refused, while a flood is refused before it holds threads for long.
WAIT_SECONDS = 1.0
# Seconds a refused client is told to wait before trying again.
RETRY_AFTER_SECONDS = 2
# nice(2) of the hashing threads: lowest priority, so hashing only gets CPU nobody else wants.
HASHING_NICENESS = 19

T = TypeVar("T")


class HashingBusy(Exception):
    """Every hashing slot of this process stayed taken for ``WAIT_SECONDS``: ask again shortly."""

    retry_after = RETRY_AFTER_SECONDS


def _lower_priority() -> None:
    # On Linux the nice value belongs to the thread (and to the threads it starts, Argon2's lanes).
    # An unprivileged process can lower its priority but never raise it back, hence threads of their own.
    # Elsewhere (no setpriority, or not allowed) hashing runs at the usual priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


class _Hashing:
    """``HASHING_SLOTS`` niced threads and a semaphore a caller waits on at most ``WAIT_SECONDS``."""

    def __init__(self) -> None:
        self._reset()
        # gunicorn forks its workers after kaitong is imported (and the demo hashes its seed passwords
        # before it serves): a child must not inherit a pool whose threads stayed in the parent.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self.slots = threading.BoundedSemaphore(HASHING_SLOTS)
        self.pool = ThreadPoolExecutor(HASHING_SLOTS, thread_name_prefix="argon2", initializer=_lower_priority)

    def run(self, work: Callable[..., T], *args: Any) -> T:
        if not self.slots.acquire(timeout=WAIT_SECONDS):
            raise HashingBusy
        try:
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
