"""The demo's SMS: a notice sent through the vendor's file sink appears on the marketplace simulator's
mailbox page (``/mailbox/``), read from the same folder; the two packages share only the files."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone

from kaitong.accounts.models import ConsoleAccount
from kaitong.notices.actions import do_send_workspace_notice
from kaitong.notices.domain import Notice
from kaitong.workspaces.models import Workspace
from tests.support.activation import deliver_mail
from tests.support.billing import workspaces

pytestmark = pytest.mark.django_db


def test_a_notice_sent_by_sms_is_in_the_simulators_mailbox(settings, tmp_path):
    box = tmp_path / "demo-sms"
    settings.SMS_BACKEND = "kaitong.sms.backends.FileSmsBackend"
    settings.SMS_FILE_DIR = str(box)
    settings.SIMULATOR = settings.SIMULATOR.model_copy(update={"sms_dir": str(box), "mailbox_dir": ""})
    (workspace,) = workspaces(1, alibaba=False)
    Workspace.objects.filter(pk=workspace.pk).update(language="en", name="Checkout")
    ConsoleAccount.objects.filter(pk=workspace.owner_id).update(phone="+86 138-0013-8000")
    with transaction.atomic():
        do_send_workspace_notice(
            workspace_id=workspace.pk,
            notice=Notice.COUNTDOWN_STARTED,
            context={"locks_on": "2026-12-14", "cause": "instance_released", "instance_id": "i-1"},
            now=timezone.now(),
        )
    deliver_mail()

    with override_settings(ROOT_URLCONF="kaitong_sim.site_urls"):
        page = Client().get("/mailbox/?to=13800138000&kind=sms").content.decode()
    assert page.count('data-testid="sms"') == 1
    assert 'data-testid="sms-text">[Guance] &quot;Checkout&quot; locks on 2026-12-14: instance released.<' in page
    assert 'data-testid="sms-to">+8613800138000<' in page and "（北京时间）" in page
