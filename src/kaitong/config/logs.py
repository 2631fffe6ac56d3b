"""Log lines that a request cannot forge, readable on a console and one JSON object each in production.

Either way a message's control characters never reach the log raw: the console format escapes them
(``\\n``, ``\\x00``), and JSON encoding escapes them by its own rules (``\\n``, ``\\u0000``), so one
record stays one line. Every record written while a request is served carries its request id.
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# The id of the request being served by this thread, set by config.middleware.ObservedRequests.
request_id_var: ContextVar[str] = ContextVar("request_id", default="")


def escape_control_characters(text: str) -> str:
    """``\\n`` for a newline, ``\\x00`` for NUL and so on: one message stays one line."""
    return _CONTROL.sub(lambda found: _NAMED.get(found.group(), f"\\x{ord(found.group()):02x}"), text)


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or None
        return True


class EscapingFormatter(logging.Formatter):
    """Escapes the message, which may carry what a request sent (an SPI ``action``, a header), so a
    ``%0A`` cannot start a forged line and a NUL never reaches the log. A traceback, appended after the
    message by ``format``, keeps its own newlines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # the standard library's name
        return escape_control_characters(super().formatMessage(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, ``request_id`` and, when there is one, ``exception`` (the traceback as one string)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get() or None,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # JSON escapes U+0000–U+001F itself; DEL is legal in a JSON string but no better in a log.
        return json.dumps(entry, ensure_ascii=False, default=str).replace("\x7f", "\\u007f")


def logging_config(*, json_lines: bool, level: str) -> dict[str, Any]:
    """Django's LOGGING: JSON lines (production) or the escaped console format (demo, test)."""
    formatter: dict[str, Any] = (
        {"()": "kaitong.config.logs.JsonFormatter"}
        if json_lines
        else {"()": "kaitong.config.logs.EscapingFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "kaitong.config.logs.RequestIdFilter"}},
        "formatters": {"json" if json_lines else "plain": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if json_lines else "plain",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        # The tasks framework logs every task's start and end at INFO (the ledger watch alone runs every
        # minute); its failures are logged at ERROR and still show. ("django.tasks" on Django 6.)
        "loggers": {name: {"level": "WARNING"} for name in ("django_tasks", "django.tasks")},
        # gunicorn's access log would carry the SPI token in the query string; it is turned off in serve.
    }


class GunicornJsonLogger(GunicornLogger):
    """gunicorn's own error log (worker timeouts, boot failures) in the same JSON lines, for production."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())
