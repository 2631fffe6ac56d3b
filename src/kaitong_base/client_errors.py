"""gunicorn's answer to a request it cannot read, in the application's JSON instead of gunicorn's HTML.

gunicorn answers some requests itself, before any application sees them: a request line longer than
``limit_request_line``, a malformed request line or header, headers over their limits. Its answer is an
HTML page, and it has no setting to change it (benoitc/gunicorn#993). A JSON API whose every answer
must be JSON (the marketplace SPI) gets from ``json_client_errors`` a ``post_worker_init`` hook that has
each worker answer these requests with the application's JSON body and the status gunicorn would have
sent (414, 431, 400). Everything else (an application error, TLS) is still gunicorn's to answer.

The limit itself stays: gunicorn still reads no more than ``limit_request_line`` bytes of a request line
(8190, the most it allows; 0 would let one line grow without bound in memory).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from gunicorn import util
from gunicorn.http import errors

ClientErrorBody = Callable[[str], Mapping[str, Any]]

# (what gunicorn raised, status, reason phrase, message) — the first match wins. Errors in the response
# the application wrote are subclasses of the header errors, and stay gunicorn's (a 500).
_APPLICATION_ERRORS = (errors.InvalidResponseHeader, errors.InvalidResponseHeaderName)
_CLIENT_ERRORS: list[tuple[type[Exception] | tuple[type[Exception], ...], int, str, str]] = [
    (errors.LimitRequestLine, 414, "URI Too Long", "request line too long (over {limit} bytes)"),
    (errors.LimitRequestHeaders, 431, "Request Header Fields Too Large", "request headers too large"),
    (
        (
            errors.InvalidRequestLine,
            errors.InvalidRequestMethod,
            errors.InvalidHTTPVersion,
            errors.InvalidHeader,
            errors.InvalidHeaderName,
            errors.ObsoleteFolding,
        ),
        400,
        "Bad Request",
        "malformed request",
    ),
]


def client_error_answer(exc: BaseException, *, body: ClientErrorBody, limit: int) -> bytes | None:
    """The whole HTTP answer to a request gunicorn could not read, or None if ``exc`` is not such a case.

    The message is ours: gunicorn's own messages repeat the request line, which may hold a token."""
    if isinstance(exc, _APPLICATION_ERRORS):
        return None
    for kinds, status, reason, message in _CLIENT_ERRORS:
        if isinstance(exc, kinds):
            payload = json.dumps(body(message.format(limit=limit)), ensure_ascii=False).encode()
            head = (
                f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n"
            )
            return head.encode("latin-1") + payload
    return None


def json_client_errors(body: ClientErrorBody) -> Callable[[Any], None]:
    """A ``post_worker_init`` hook: the worker answers unreadable requests with ``body(message)`` as JSON."""

    def post_worker_init(worker: Any) -> None:
        gunicorns_answer = worker.handle_error
        limit = worker.cfg.limit_request_line

        def handle_error(req: Any, client: Any, addr: Any, exc: BaseException) -> None:
            answer = client_error_answer(exc, body=body, limit=limit)
            if answer is None:
                gunicorns_answer(req, client, addr, exc)
                return
            # gunicorn logs each of these as a warning; anyone can send them, so only at debug level here.
            worker.log.debug("unreadable request from %s: %s", (addr or ("",))[0], exc)
            with contextlib.suppress(OSError):
                util.write_nonblock(client, answer)

        worker.handle_error = handle_error

    return post_worker_init
