"""Every way a workspace comes to settle, or stops settling, by a marketplace instance leaves an audit
row (who, when, from what, to what, why) that operators read in the operator console."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kaitong.accounts import actions as account_actions
from kaitong.accounts import domain as account_rules
from kaitong.marketplace.models import SpiCall
from kaitong.workspaces import actions as workspace_actions
from kaitong.workspaces import domain as workspace_rules
from kaitong.workspaces.models import SettlementChange, Workspace
from tests.support.accounts import operator
from tests.support.activation import (
    STRONG_PASSWORD,
    bind_account,
    bind_workspace,
    code_sent_to,
    confirming,
    enter,
    existing_account,
    request_code,
    submit,
)
from tests.support.marketplace import call_spi

pytestmark = pytest.mark.django_db


def history(workspace: Workspace) -> list[tuple[str, str, str, str, str, str]]:
    """The workspace's settlement changes, oldest first, as (reason, from, from instance, to, to instance, who)."""
    return [
        (c.reason, c.from_method, c.from_instance_id, c.to_method, c.to_instance_id, c.acting)
        for c in SettlementChange.objects.filter(workspace=workspace).order_by("at", "id")
    ]


def recent(change: SettlementChange) -> bool:
    return abs(timezone.now() - change.at) < timedelta(minutes=1)


def test_binding_an_existing_workspace_is_audited_once(client):
    account = existing_account("acme", "ops@acme.example", workspaces=("acme-prod",))
    workspace = Workspace.objects.get()
    enter(client, "910001")
    bind_account(client)
    assert bind_workspace(client, workspace.pk, "ops@acme.example").status_code == 302
    # Bound again later (back button, another tab) with a fresh code: already so, nothing more written.
    later = timezone.now() + timedelta(minutes=2)
    workspace_actions.do_bind_workspace(
        workspace_id=workspace.pk,
        billing_account_id=account.pk,
        instance_id="910001",
        email="ops@acme.example",
        code=fresh_code("ops@acme.example", account_rules.Purpose.BIND_WORKSPACE, later),
        now=later,
    )
    assert history(workspace) == [
        ("created", "", "", "billing_account", "", "test"),
        ("bound", "billing_account", "", "aliyun", "910001", "buyer ops@acme.example"),
    ]
    assert recent(SettlementChange.objects.get(reason="bound"))


def test_creating_a_bound_workspace_is_audited(client):
    existing_account("acme", "ops@acme.example")
    enter(client, "910002")
    bind_account(client)
    path = "/activate/workspaces/create/"
    code = request_code(client, path, "ops@acme.example")
    form = {"name": "acme-new", "language": "zh", "email": "ops@acme.example", "code": code, "agree": "on"}
    assert submit(client, path, form).status_code == 302
    assert history(Workspace.objects.get()) == [("created_bound", "", "", "aliyun", "910002", "buyer ops@acme.example")]


def test_registering_with_a_first_workspace_is_audited(client):
    enter(client, "910003")
    path = "/activate/workspaces/register/"
    code = request_code(client, path, "admin@newco.example")
    form = confirming(
        {
            "name": "prod",
            "language": "en",
            "username": "newco",
            "password1": STRONG_PASSWORD,
            "password2": STRONG_PASSWORD,
            "email": "admin@newco.example",
            "code": code,
            "agree": "on",
        }
    )
    assert submit(client, path, form).status_code == 302
    assert history(Workspace.objects.get()) == [("registered", "", "", "aliyun", "910003", "buyer admin@newco.example")]


