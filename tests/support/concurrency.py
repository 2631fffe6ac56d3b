"""Many callers at the same moment, for the races a UNIQUE constraint must decide."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections


def at_once(count: int, work: Callable[[int], None]) -> None:
    """Run ``work(0)`` … ``work(count - 1)`` in ``count`` threads released together; each thread closes
    its database connections when done. ``work`` records its own outcomes."""
    start = threading.Barrier(count)

    def thread_body(n: int) -> None:
        try:
            start.wait()
            work(n)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=thread_body, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
