"""Log lines that a request cannot forge: control characters in a message are escaped."""

from __future__ import annotations

import logging
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_control_characters(text: str) -> str:
    """``\\n`` for a newline, ``\\x00`` for NUL and so on: one message stays one line."""
    return _CONTROL.sub(lambda found: _NAMED.get(found.group(), f"\\x{ord(found.group()):02x}"), text)


class EscapingFormatter(logging.Formatter):
    """Escapes the message, which may carry what a request sent (an SPI ``action``, a header), so a
    ``%0A`` cannot start a forged line and a NUL never reaches the log. A traceback, appended after the
    message by ``format``, keeps its own newlines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # the standard library's name
        return escape_control_characters(super().formatMessage(record))
