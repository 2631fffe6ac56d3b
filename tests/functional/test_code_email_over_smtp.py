"""The worker sends the code over real SMTP (an aiosmtpd sink on loopback), in the page's language."""

from __future__ import annotations

from email.header import decode_header, make_header

import pytest

from tests.support.activation import deliver_mail, enter, submit
from tests.support.smtp import smtp_sink  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language", "subject", "sender"),
    [
        ("zh-hans", "观测云验证码", "观测云 <no-reply@kaitong.local>"),
        ("en", "Guance Cloud verification code", "Guance Cloud <no-reply@kaitong.local>"),
    ],
)
def test_code_email_arrives_over_smtp(client, smtp_sink, language, subject, sender):  # noqa: F811
    client.cookies["django_language"] = language
    enter(client, "910001")
    submit(client, "/activate/workspaces/register/", {"op": "send_code", "email": "smtp@sink.example"})
    deliver_mail()
    (message,) = smtp_sink.messages
    assert message["To"] == "smtp@sink.example"
    assert subject in message["Subject"]
    # From the product named in the mail's language (KAITONG_MAIL_FROM names it in Chinese).
    assert str(make_header(decode_header(message["From"]))) == sender
    assert smtp_sink.code_for("smtp@sink.example").isdigit()
