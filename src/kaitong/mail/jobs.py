from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation

from kaitong.mail.actions import SEND_EMAIL
from kaitong.outbox.actions import handler


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


@handler(SEND_EMAIL)
def send_email(payload: dict[str, Any], now: datetime) -> None:
    subject, text, html = render_email(payload["type"], payload["language"], payload["context"])
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [payload["to"]])
    if html:
        message.attach_alternative(html, "text/html")
    message.send(fail_silently=False)
