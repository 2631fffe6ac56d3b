"""Issue 11, item 8: 绑定观测云企业账号 → 尚无企业账号 → 注册 registers the enterprise account (console +
same-named billing-center account) and nothing else, binds this instance to it as 绑定 would, and, as
the seed says ("绑定成功后进入绑定观测云工作空间页面"), lands on 绑定观测云工作空间 with the account in
the header, where 创建工作空间 makes the first workspace."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kaitong.accounts.models import BillingAccount, CloudAccount, ConsoleAccount, VerificationCode
from kaitong.workspaces.models import Workspace
from tests.support.activation import (
    STRONG_PASSWORD,
    bind_account,
    confirming,
    enter,
    existing_account,
    request_code,
    submit,
    verify_url,
)
from tests.support.html import text

pytestmark = pytest.mark.django_db

BIND = "/activate/bind/"
REGISTER = "/activate/bind/register/"
WORKSPACES = "/activate/workspaces/"
CREATE = "/activate/workspaces/create/"
EMAIL = "cto@umbrella.example"


def come_back(client, instance_id: str) -> None:  # type: ignore[no-untyped-def]
    """免登 again, from a browser with no session: a new login-free URL (each is used once)."""
    client.cookies.clear()
    assert client.get(verify_url(instance_id, at=timezone.now() + timedelta(seconds=2))).status_code == 302


def registration(the_code: str, **overrides: str) -> dict[str, str]:
    data = {
        "username": "Umbrella",
        "password1": STRONG_PASSWORD,
        "password2": STRONG_PASSWORD,
        "email": EMAIL,
        "code": the_code,
        "phone": "",
        "enterprise_name": "Umbrella 有限公司",
        "agree": "on",
    }
    data.update(overrides)
    return confirming(data)


def test_register_link_opens_the_enterprise_account_form(client):
    enter(client, "480001")
    client.get(BIND + "?hint=ok")
    bind_page = client.get(BIND).content.decode()
    assert f'<a href="{REGISTER}" data-testid="register-link">注册</a>' in bind_page
    page = client.get(REGISTER).content.decode()
    assert "<title>注册观测云企业账号 · 观测云</title>" in page
    assert text(page, "page-heading") == "注册观测云企业账号"
    for field in ("username", "password1", "password2", "email", "code", "phone", "enterprise_name", "agree"):
        assert f'name="{field}"' in page
    # An account, not a workspace: no workspace fields here.
    assert 'id="id_name"' not in page and 'id="id_language_0"' not in page


def test_registering_lands_on_bind_workspace_with_the_account_then_create_makes_the_first(client):
    enter(client, "480002", ali_uid="7000000000000002")
    code = request_code(client, REGISTER, EMAIL)
    response = submit(client, REGISTER, registration(code))
    assert response.status_code == 302 and response["Location"] == WORKSPACES

    billing = BillingAccount.objects.get()
    console = ConsoleAccount.objects.get()
    assert (billing.username, console.username) == ("umbrella", "umbrella")
    assert billing.console_account == console and billing.enterprise_name == "Umbrella 有限公司"
    assert billing.email == console.email == EMAIL
    assert console.check_password(STRONG_PASSWORD)
    cloud = CloudAccount.objects.get()
    assert (cloud.billing_account, cloud.ali_uid, cloud.instance.instance_id) == (billing, "7000000000000002", "480002")
    assert not Workspace.objects.exists()  # the account only: its first workspace comes next

    page = client.get(WORKSPACES).content.decode()
    assert "<title>绑定观测云工作空间 · 观测云</title>" in page
    assert text(page, "billing-account") == "umbrella"
    assert "企业账号 umbrella 注册成功，已绑定。请绑定或创建工作空间。" in page
    assert "该企业账号下暂无可绑定的工作空间。" in page and f'href="{CREATE}"' in page

    code = request_code(client, CREATE, EMAIL)
    created = submit(
        client, CREATE, {"name": "umbrella-prod", "language": "zh", "email": EMAIL, "code": code, "agree": "on"}
    )
    assert created.status_code == 302
    workspace = Workspace.objects.get()
    assert (workspace.name, workspace.owner, workspace.billing_account) == ("umbrella-prod", console, billing)
    assert workspace.settlement == "aliyun" and workspace.cloud_account == cloud
    done = client.get("/activate/done/").content.decode()
    assert "成功绑定以下观测云工作空间" in done and "umbrella-prod" in done


def test_back_to_the_form_after_registering_says_it_is_done(client):
    enter(client, "480003")
    code = request_code(client, REGISTER, EMAIL)
    assert submit(client, REGISTER, registration(code)).status_code == 302
    again = client.get(REGISTER)
    assert again.status_code == 302 and again["Location"] == WORKSPACES
    assert "您的阿里云账号已绑定费用中心账号，请选择要绑定的工作空间。" in client.get(WORKSPACES).content.decode()
    assert BillingAccount.objects.count() == 1


def test_a_returning_buyer_comes_back_to_the_account_registered(client):
    """The instance was bound at registration: the next 免登 skips the chooser."""
    enter(client, "480005", ali_uid="7000000000000005")
    code = request_code(client, REGISTER, EMAIL)
    submit(client, REGISTER, registration(code))
    come_back(client, "480005")
    response = client.get("/activate/")
    assert response.status_code == 302 and response["Location"] == WORKSPACES
    assert text(client.get(WORKSPACES).content.decode(), "billing-account") == "umbrella"


def test_a_taken_username_changes_nothing_and_keeps_the_code(client):
    existing_account("umbrella", "someone@else.example")
    enter(client, "480006")
    code = request_code(client, REGISTER, EMAIL)
    response = submit(client, REGISTER, registration(code, username="UMBRELLA"))
    assert response.status_code == 409 and "该用户名已被注册，请更换用户名" in response.content.decode()
    assert BillingAccount.objects.count() == 1 and not CloudAccount.objects.exists()
    assert VerificationCode.objects.get().used_at is None
    assert submit(client, REGISTER, registration(code, username="umbrella2")).status_code == 302


def test_an_instance_settling_for_another_account_registers_nothing(client):
    existing_account("acme", "ops@acme.example")
    enter(client, "480007")
    bind_account(client)  # in another browser, the same buyer bound the instance to acme meanwhile
    come_back(client, "480007")  # this browser went straight to the form, not through the chooser
    code = request_code(client, REGISTER, EMAIL)
    response = submit(client, REGISTER, registration(code))
    assert response.status_code == 400
    assert "此云市场实例已绑定其他费用中心账号，无法重复绑定。" in response.content.decode()
    assert BillingAccount.objects.count() == 1 and ConsoleAccount.objects.count() == 1
    assert VerificationCode.objects.get(email=EMAIL).used_at is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"enterprise_name": ""}, "请填写企业名称"),
        ({"agree": ""}, "请阅读并同意用户协议"),
        ({"password2": "another-Strong-Pass-2026"}, "两次输入的密码不一致"),
        ({"username": "ab"}, "用户名长度须为 4–32 个字符"),
        ({"code": "12345"}, "请输入 6 位数字验证码"),
        ({"confirm_username": ""}, "请确认用户名：将注册为 umbrella，注册后不可修改"),
    ],
)
def test_bad_input_is_answered_and_changes_nothing(client, overrides, message):
    enter(client, "480008")
    code = request_code(client, REGISTER, EMAIL)
    response = submit(client, REGISTER, registration(code, **overrides))
    assert response.status_code == 400 and message in response.content.decode()
    assert not (BillingAccount.objects.exists() or ConsoleAccount.objects.exists() or CloudAccount.objects.exists())


def test_english(client):
    client.cookies["django_language"] = "en"
    enter(client, "480009")
    page = client.get(REGISTER).content.decode()
    assert "<title>Register a Guance enterprise account · Guance Cloud</title>" in page
    assert text(page, "page-heading") == "Register a Guance enterprise account"
    code = request_code(client, REGISTER, EMAIL)
    assert submit(client, REGISTER, registration(code))["Location"] == WORKSPACES
    listing = client.get(WORKSPACES).content.decode()
    assert "Enterprise account umbrella is registered and bound. Now bind or create a workspace." in listing
