"""Notices about a workspace reach its owner in the workspace's language, whatever the browser said."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone, translation

from kaitong.notices.actions import do_send_workspace_notice
from kaitong.notices.domain import Notice
from kaitong.workspaces.models import Workspace
from tests.support.activation import deliver_mail
from tests.support.billing import workspaces

pytestmark = pytest.mark.django_db

CONTEXT = {
    "locks_on": "2026-12-14",
    "cause": "-",
    "reason": "-",
    "from_settlement": "-",
    "to_settlement": "-",
    "day": "2026-11-29",
    "item": "-",
    "amount": "¥1.00",
    "threshold": "¥0.50",
}


@pytest.mark.parametrize("notice", list(Notice))
@pytest.mark.parametrize(("language", "expected"), [("en", "Workspace"), ("zh", "工作空间")])
def test_each_notice_is_written_in_the_workspaces_language(notice, language, expected):
    (workspace,) = workspaces(1, alibaba=False)
    Workspace.objects.filter(pk=workspace.pk).update(language=language)
    with translation.override("zh-hans" if language == "en" else "en"):  # the reader's browser says otherwise
        do_send_workspace_notice(workspace_id=workspace.pk, notice=notice, context=CONTEXT, now=timezone.now())
    deliver_mail()
    (message,) = mail.outbox
    assert message.to == [workspace.owner.email]
    assert expected.lower() in (message.subject + message.body).lower() and workspace.name in message.body
    if language == "en":
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in message.subject + message.body), message.body
