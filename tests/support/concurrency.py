"""Many callers at the same moment, for the races a UNIQUE constraint must decide."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable

from django.db import connections
from django.http import HttpResponse
from django.test import Client


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


def from_one_browser_at_once(
    client: Client, count: int, send: Callable[[Client, int], HttpResponse]
) -> list[HttpResponse]:
    """``send(browser, n)`` in ``count`` threads at once, each a test client holding ``client``'s cookies
    (one browser's session, as a double click or a script with a stolen cookie sends them); the
    responses in ``n`` order. Real parallel requests: each thread has its own database connection."""
    responses: list[HttpResponse | None] = [None] * count

    def one(n: int) -> None:
        browser = Client()
        browser.cookies = copy.deepcopy(client.cookies)
        responses[n] = send(browser, n)

    at_once(count, one)
    assert all(response is not None for response in responses), "a request raised: see the output above"
    return [response for response in responses if response is not None]
