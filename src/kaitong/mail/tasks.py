"""The mail task: render a message type in the recipient's language and send it over SMTP.

Retried up to 12 times (5 s, 10 s, 20 s … at most 15 minutes apart) before it is FAILED for an operator
to replay. What must not rest in clear (a verification code) comes sealed in ``sealed_context``; the
engine drops it once the mail is sent.
"""

from __future__ import annotations

from typing import Any

from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation

from kaitong.jobs.framework import task
from kaitong.jobs.retries import retried
from kaitong.jobs.sealing import unseal
from kaitong.mail.sender import from_address

ATTEMPTS = 12


def render_email(message_type: str, language: str, context: dict[str, Any]) -> tuple[str, str, str | None]:
    """Return (subject, text body, html body or None) rendered in ``language``."""
    folder = f"mail/{message_type}"
    with translation.override(language):
        subject = " ".join(render_to_string(f"{folder}/subject.txt", context).split())
        text = render_to_string(f"{folder}/body.txt", context)
        try:
            html: str | None = render_to_string(f"{folder}/body.html", context)
        except TemplateDoesNotExist:
            html = None
    return subject, text, html


@task()
@retried(attempts=ATTEMPTS)
def send_email(*, message_type: str, to: str, language: str, context: dict[str, Any], sealed_context: str = "") -> None:
    subject, text, html = render_email(message_type, language, {**context, **unseal(sealed_context)})
    message = EmailMultiAlternatives(subject, text, from_address(language), [to])
    if html:
        message.attach_alternative(html, "text/html")
    message.send(fail_silently=False)


@task()
def withhold_email(
    *, message_type: str, to: str, language: str, context: dict[str, Any], sealed_context: str = ""
) -> None:
    """Mail nobody: the twin of ``send_email`` queued where a message must not go out but the request
    must cost what a sent one costs (``actions.enqueue_email(deliver=False)``). Its sealed argument is
    dropped when it finishes, as any task's."""
