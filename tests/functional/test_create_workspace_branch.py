"""Branch 创建工作空间: name, language (immutable warning), the console account's email + code."""

from __future__ import annotations

import pytest
from django.core import mail

from kaitong.workspaces.models import Workspace
from tests.support.activation import (
    bind_account,
    code_sent_to,
    deliver_mail,
    enter,
    existing_account,
    request_code,
    submit,
)

pytestmark = pytest.mark.django_db
CREATE = "/activate/workspaces/create/"


def form(the_code: str, **overrides: str) -> dict[str, str]:
    data = {"name": "acme-new", "language": "en", "email": "ops@acme.example", "code": the_code, "agree": "on"}
    data.update(overrides)
    return data


def test_create_workspace_returns_to_the_list_showing_bound(client):
    account = existing_account("acme", "ops@acme.example")
    enter(client, "600001", ali_uid="4000000000000001")
    bind_account(client)
    page = client.get(CREATE).content.decode()
    assert "一旦创建，此工作空间的模版语言不可修改" in page and "English" in page
    code = request_code(client, CREATE, "ops@acme.example")
    response = submit(client, CREATE, form(code))
    assert response.status_code == 302 and response["Location"] == "/activate/workspaces/"
    workspace = Workspace.objects.get()
    assert (workspace.name, workspace.language, workspace.owner) == ("acme-new", "en", account.console_account)
    assert workspace.settlement == "aliyun" and workspace.cloud_account.instance.instance_id == "600001"
    listing = client.get("/activate/workspaces/").content.decode()
    assert 'data-testid="bound"' in listing and 'href="/activate/done/"' in listing
    done = client.get("/activate/done/").content.decode()
    assert "成功绑定以下观测云工作空间" in done and "acme-new" in done


@pytest.mark.parametrize(
    ("overrides", "message", "status"),
    [
        ({"name": "   "}, "请填写工作空间名称", 400),
        ({"name": "x" * 65}, "最多 64 个字符", 400),
        ({"language": ""}, "请选择工作空间语言", 400),
        ({"agree": ""}, "请阅读并同意用户协议", 400),
        ({"email": "bad@"}, "请输入有效的邮箱地址", 400),
    ],
)
def test_bad_input_changes_nothing(client, overrides, message, status):
    existing_account("acme", "ops@acme.example")
    enter(client, "600002")
    bind_account(client)
    code = request_code(client, CREATE, "ops@acme.example")
    response = submit(client, CREATE, form(code, **overrides))
    assert response.status_code == status
    assert message in response.content.decode()
    assert not Workspace.objects.exists()


def test_email_must_be_the_console_accounts(client):
    """Said when 获取验证码 is clicked, and the stranger is mailed nothing (issue 11, item 6)."""
    existing_account("acme", "ops@acme.example")
    enter(client, "600003")
    bind_account(client)
    mail.outbox.clear()
    response = submit(client, CREATE, {**form(""), "op": "send_code", "email": "stranger@else.example"})
    deliver_mail()
    assert response.status_code == 400 and "请输入注册观测云账号时使用的邮箱" in response.content.decode()
    assert 'value="acme-new"' in response.content.decode()  # the rest of the form is kept
    assert mail.outbox == []
    response = submit(client, CREATE, form("123456", email="stranger@else.example"))
    assert response.status_code == 400
    assert not Workspace.objects.exists()


def test_code_for_another_purpose_fails(client):
    existing_account("acme", "ops@acme.example")
    enter(client, "600004")
    bind_account(client)
    # A code issued for registering is no good for creating a workspace.
    from django.utils import timezone

    from kaitong.accounts import actions, domain
    from kaitong.accounts.models import VerificationCode

    actions.do_send_verification_code(
        email="ops@acme.example", purpose=domain.Purpose.REGISTER, ip="10.0.0.1", language="zh-hans", now=timezone.now()
    )
    code = code_sent_to("ops@acme.example")
    assert VerificationCode.objects.filter(purpose="register").exists()
    response = submit(client, CREATE, form(code))
    assert response.status_code == 400 and "请先获取验证码" in response.content.decode()


def test_double_submit_creates_one_workspace(client):
    existing_account("acme", "ops@acme.example")
    enter(client, "600005")
    bind_account(client)
    code = request_code(client, CREATE, "ops@acme.example")
    assert submit(client, CREATE, form(code)).status_code == 302
    again = submit(client, CREATE, form(code))
    assert again.status_code == 400 and "验证码已使用" in again.content.decode()
    assert Workspace.objects.count() == 1


def test_needs_a_bound_billing_account(client):
    enter(client, "600006")
    response = client.get(CREATE)
    assert response.status_code == 302 and response["Location"] == "/activate/bind/"


def test_the_form_again_after_creating_says_what_this_visit_made(client):
    """Back after 创建 (or the tab opened again): the form says the workspace exists already, so a second
    one is created only on purpose; a fresh visit's form says nothing of the kind."""
    existing_account("acme", "ops@acme.example")
    enter(client, "600009", ali_uid="4000000000000009")
    bind_account(client)
    assert 'data-testid="made-here"' not in client.get(CREATE).content.decode()
    assert submit(client, CREATE, form(request_code(client, CREATE, "ops@acme.example"))).status_code == 302
    again = client.get(CREATE).content.decode()
    assert 'data-testid="made-here"' in again and "本次已创建或绑定工作空间：acme-new" in again
    assert 'href="/activate/workspaces/" data-testid="made-here-done"' in again
    client.cookies["django_language"] = "en"
    assert "In this visit you already created or bound: acme-new." in client.get(CREATE).content.decode()
