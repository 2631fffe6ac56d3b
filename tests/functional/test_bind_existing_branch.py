"""Branch 已有企业账号，去绑定: hint dialog → username + email code → list → 绑定 (email + code) → 已绑定 → 开通成功."""

from __future__ import annotations

import pytest
from django.core import mail

from kaitong.accounts.models import CloudAccount
from kaitong.workspaces.models import Workspace
from tests.support.activation import (
    bind_account,
    bind_workspace,
    deliver_mail,
    enter,
    existing_account,
    open_instance,
    request_code,
    submit,
    verify_url,
)

pytestmark = pytest.mark.django_db
BIND = "/activate/bind/"


def test_hint_dialog_then_form(client):
    enter(client, "500001")
    first = client.get(BIND).content.decode()
    assert "如何快速绑定阿里云账号结算" in first and "知道了" in first
    assert client.get(BIND + "?hint=ok").status_code == 302
    second = client.get(BIND).content.decode()
    assert "如何快速绑定阿里云账号结算" not in second
    assert 'href="/activate/bind/register/"' in second  # the 注册 link: the enterprise account alone


def test_bind_account_then_bind_existing_workspace(client):
    account = existing_account("acme", "ops@acme.example", workspaces=("acme-prod", "acme-test"))
    enter(client, "500002", ali_uid="3000000000000002")
    response = bind_account(client, username="ACME")
    assert response.status_code == 302 and response["Location"] == "/activate/workspaces/"
    cloud = CloudAccount.objects.get()
    assert (cloud.billing_account, cloud.ali_uid, cloud.instance.instance_id) == (account, "3000000000000002", "500002")
    listing = client.get("/activate/workspaces/").content.decode()
    assert "acme-prod" in listing and "acme-test" in listing and "已绑定" not in listing
    prod = Workspace.objects.get(name="acme-prod")
    path = f"/activate/workspaces/{prod.pk}/bind/"
    dialog = client.get(path).content.decode()
    assert "绑定工作空间「acme-prod」" in dialog
    code = request_code(client, path, "ops@acme.example")
    response = submit(client, path, {"email": "ops@acme.example", "code": code})
    assert response.status_code == 302
    prod.refresh_from_db()
    assert prod.settlement == "aliyun" and prod.cloud_account == cloud
    assert Workspace.objects.get(name="acme-test").settlement == "billing_account"
    listing = client.get("/activate/workspaces/").content.decode()
    assert listing.count('data-testid="bound"') == 1
    done = client.get("/activate/done/").content.decode()
    assert "开通成功" in done and "acme-prod" in done and "acme-test" not in done


def test_unknown_username_and_wrong_email_get_the_same_answer_and_bind_nothing(client):
    """No code reaches an address that cannot bind (issue 11, item 6); the answers do not tell apart an
    unknown username from a known one with another email, before or after the code."""
    existing_account("acme", "ops@acme.example")
    enter(client, "500003")
    unknown = submit(client, BIND, {"op": "send_code", "username": "nobody", "email": "ops@acme.example"})
    outsider = submit(client, BIND, {"op": "send_code", "username": "acme", "email": "intruder@evil.example"})
    deliver_mail()
    assert mail.outbox == []  # neither the account's address (other username) nor the outsider got a code
    for sent, email in ((unknown, "ops@acme.example"), (outsider, "intruder@evil.example")):
        assert sent.status_code == 200
        assert f"若用户名与邮箱匹配，验证码已发送至 {email}，10 分钟内有效" in sent.content.decode()
    answers = [
        submit(client, BIND, {"username": "nobody", "email": "ops@acme.example", "code": "123456"}),
        submit(client, BIND, {"username": "acme", "email": "intruder@evil.example", "code": "123456"}),
    ]
    for response in answers:
        assert response.status_code == 400
        assert "验证码错误，还可尝试 4 次" in response.content.decode()  # a try counted, as for a wrong code
    assert not CloudAccount.objects.exists()


