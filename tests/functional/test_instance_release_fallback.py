"""A released instance settles nothing more: its workspaces fall back to billing-center settlement."""

from __future__ import annotations

import pytest
from django.core import mail

from kaitong.accounts.models import CloudAccount
from kaitong.workspaces.models import Workspace
from tests.support.activation import bind_account, bind_workspace, deliver_mail, enter, existing_account
from tests.support.marketplace import call_spi

pytestmark = pytest.mark.django_db


def bound_workspace(client):  # type: ignore[no-untyped-def]
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod",))
    enter(client, "900001")
    bind_account(client)
    workspace = Workspace.objects.get()
    bind_workspace(client, workspace.pk, "ops@acme.example")
    workspace.refresh_from_db()
    assert workspace.settlement == "aliyun"
    return workspace


def test_release_falls_back_and_tells_the_account_holder(client):
    workspace = bound_workspace(client)
    mail.outbox.clear()
    call_spi(client, {"action": "releaseInstance", "instanceId": "900001", "isRefund": "false"})
    workspace.refresh_from_db()
    assert (workspace.settlement, workspace.cloud_account) == ("billing_account", None)
    assert CloudAccount.objects.count() == 1  # the cloud account stays listed, as history
    deliver_mail()
    (message,) = [m for m in mail.outbox if "900001" in m.subject]
    assert message.to == ["ops@acme.example"] and "acme-prod" in message.body


def test_expiry_keeps_the_binding(client):
    workspace = bound_workspace(client)
    call_spi(client, {"action": "expiredInstance", "instanceId": "900001"})
    workspace.refresh_from_db()
    assert workspace.settlement == "aliyun"


def test_a_released_instance_cannot_settle_a_new_workspace(client):
    from django.utils import timezone

    from kaitong.accounts import actions

    account = existing_account("acme", "ops@acme.example")
    enter(client, "900002")
    call_spi(client, {"action": "releaseInstance", "instanceId": "900002", "isRefund": "false"})
    with pytest.raises(actions.InstanceNotActive):
        actions.ensure_cloud_account(billing_account=account, instance_id="900002", now=timezone.now())
    assert not CloudAccount.objects.exists()
