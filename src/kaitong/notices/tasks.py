"""The notice task: render a notice in its workspace's language and hand it to its channel.

Retried like mail (12 attempts, 5 s, 10 s, 20 s … at most 15 minutes apart) before it is FAILED for an
operator to replay; an SMS the gateway refuses for good is recorded as failed at once. A notice already
sent is not sent again (a replayed task, a second run after a lost lease).
"""

from __future__ import annotations

from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from kaitong.jobs.framework import task
from kaitong.jobs.retries import GiveUp, retried
from kaitong.mail.sender import from_address
from kaitong.notices import actions, queries
from kaitong.notices.domain import Channel
from kaitong.notices.rendering import render_notice
from kaitong.sms import backends as sms

ATTEMPTS = 12


@task()
@retried(attempts=ATTEMPTS)
def deliver_notice(*, notice_id: int) -> None:
    notice = queries.notice_to_deliver(notice_id)
    if notice is None or notice.sent:
        return
    rendered = render_notice(notice=notice.kind, workspace_language=notice.language, context=notice.context)
    if notice.channel is Channel.EMAIL:
        message = EmailMultiAlternatives(
            rendered.subject, rendered.text, from_address(notice.language), [notice.recipient]
        )
        message.attach_alternative(rendered.html, "text/html")
        message.send(fail_silently=False)
    else:
        text = sms.SmsMessage(
            to=notice.recipient,
            text=rendered.sms,
            template=notice.kind.value,
            language=notice.language,
            params=rendered.sms_params,
        )
        try:
            sms.sender().send(text, now=timezone.now())
        except (sms.SmsRejected, LookupError) as refused:  # LookupError: the backend was turned off since
            actions.do_record_notice_failed(notice_id=notice.id, reason=str(refused), now=timezone.now())
            raise GiveUp(f"the SMS gateway refused notice {notice.id}: {refused}") from refused
    actions.do_record_notice_sent(notice_id=notice.id, now=timezone.now())
