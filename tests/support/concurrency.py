"""Many callers at the same moment, for the races a UNIQUE constraint must decide."""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Callable, Iterator

from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpResponse
from django.test import Client

from kaitong.accounts import hashers
from kaitong_base.databases import sqlite_options


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


@contextlib.contextmanager
def patient_sqlite_writers(seconds: float = 60) -> Iterator[None]:
    """On SQLite, let threads wait ``seconds`` for the write lock (the deployment's default is 5 s).
    Forty threads of one test process queue on the write lock and, between its statements, on the
    GIL, far longer than a deployment's processes do; a test of what racing requests decide must not
    fail on how long the queue took. Connections opened inside take the option."""
    config = connections.settings[DEFAULT_DB_ALIAS]
    if config["ENGINE"] != "django.db.backends.sqlite3":
        yield
        return
    saved = config["OPTIONS"]
    config["OPTIONS"] = sqlite_options(config["NAME"], busy_timeout_seconds=seconds)
    try:
        yield
    finally:
        config["OPTIONS"] = saved


@contextlib.contextmanager
def patient_hashing(seconds: float = 300) -> Iterator[None]:
    """Let every password hash wait ``seconds`` for its turn (the deployment's wait is 1 s, then 429:
    ``accounts/hashers.py`` hashes one at a time). Racing requests that each hash (five clicks of a
    registration, forty sign-ins) take turns for longer than that on a loaded machine; a test of what
    the race decides must not fail on how long the turns took."""
    saved = hashers.WAIT_SECONDS
    hashers.WAIT_SECONDS = seconds
    try:
        yield
    finally:
        hashers.WAIT_SECONDS = saved
