"""Queue an email. Each message type is a folder ``mail/templates/mail/<type>/`` holding
``subject.txt``, ``body.txt`` and optionally ``body.html``, rendered in the recipient's language."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kaitong.jobs.actions import enqueue
from kaitong.jobs.sealing import seal

# By path: the task is an interface above this module (the layers contract), and imports nothing of it.
SEND_EMAIL = "kaitong.mail.tasks.send_email"
WITHHOLD_EMAIL = "kaitong.mail.tasks.withhold_email"


def enqueue_email(
    *,
    message_type: str,
    to: str,
    language: str,
    context: dict[str, Any],
    now: datetime,
    secret: dict[str, Any] | None = None,
    deliver: bool = True,
) -> None:
    """Queue the email in the caller's transaction; a worker renders and sends it over SMTP.

    ``deliver=False`` queues the same row for a task that mails nobody: for a caller whose answer must
    not show by its timing whether a message went out (a code asked for an address that cannot use
    it), the work done before the commit is the same either way, as Django's sign-in hashes a password
    for an unknown user.

    ``context`` is stored in the task row, in clear, so that a failed send can be retried; ``secret``
    (a verification code) is rendered like ``context`` but stored only sealed, and dropped once the
    mail is sent. Neither is ever logged. ``now`` is kept for the callers' sake: the task row stamps
    its own enqueue time.
    """
    enqueue(
        SEND_EMAIL if deliver else WITHHOLD_EMAIL,
        message_type=message_type,
        to=to,
        language=language,
        context=context,
        sealed_context=seal(secret) if secret else "",
    )
