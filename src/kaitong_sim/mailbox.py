"""The demo's mailbox: messages the embedded SMTP sink stored as ``.eml`` files, newest first."""

from __future__ import annotations

import email
import email.policy
import email.utils
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAX_MESSAGES = 100


def _text(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        return str(part.get_content())[:20000]
    except (LookupError, ValueError):
        return "(unreadable body)"


def _sent_at(header: str) -> datetime | None:
    """When the message was sent, as an aware time (the page shows it in Beijing time, like the rest of
    the marketplace); None if the Date header is missing or unreadable.

    Django writes ``-0000`` (UTC, the sender's zone unknown: RFC 5322 §3.3), which Python reads as a
    naive time: it is UTC."""
    try:
        sent = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    return sent if sent.tzinfo is not None else sent.replace(tzinfo=UTC)


def newest_first(directory: str, pattern: str) -> list[Path]:
    """The files of ``directory`` matching ``pattern``, newest first (their names sort by time); none for
    an unset or missing folder."""
    folder = Path(directory) if directory else None
    if folder is None or not folder.is_dir():
        return []
    return sorted(folder.glob(pattern), key=lambda p: p.name, reverse=True)


def read(directory: str, *, to: str | None = None) -> list[dict[str, Any]]:
    messages = []
    for path in newest_first(directory, "*.eml"):
        with path.open("rb") as handle:
            message = email.message_from_binary_file(handle, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        recipients = str(message.get("To", ""))
        if to and to.lower() not in recipients.lower():
            continue
        messages.append(
            {
                "id": path.stem,
                "from": str(message.get("From", "")),
                "to": recipients,
                "subject": str(message.get("Subject", "")),
                "date": str(message.get("Date", "")),
                "sent_at": _sent_at(str(message.get("Date", ""))),
                "body": _text(message),
            }
        )
        if len(messages) >= MAX_MESSAGES:
            break
    return messages