def test_a_proved_email_with_another_username_is_a_mismatch(client):
    """The account's own code (sent with its username) offered with another username binds nothing."""
    existing_account("acme", "ops@acme.example")
    existing_account("globex", "it@globex.example")
    enter(client, "500011")
    code = request_code(client, BIND, "ops@acme.example", username="acme")
    response = submit(client, BIND, {"username": "globex", "email": "ops@acme.example", "code": code})
    assert response.status_code == 400 and "用户名与邮箱不匹配" in response.content.decode()
    assert not CloudAccount.objects.exists()


def test_send_code_answers_the_same_for_known_and_unknown_email(client):
    existing_account("acme", "ops@acme.example")
    enter(client, "500004")
    known = submit(client, BIND, {"op": "send_code", "email": "ops@acme.example", "username": "acme"})
    unknown = submit(client, BIND, {"op": "send_code", "email": "nobody@acme.example", "username": "acme"})

    def strip(response):  # type: ignore[no-untyped-def]
        body = response.content.decode()
        return body.replace("ops@acme.example", "EMAIL").replace("nobody@acme.example", "EMAIL")

    import re

    token = re.compile(r'name="(csrfmiddlewaretoken|form_token)" value="[^"]+"')
    assert known.status_code == unknown.status_code == 200
    assert token.sub("", strip(known)) == token.sub("", strip(unknown))


def test_already_bound_ali_uid_skips_the_chooser(client):
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod",))
    enter(client, "500005", ali_uid="3000000000000005")
    assert bind_account(client).status_code == 302
    # A second purchase by the same Alibaba account goes straight to workspace binding.
    open_instance(client, "500006", ali_uid="3000000000000005")
    client.get(verify_url("500006"))
    response = client.get("/activate/")
    assert response.status_code == 302 and response["Location"] == "/activate/workspaces/"


def test_workspace_of_another_account_is_not_found(client):
    existing_account("acme", "ops@acme.example")
    other = existing_account("globex", "it@globex.example", workspaces=("globex-prod",))
    enter(client, "500007")
    bind_account(client)
    target = other.workspaces.get()
    assert client.get(f"/activate/workspaces/{target.pk}/bind/").status_code == 404
    assert (
        submit(
            client, f"/activate/workspaces/{target.pk}/bind/", {"email": "it@globex.example", "code": "123456"}
        ).status_code
        == 404
    )
    target.refresh_from_db()
    assert target.settlement == "billing_account"


def test_bind_workspace_email_must_belong_to_the_account(client):
    """Said when 获取验证码 is clicked, and nobody else is mailed a code (the session holds the account)."""
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod",))
    enter(client, "500008")
    bind_account(client)
    prod = Workspace.objects.get()
    path = f"/activate/workspaces/{prod.pk}/bind/"
    mail.outbox.clear()
    response = submit(client, path, {"op": "send_code", "email": "someone@else.example"})
    deliver_mail()
    assert response.status_code == 400 and "请输入该工作空间所属费用中心账号或拥有者的邮箱" in response.content.decode()
    assert "验证码已发送" not in response.content.decode() and mail.outbox == []
    refused = submit(client, path, {"email": "someone@else.example", "code": "123456"})
    assert refused.status_code == 400
    prod.refresh_from_db()
    assert prod.settlement == "billing_account"
    assert bind_workspace(client, prod.pk, "ops@acme.example").status_code == 302  # the right address is mailed
    assert [message.to for message in mail.outbox] == [["ops@acme.example"]]


def test_instance_released_mid_flow_cannot_bind(client):
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod",))
    enter(client, "500009")
    code = request_code(client, BIND, "ops@acme.example", username="acme")
    from tests.support.marketplace import call_spi

    call_spi(client, {"action": "releaseInstance", "instanceId": "500009", "isRefund": "true"})
    response = submit(client, BIND, {"username": "acme", "email": "ops@acme.example", "code": code})
    assert response.status_code == 409 and "云市场实例已不可用" in response.content.decode()
    assert not CloudAccount.objects.exists()


def test_csrf_is_enforced(client):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    enter(strict, "500010")
    response = strict.post(BIND, {"username": "acme", "email": "ops@acme.example", "code": "123456"})
    assert response.status_code == 403
