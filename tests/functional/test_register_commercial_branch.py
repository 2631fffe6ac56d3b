"""Branch 立即注册观测云商业版: basic info → enterprise info → open method (IDs from the session) → 开通成功."""

from __future__ import annotations

import pytest

from kaitong.accounts.models import BillingAccount, CloudAccount, ConsoleAccount
from kaitong.workspaces.models import Workspace
from tests.support.activation import STRONG_PASSWORD, confirming, enter, existing_account, request_code, submit

pytestmark = pytest.mark.django_db
BASIC, ENTERPRISE, OPEN = "/activate/register/", "/activate/register/enterprise/", "/activate/register/open/"


def basic(the_code: str, **overrides: str) -> dict[str, str]:
    data = {
        "username": "Initech",
        "password1": STRONG_PASSWORD,
        "password2": STRONG_PASSWORD,
        "email": "boss@initech.example",
        "code": the_code,
        "phone": "+86 138 0000 0000",
    }
    data.update(overrides)
    return confirming(data)


def test_three_steps_to_success(client):
    enter(client, "700001", ali_uid="5000000000000001")
    code = request_code(client, BASIC, "boss@initech.example")
    response = submit(client, BASIC, basic(code))
    assert response.status_code == 302 and response["Location"] == ENTERPRISE
    assert not ConsoleAccount.objects.exists()
    assert "Kaitong-Strong" not in str(dict(client.session))  # only the hash is kept
    response = submit(client, ENTERPRISE, {"enterprise_name": "Initech 有限公司", "agree": "on"})
    assert response.status_code == 302 and response["Location"] == OPEN
    billing = BillingAccount.objects.get()
    assert (billing.username, billing.enterprise_name) == ("initech", "Initech 有限公司")
    assert billing.console_account.check_password(STRONG_PASSWORD)
    page = client.get(OPEN).content.decode()
    assert 'value="5000000000000001"' in page and 'value="700001"' in page
    response = submit(client, OPEN, {"name": "initech-prod", "language": "zh"})
    assert response.status_code == 302 and response["Location"] == "/activate/done/"
    workspace = Workspace.objects.get()
    assert workspace.settlement == "aliyun" and workspace.owner == billing.console_account
    assert CloudAccount.objects.get().billing_account == billing
    assert "开通成功" in client.get("/activate/done/").content.decode()
    # Back button on the open step after success: nothing doubles.
    again = submit(client, OPEN, {"name": "initech-prod", "language": "zh"})
    assert again.status_code == 302 and again["Location"] == "/activate/done/"
    assert Workspace.objects.count() == 1


def test_taken_username_is_said_at_step_one(client):
    existing_account("initech", "x@x.example")
    enter(client, "700002")
    code = request_code(client, BASIC, "boss@initech.example")
    response = submit(client, BASIC, basic(code))
    assert response.status_code == 409 and "该用户名已被注册" in response.content.decode()


def test_username_taken_between_steps_is_decided_by_the_constraint(client):
    enter(client, "700003")
    code = request_code(client, BASIC, "boss@initech.example")
    submit(client, BASIC, basic(code))
    existing_account("initech", "x@x.example")  # somebody else got there first
    response = submit(client, ENTERPRISE, {"enterprise_name": "Initech", "agree": "on"})
    assert response.status_code == 302 and response["Location"] == BASIC
    assert "该用户名已被注册" in client.get(BASIC).content.decode()
    assert BillingAccount.objects.count() == 1


def test_steps_cannot_be_skipped(client):
    enter(client, "700004")
    assert client.get(ENTERPRISE)["Location"] == BASIC
    assert client.get(OPEN)["Location"] == BASIC


def test_enterprise_step_needs_a_name_and_agreement(client):
    enter(client, "700005")
    code = request_code(client, BASIC, "boss@initech.example")
    submit(client, BASIC, basic(code))
    response = submit(client, ENTERPRISE, {"enterprise_name": "", "agree": ""})
    assert response.status_code == 400
    body = response.content.decode()
    assert "请填写企业名称" in body and "请阅读并同意用户协议" in body
    assert not BillingAccount.objects.exists()


def test_open_step_needs_a_workspace_name(client):
    enter(client, "700006")
    code = request_code(client, BASIC, "boss@initech.example")
    submit(client, BASIC, basic(code))
    submit(client, ENTERPRISE, {"enterprise_name": "Initech", "agree": "on"})
    response = submit(client, OPEN, {"name": "", "language": "zh"})
    assert response.status_code == 400 and "请填写工作空间名称" in response.content.decode()
    assert not Workspace.objects.exists()
