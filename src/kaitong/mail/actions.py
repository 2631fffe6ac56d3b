"""Queue an email. Each message type is a folder ``mail/templates/mail/<type>/`` holding
``subject.txt``, ``body.txt`` and optionally ``body.html``, rendered in the recipient's language."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kaitong.jobs.actions import enqueue
from kaitong.jobs.sealing import seal

# By path: the task is an interface above this module (the layers contract), and imports nothing of it.
SEND_EMAIL = "kaitong.mail.tasks.send_email"


def enqueue_email(
    *,
    message_type: str,
    to: str,
    language: str,
    context: dict[str, Any],
    now: datetime,
    secret: dict[str, Any] | None = None,
) -> None:
    """Queue the email in the caller's transaction; a worker renders and sends it over SMTP.

    ``context`` is stored in the task row, in clear, so that a failed send can be retried; ``secret``
    (a verification code) is rendered like ``context`` but stored only sealed, and dropped once the
    mail is sent. Neither is ever logged. ``now`` is kept for the callers' sake: the task row stamps
    its own enqueue time.
    """
    enqueue(
        SEND_EMAIL,
        message_type=message_type,
        to=to,
        language=language,
        context=context,
        sealed_context=seal(secret) if secret else "",
    )
