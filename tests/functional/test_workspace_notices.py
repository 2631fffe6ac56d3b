"""Notices about a workspace reach its owner in the workspace's language, whatever the browser said: by
email, and by SMS (through the configured sender) when the owner has a phone number. Each is a task
on the job engine, retried like mail, and a row findable per workspace."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone, translation
from django_tasks_db.models import DBTaskResult

from kaitong.accounts.models import ConsoleAccount
from kaitong.jobs import retries
from kaitong.mail import tasks as mail_tasks
from kaitong.notices import queries, tasks
from kaitong.notices.actions import do_send_workspace_notice
from kaitong.notices.domain import BadNoticeContext, Notice
from kaitong.notices.models import SentNotice
from kaitong.sms.backends import LocmemSmsBackend, SmsMessage, SmsRejected
from kaitong.workspaces.models import Workspace
from tests.support.activation import deliver_mail
from tests.support.billing import owner, workspaces
from tests.support.jobs import run_jobs

pytestmark = pytest.mark.django_db
DELIVER = "kaitong.notices.tasks.deliver_notice"

CONTEXTS = {
    Notice.COUNTDOWN_STARTED: {"locks_on": "2026-12-14", "cause": "instance_released", "instance_id": "i-77"},
    Notice.COUNTDOWN_ENDING: {"locks_on": "2026-12-14", "cause": "unpaid_bill", "instance_id": ""},
    Notice.LOCKED: {"locks_on": "2026-12-14", "cause": "instance_expired", "instance_id": "i-77"},
    Notice.UNLOCKED: {"reason": "settlement_moved"},
    Notice.SETTLEMENT_CHANGED: {"from_settlement": "aliyun", "to_settlement": "billing_account", "instance_id": "i-77"},
    Notice.HIGH_SPEND: {"day": "2026-11-29", "item": "logs", "amount": "1.00", "threshold": "0.50"},
    Notice.SLS_ACCESS_LOST: {"ali_uid": "1999", "problem": "role_not_authorised", "project": "guance-wksp-1"},
}


def workspace_in(language: str, *, phone: str = "+86 138-0013-8000", name: str = "") -> Workspace:
    (workspace,) = workspaces(1, alibaba=False)
    Workspace.objects.filter(pk=workspace.pk).update(language=language, **({"name": name} if name else {}))
    ConsoleAccount.objects.filter(pk=workspace.owner_id).update(phone=phone)
    return Workspace.objects.select_related("owner").get(pk=workspace.pk)


def send(workspace: Workspace, notice: Notice = Notice.LOCKED, **changes: str) -> None:
    with transaction.atomic():
        do_send_workspace_notice(
            workspace_id=workspace.pk, notice=notice, context={**CONTEXTS[notice], **changes}, now=timezone.now()
        )


@pytest.mark.parametrize("notice", list(Notice))
@pytest.mark.parametrize(
    ("language", "expected", "sms_start"), [("en", "Workspace", "[Guance]"), ("zh", "工作空间", "【观测云】")]
)
def test_each_notice_is_written_in_the_workspaces_language(notice, language, expected, sms_start):
    workspace = workspace_in(language)
    with translation.override("zh-hans" if language == "en" else "en"):  # the reader's browser says otherwise
        send(workspace, notice)
    deliver_mail()
    (message,) = mail.outbox
    assert message.to == [workspace.owner.email]
    assert expected.lower() in (message.subject + message.body).lower() and workspace.name in message.body
    html = message.alternatives[0][0]
    assert workspace.name in html and f'lang="{"en" if language == "en" else "zh-hans"}"' in html
    (sms,) = LocmemSmsBackend.outbox
    assert (sms.to, sms.template, sms.language) == ("+8613800138000", notice.value, language)
    assert sms.text.startswith(sms_start) and len(sms.text) <= 70
    if language == "en":
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in message.subject + message.body + html + sms.text)


def test_an_owner_without_a_phone_number_gets_email_only():
    workspace = workspace_in("zh", phone="")
    send(workspace)
    deliver_mail()
    assert len(mail.outbox) == 1 and LocmemSmsBackend.outbox == []
    assert list(SentNotice.objects.values_list("channel", flat=True)) == ["email"]


def test_without_an_sms_backend_nothing_is_queued_for_the_phone(settings):
    settings.SMS_BACKEND = ""  # KAITONG_SMS_BACKEND=none
    send(workspace_in("zh"))
    deliver_mail()
    assert len(mail.outbox) == 1 and LocmemSmsBackend.outbox == []
    assert SentNotice.objects.get().channel == "email"


class TestBadContext:
    @pytest.mark.parametrize(
        ("notice", "changes", "says"),
        [
            (Notice.LOCKED, {"cause": "expired"}, "cause: 'expired' is not one of instance_expired"),
            (Notice.LOCKED, {"locks_on": "14/12/2026"}, "locks_on: '14/12/2026' is not a day"),
            (Notice.UNLOCKED, {"reason": "because"}, "reason: 'because' is not one of"),
            (Notice.SETTLEMENT_CHANGED, {"to_settlement": "aws"}, "to_settlement: 'aws' is not one of"),
            (Notice.HIGH_SPEND, {"amount": "a lot"}, "amount: 'a lot' is not an amount"),
            (Notice.HIGH_SPEND, {"item": "gold_bars"}, "item: no price list names 'gold_bars'"),
            (Notice.LOCKED, {"unlock_url": "/unlock/abc"}, "unlock_url: '/unlock/abc' is not an absolute URL"),
        ],
    )
    def test_is_refused_with_what_is_wrong_and_nothing_is_queued(self, notice, changes, says):
        workspace = workspace_in("zh")
        with pytest.raises(BadNoticeContext, match=says):
            send(workspace, notice, **changes)
        assert not SentNotice.objects.exists() and not DBTaskResult.objects.exists()

    def test_a_missing_key_is_named(self):
        workspace = workspace_in("zh")
        with pytest.raises(BadNoticeContext, match=r"locked notice: locks_on: missing$"):
            do_send_workspace_notice(
                workspace_id=workspace.pk, notice=Notice.LOCKED, context={"cause": "unpaid_bill"}, now=timezone.now()
            )


def test_a_notice_rolled_back_with_the_change_it_reports_never_leaves():
    workspace = workspace_in("zh")
    with pytest.raises(RuntimeError), transaction.atomic():
        send(workspace)
        raise RuntimeError("the change failed")
    deliver_mail()
    assert mail.outbox == [] and LocmemSmsBackend.outbox == [] and not SentNotice.objects.exists()


class TestDelivery:
    def test_each_channel_is_recorded_as_sent_and_never_sent_twice(self):
        workspace = workspace_in("en")
        send(workspace)
        deliver_mail()
        rows = list(SentNotice.objects.order_by("channel"))
        assert [(r.channel, r.state, r.sent_at is not None) for r in rows] == [
            ("email", "sent", True),
            ("sms", "sent", True),
        ]
        for row in rows:  # an operator's replay, or a second run after a lost lease
            tasks.deliver_notice.call(notice_id=row.pk)
        assert len(mail.outbox) == 1 and len(LocmemSmsBackend.outbox) == 1

    def test_sms_is_retried_like_mail(self):
        assert retries._attempts[DELIVER] == mail_tasks.ATTEMPTS == 12

    def test_a_gateway_that_fails_is_tried_again(self, settings):
        settings.SMS_BACKEND = f"{__name__}.FlakyGateway"
        FlakyGateway.failures = 1
        send(workspace_in("zh"))
        run_jobs(duties=False)
        sms = SentNotice.objects.get(channel="sms")
        assert sms.state == "queued" and LocmemSmsBackend.outbox == []
        task = DBTaskResult.objects.get(args_kwargs__kwargs__notice_id=sms.pk)
        assert task.status == "READY" and "gateway timed out" in task.traceback
        DBTaskResult.objects.filter(pk=task.pk).update(run_after=timezone.now())  # its backoff has passed
        run_jobs(duties=False)
        sms.refresh_from_db()
        assert sms.state == "sent" and len(LocmemSmsBackend.outbox) == 1

    def test_a_number_the_gateway_refuses_fails_at_once(self, settings):
        settings.SMS_BACKEND = f"{__name__}.RefusingGateway"
        send(workspace_in("zh"))
        run_jobs(duties=False)
        sms = SentNotice.objects.get(channel="sms")
        assert (sms.state, sms.detail) == ("failed", "isv.MOBILE_NUMBER_ILLEGAL")
        task = DBTaskResult.objects.get(args_kwargs__kwargs__notice_id=sms.pk)
        assert task.status == "FAILED" and len(task.worker_ids) == 1
        assert SentNotice.objects.get(channel="email").state == "sent"


class FlakyGateway:
    failures = 0

    def send(self, message: SmsMessage, *, now: datetime) -> None:
        if FlakyGateway.failures:
            FlakyGateway.failures -= 1
            raise TimeoutError("gateway timed out")
        LocmemSmsBackend.outbox.append(message)


class RefusingGateway:
    def send(self, message: SmsMessage, *, now: datetime) -> None:
        raise SmsRejected("isv.MOBILE_NUMBER_ILLEGAL")


def test_the_file_sink_writes_one_whole_json_file_per_message(settings, tmp_path):
    settings.SMS_BACKEND = "kaitong.sms.backends.FileSmsBackend"
    settings.SMS_FILE_DIR = str(tmp_path / "sms")
    workspace = workspace_in("en", name="Shop-1")
    send(workspace, Notice.UNLOCKED, reason="bill_paid")
    send(workspace, Notice.LOCKED)
    deliver_mail()
    files = sorted((tmp_path / "sms").iterdir())
    assert [f.suffix for f in files] == [".json", ".json"]  # no partial file left behind
    first, second = (json.loads(f.read_text(encoding="utf-8")) for f in files)
    assert first["text"] == '[Guance] Workspace "Shop-1" is unlocked: bill paid.'
    assert (first["to"], first["template"], first["language"]) == ("+8613800138000", "unlocked", "en")
    assert first["params"] == {"reason_short": "bill paid", "workspace_name": "Shop-1"}
    assert datetime.fromisoformat(first["sent_at"]).tzinfo is not None
    assert second["template"] == "locked" and second["sent_at"] >= first["sent_at"]


class TestFindable:
    def test_notices_of_a_set_of_workspaces_newest_first_recipients_masked(self):
        mine = workspace_in("zh")
        other = workspaces(1, alibaba=False, user=owner("someone"), prefix="o")[0]
        send(mine, Notice.COUNTDOWN_STARTED)
        send(other, Notice.LOCKED)
        send(mine, Notice.LOCKED)
        deliver_mail()
        with translation.override("en"):
            rows = queries.sent_notices(workspace_ids=[mine.pk])
        assert [(r.kind, r.channel) for r in rows] == [
            ("locked", "sms"),
            ("locked", "email"),
            ("countdown_started", "sms"),
            ("countdown_started", "email"),
        ]
        assert {r.workspace_id for r in rows} == {mine.pk}
        assert {r.recipient for r in rows} == {"o***r@example.com", "+86138****8000"}
        assert {r.kind_label for r in rows} == {"Workspace locked", "Lock countdown started"}
        assert {(r.channel_label, r.state_label) for r in rows} == {("Mail", "Sent"), ("SMS", "Sent")}
        assert all(r.sent_at is not None and r.sent_at >= r.at for r in rows)
        assert rows[0].at >= rows[-1].at
