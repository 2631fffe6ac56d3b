"""Capacity the marketplace's SPI calls keep under any load on the other pages (issue 10, item 8).

Two limits, measured in ``docs/decisions/2026-11-30-spi-capacity-under-flood.md``:

- ``keep_threads_for_spi`` wraps the WSGI application ``kaitong serve`` runs: in each worker process,
  requests to other paths may occupy at most ``threads - reserved`` of its threads at once; one more
  is answered at once with 503, ``Retry-After`` and the page saying to reload in a few seconds (JSON on
  the usage API), before Django sees it. The SPI and the probes are never refused, so a thread is
  always free for them however many slow pages (a sign-in waiting for Argon2, a heavy bill list) are
  in flight. Refusing rather than waiting is the point: a request waiting for a slot would hold the
  very thread the SPI is owed.
- ``AnswerBusyHashing`` (a Django middleware) answers ``accounts.hashers.HashingBusy``, raised when a
  password hash waited too long for its turn, with 429, ``Retry-After`` and the same page.
  ``config/views.server_error`` answers an unavailable database with that page too.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import translation

from kaitong.accounts.hashers import HashingBusy
from kaitong.config import metrics

# Paths served on any thread and never refused: the marketplace's SPI, whose caller gives up after 5 s
# and then retries for hours, and the probes: a busy process must not be restarted (liveness) or taken
# out of the load balancer (readiness) for it, and its metrics must show the flood. All are quick.
RESERVED_PATHS = frozenset({"/marketplace/aliyun/spi", "/healthz", "/readyz", "/metrics"})
# Seconds a client refused for lack of threads is told to wait: slow pages finish in about that.
RETRY_AFTER_SECONDS = 1
# Refusals are logged as one line per process at most this often, not one line each (a flood of them).
REPORT_EVERY_SECONDS = 60

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def reserved_threads(threads: int) -> int:
    """Threads of a worker kept for the reserved paths: a quarter, at least one."""
    return max(1, threads // 4)


def keep_threads_for_spi(app: WSGIApp, *, threads: int) -> WSGIApp:
    """``app``, with at most ``threads - reserved_threads(threads)`` requests off the reserved paths
    in flight at once. A worker of one thread (gunicorn's sync worker) has nothing to keep: ``app``."""
    shared = threads - reserved_threads(threads)
    if shared < 1:
        return app
    return _SharedThreads(app, shared=shared)


class _SharedThreads:
    def __init__(self, app: WSGIApp, *, shared: int) -> None:
        self.app = app
        self.shared = shared
        self.slots = threading.BoundedSemaphore(shared)
        self.lock = threading.Lock()
        self.refused = 0
        self.reported_at = time.monotonic() - REPORT_EVERY_SECONDS

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") in RESERVED_PATHS:
            return self.app(environ, start_response)
        if not self.slots.acquire(blocking=False):
            started = time.perf_counter()
            self._report_refusal()
            answer = _refuse(environ, start_response)
            metrics.observe_request(
                path=environ.get("PATH_INFO", ""),
                method=environ.get("REQUEST_METHOD", ""),
                status=503,
                seconds=time.perf_counter() - started,
            )
            return answer
        try:
            body = self.app(environ, start_response)
        except BaseException:
            self.slots.release()
            raise
        # The thread is busy until the server has written the body and closed it.
        return _ReleasedOnClose(body, self.slots.release)

    def _report_refusal(self) -> None:
        with self.lock:
            self.refused += 1
            now = time.monotonic()
            if now - self.reported_at < REPORT_EVERY_SECONDS:
                return
            refused, since, self.refused, self.reported_at = self.refused, self.reported_at, 0, now
        log.warning(
            "all %d threads other pages may hold are busy: %d requests answered 503 in the last %.0f s",
            self.shared,
            refused,
            min(now - since, REPORT_EVERY_SECONDS),
        )


class _ReleasedOnClose:
    def __init__(self, body: Iterable[bytes], release: Callable[[], None]) -> None:
        self.body = body
        self.release: Callable[[], None] | None = release

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            release, self.release = self.release, None
            if release is not None:  # once, however often close() is called
                release()


# The page a browser gets (the one of an unavailable database too): it says to reload in a few seconds.
PAGE = "unavailable.html"
_pages: dict[str, bytes] = {}


def _page(language: str) -> bytes:
    # Rendered once per language and process: a refusal must cost next to nothing, or a flood of
    # refused requests would take the CPU the reserved paths need.
    if language not in _pages:
        with translation.override(language):
            _pages[language] = render_to_string(PAGE, {"retry_after": RETRY_AFTER_SECONDS}).encode()
    return _pages[language]


def _refuse(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    language = translation.get_language_from_request(WSGIRequest(environ))
    if environ.get("PATH_INFO", "").startswith("/api/"):
        # The usage API's callers read JSON (its error shape).
        body = json.dumps({"message": "server busy, try again in a few seconds", "errors": []}).encode()
        content_type = "application/json"
    else:
        body, content_type = _page(language), "text/html; charset=utf-8"
    start_response(
        "503 Service Unavailable",
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Retry-After", str(RETRY_AFTER_SECONDS)),
            ("Cache-Control", "no-store"),
            ("Content-Language", language),
            # Django's middleware never sees this answer: the headers it would add, for this page.
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "same-origin"),
            ("Content-Security-Policy", "default-src 'none'; style-src 'self'; frame-ancestors 'none'"),
        ],
    )
    return [body]


class AnswerBusyHashing:
    """Django middleware: a password hash that could not get its turn is a 429 the client may retry."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, HashingBusy):
            return None
        response = render(request, PAGE, {"retry_after": exception.retry_after}, status=429)
        response["Retry-After"] = str(exception.retry_after)
        response["Cache-Control"] = "no-store"
        return response