def test_opening_the_commercial_edition_is_audited(client):
    enter(client, "910004")
    basic = "/activate/register/"
    code = request_code(client, basic, "boss@initech.example")
    submit(
        client,
        basic,
        confirming(
            {
                "username": "initech",
                "password1": STRONG_PASSWORD,
                "password2": STRONG_PASSWORD,
                "email": "boss@initech.example",
                "code": code,
            }
        ),
    )
    submit(client, "/activate/register/enterprise/", {"enterprise_name": "Initech", "agree": "on"})
    assert submit(client, "/activate/register/open/", {"name": "initech-prod", "language": "zh"}).status_code == 302
    assert history(Workspace.objects.get()) == [("commercial_opened", "", "", "aliyun", "910004", "buyer initech")]


def test_a_release_moves_no_settlement_and_its_countdown_names_the_spi_call(client):
    from kaitong.countdown.models import CountdownEvent

    existing_account("acme", "ops@acme.example", workspaces=("acme-prod", "acme-test"))
    enter(client, "910005")
    bind_account(client)
    prod, test = Workspace.objects.order_by("id")
    bind_workspace(client, prod.pk, "ops@acme.example")
    before = history(prod)
    call_spi(client, {"action": "releaseInstance", "instanceId": "910005", "isRefund": "false"})
    release = SpiCall.objects.get(action="releaseInstance")
    # Issue 12: a release starts the lock countdown; the settlement stays until the buyer moves it.
    assert history(prod) == before
    started = CountdownEvent.objects.get(workspace=prod, kind="started")
    assert started.acting == f"marketplace releaseInstance (SPI call #{release.pk})"
    assert not CountdownEvent.objects.filter(workspace=test).exists()  # never settled by the instance


def fresh_code(email: str, purpose: account_rules.Purpose, at) -> str:  # type: ignore[no-untyped-def]
    account_actions.do_send_verification_code(email=email, purpose=purpose, ip="10.0.0.1", language="zh-hans", now=at)
    return code_sent_to(email, at=at)


def test_a_refused_binding_changes_nothing_and_writes_no_row(client):
    account = existing_account("acme", "ops@acme.example", workspaces=("acme-prod",))
    workspace = Workspace.objects.get()
    enter(client, "910006")
    bind_account(client)
    bind_workspace(client, workspace.pk, "ops@acme.example")
    # A second instance of the same Alibaba account asks for the workspace the first one settles.
    enter(client, "910007")
    later = timezone.now() + timedelta(minutes=2)
    with pytest.raises(workspace_rules.AlreadyBoundElsewhere):
        workspace_actions.do_bind_workspace(
            workspace_id=workspace.pk,
            billing_account_id=account.pk,
            instance_id="910007",
            email="ops@acme.example",
            code=fresh_code("ops@acme.example", account_rules.Purpose.BIND_WORKSPACE, later),
            now=later,
        )
    assert [row[0] for row in history(workspace)] == ["created", "bound"]
    workspace.refresh_from_db()
    assert workspace.cloud_account.instance.instance_id == "910006"


@pytest.fixture
def operator_client(client):  # type: ignore[no-untyped-def]
    client.force_login(operator())
    return client


def test_operators_read_the_audit_and_cannot_write_it(client, operator_client):
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod",))
    workspace = Workspace.objects.get()
    buyer = type(client)()
    enter(buyer, "910008")
    bind_account(buyer)
    bind_workspace(buyer, workspace.pk, "ops@acme.example")
    listing = operator_client.get("/ops/workspaces/settlementchange/?reason__exact=bound")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "acme-prod" in page and "910008" in page and "buyer ops@acme.example" in page
    detail = operator_client.get(f"/ops/workspaces/workspace/{workspace.pk}/change/").content.decode()
    assert "绑定云市场实例" in detail and "910008" in detail
    assert workspace.token not in detail  # the DataKit credential is not for operators' eyes
    assert operator_client.get("/ops/workspaces/settlementchange/add/").status_code == 403
    change = SettlementChange.objects.get(reason="bound")
    response = operator_client.post(f"/ops/workspaces/settlementchange/{change.pk}/change/", {"reason": "created"})
    assert response.status_code == 403
    assert SettlementChange.objects.get(pk=change.pk).reason == "bound"
