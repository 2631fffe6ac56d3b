"""Queue an email. Each message type is a folder ``mail/templates/mail/<type>/`` holding
``subject.txt``, ``body.txt`` and optionally ``body.html``, rendered in the recipient's language."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kaitong.outbox.actions import enqueue

SEND_EMAIL = "mail.send"


def enqueue_email(*, message_type: str, to: str, language: str, context: dict[str, Any], now: datetime) -> None:
    """Queue the email in the caller's transaction; the worker renders and sends it over SMTP.

    ``context`` is stored in the outbox row so a failed send can be retried; it may hold a verification
    code, which is useless once its ten minutes are over. Codes are never logged.
    """
    enqueue(
        SEND_EMAIL,
        {"type": message_type, "to": to, "language": language, "context": context},
        now=now,
        max_attempts=12,
    )
