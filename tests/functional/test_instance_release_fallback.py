"""A released (or expired) instance keeps settling its workspaces and starts their lock countdown.

Issue 12 replaces the fallback to billing-center settlement this file used to test: the buyer is told, the
workspace works for 14 days with a banner, and moving the settlement (or renewing) is the buyer's choice
(docs/decisions/2026-11-30-lock-countdown.md).
"""

from __future__ import annotations

import pytest
from django.core import mail

from kaitong.accounts.models import CloudAccount
from kaitong.billing.domain import BEIJING
from kaitong.countdown.models import Countdown
from kaitong.workspaces.models import SettlementChange, Workspace
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


def test_release_keeps_the_binding_starts_the_countdown_and_tells_the_owner(client):
    workspace = bound_workspace(client)
    changes = SettlementChange.objects.count()
    mail.outbox.clear()
    call_spi(client, {"action": "releaseInstance", "instanceId": "900001", "isRefund": "false"})
    workspace.refresh_from_db()
    assert workspace.settlement == "aliyun" and workspace.cloud_account.instance.instance_id == "900001"
    assert SettlementChange.objects.count() == changes  # nothing moved behind the buyer's back
    countdown = Countdown.objects.get(workspace=workspace)
    assert (countdown.cause, countdown.lifted_at) == ("instance_released", None)
    deliver_mail()
    locks_on = str(countdown.locks_at.astimezone(BEIJING).date())
    # The binding's own 结算方式已更改 notice went out with it; the release's is the one naming the lock day.
    (message,) = [m for m in mail.outbox if locks_on in m.subject + m.body]
    assert message.to == [workspace.owner.email] and "acme-prod" in message.body


def test_expiry_keeps_the_binding_and_starts_the_countdown(client):
    workspace = bound_workspace(client)
    call_spi(client, {"action": "expiredInstance", "instanceId": "900001"})
    workspace.refresh_from_db()
    assert workspace.settlement == "aliyun"
    assert Countdown.objects.get(workspace=workspace).cause == "instance_expired"


def test_a_released_instance_cannot_settle_a_new_workspace(client):
    from django.utils import timezone

    from kaitong.accounts import actions

    account = existing_account("acme", "ops@acme.example")
    enter(client, "900002")
    call_spi(client, {"action": "releaseInstance", "instanceId": "900002", "isRefund": "false"})
    with pytest.raises(actions.InstanceNotActive):
        actions.ensure_cloud_account(billing_account=account, instance_id="900002", now=timezone.now())
    assert not CloudAccount.objects.exists()
