"""The demo's SMS inbox: the messages the vendor's file sink wrote to ``KAITONG_SIMULATOR_SMS_DIR``.

The files are the whole contract with the vendor (neither package imports the other): one JSON object
per ``*.json`` file, ``{"to", "text", "sent_at" (ISO 8601 with its offset), "template", "language"}``,
renamed into place whole, named so that names sort by time. A file that cannot be read is shown as
such, never a reason for the page to fail.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from kaitong_sim import mailbox

MAX_MESSAGES = 100


def _sent_at(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        sent = datetime.fromisoformat(value)
    except ValueError:
        return None
    return sent if sent.tzinfo is not None else sent.replace(tzinfo=UTC)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def matches(recipient: str, wanted: str) -> bool:
    """The filter of the mailbox page: part of the number, written with or without spaces and dashes."""
    wanted = wanted.strip()
    return wanted.lower() in recipient.lower() or (bool(_digits(wanted)) and _digits(wanted) in _digits(recipient))


def length(text: str) -> int:
    """Characters as a carrier counts them (UTF-16 code units): 70 fill one segment."""
    return len(text.encode("utf-16-le")) // 2


def read(directory: str, *, to: str | None = None) -> list[dict[str, Any]]:
    """The newest messages first (at most ``MAX_MESSAGES``), those to ``to`` only when given."""
    messages = []
    for path in mailbox.newest_first(directory, "*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError):
            data = {"text": "(unreadable message)"}
        recipient = str(data.get("to", ""))
        if to and not matches(recipient, to):
            continue
        text = str(data.get("text", ""))[:2000]
        messages.append(
            {
                "id": path.stem,
                "to": recipient,
                "text": text,
                "length": length(text),
                "template": str(data.get("template", "")),
                "language": str(data.get("language", "")),
                "sent_at": _sent_at(data.get("sent_at")),
            }
        )
        if len(messages) >= MAX_MESSAGES:
            break
    return messages
