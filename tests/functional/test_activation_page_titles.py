"""Issue 11, item 12: the 注册观测云账号 tab is a tab of 绑定观测云工作空间 once an account is bound (the same
steps as its sibling tabs, the account in the header) and never offers a registration that cannot
succeed; every page's <title> and heading say what the page does, in Chinese and in English."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from kaitong.accounts.models import BillingAccount, ConsoleAccount, VerificationCode
from kaitong.workspaces.models import Workspace
from tests.support.activation import (
    STRONG_PASSWORD,
    bind_account,
    confirming,
    enter,
    existing_account,
    open_instance,
    request_code,
    submit,
    verify_url,
)
from tests.support.html import text
from tests.support.marketplace import call_spi

pytestmark = pytest.mark.django_db

TAB = "/activate/workspaces/register/"


def title(page: str) -> str:
    found = re.search(r"<title>(.*?)</title>", page, re.S)
    assert found
    return found.group(1).strip()


def stepper(page: str) -> str:
    found = re.search(r'<ol class="stepper">.*?</ol>', page, re.S)
    assert found
    return re.sub(r"\s+", " ", found.group(0))


def registration(the_code: str, username: str = "newco") -> dict[str, str]:
    return confirming(
        {
            "name": "生产环境",
            "language": "zh",
            "username": username,
            "password1": STRONG_PASSWORD,
            "password2": STRONG_PASSWORD,
            "email": "admin@newco.example",
            "code": the_code,
            "phone": "",
            "agree": "on",
        }
    )


def test_with_an_account_bound_the_tab_is_a_tab_of_bind_workspace(client):
    existing_account("demo", "ops@demo.example", workspaces=("demo-prod",))
    enter(client, "495001")
    bind_account(client, "demo", "ops@demo.example")
    siblings = client.get("/activate/workspaces/").content.decode()
    page = client.get(TAB).content.decode()
    assert stepper(page) == stepper(siblings)  # 绑定企业账号 ✓ → 绑定工作空间 → 开通成功
    assert [step for step in re.findall(r"<li[^>]*>([^<]+)</li>", stepper(page))] == [
        "绑定企业账号",
        "绑定工作空间",
        "开通成功",
    ]
    assert text(page, "billing-account") == "demo"
    assert title(page) == "注册观测云账号 · 观测云"
    assert text(page, "page-heading") == "注册观测云账号"
    assert 'class="on" data-testid="tab-register"' in page


def test_an_instance_that_settles_for_an_account_offers_no_registration_that_would_fail(client):
    """Before, the tab took every field and a code, then answered 此云市场实例已绑定其他费用中心账号."""
    existing_account("demo", "ops@demo.example")
    enter(client, "495002")
    bind_account(client, "demo", "ops@demo.example")
    page = client.get(TAB).content.decode()
    notice = text(page, "instance-held")
    assert "此云市场实例已由费用中心账号 demo 结算" in notice and "无法再使用此实例结算" in notice
    assert 'name="password1"' not in page and 'name="code"' not in page
    assert 'href="/activate/workspaces/create/" data-testid="to-create"' in page
    # A page loaded before, sent now: nothing is sent or registered.
    sent = client.post(TAB, {"op": "send_code", "email": "admin@newco.example", "form_token": "x" * 32})
    assert sent.status_code == 409 and not VerificationCode.objects.filter(email="admin@newco.example").exists()
    refused = client.post(TAB, {**registration("123456"), "form_token": "y" * 32})
    assert refused.status_code == 409
    assert (ConsoleAccount.objects.count(), Workspace.objects.count()) == (1, 0)


def test_a_new_instance_of_a_bound_buyer_can_register_a_new_account_and_the_header_follows(client):
    """免登 for a second instance of an Alibaba account already bound: the account is recognised, the
    instance settles for nobody yet; registering here gives it to the new account, said beforehand."""
    existing_account("demo", "ops@demo.example")
    enter(client, "495003", ali_uid="8000000000000003")
    bind_account(client, "demo", "ops@demo.example")
    open_instance(client, "495004", ali_uid="8000000000000003")
    client.cookies.clear()
    client.get(verify_url("495004", at=timezone.now() + timedelta(seconds=2)))
    assert client.get("/activate/")["Location"] == "/activate/workspaces/"
    page = client.get(TAB).content.decode()
    assert text(page, "billing-account") == "demo"
    assert "当前绑定的费用中心账号为 demo" in text(page, "new-account-notice")
    code = request_code(client, TAB, "admin@newco.example")
    response = submit(client, TAB, registration(code))
    assert response.status_code == 302 and response["Location"] == "/activate/done/"
    assert text(client.get("/activate/done/").content.decode(), "billing-account") == "newco"
    assert BillingAccount.objects.get(username="newco").cloud_accounts.get().instance.instance_id == "495004"


def test_without_an_account_the_tab_is_a_registration_of_its_own(client):
    enter(client, "495005")
    page = client.get(TAB).content.decode()
    assert [step for step in re.findall(r"<li[^>]*>([^<]+)</li>", stepper(page))] == [
        "注册账号并创建工作空间",
        "开通成功",
    ]
    assert title(page) == "注册观测云账号 · 观测云"
    assert text(page, "page-heading") == "注册观测云账号"
    assert "绑定观测云工作空间" not in page
    assert 'data-testid="billing-account"' not in page


# (path, Chinese title, English title) of the pages reached with an entry and no account bound.
FRESH_PAGES = [
    ("/activate/bind/", "绑定观测云企业账号", "Bind your Guance enterprise account"),
    ("/activate/bind/register/", "注册观测云企业账号", "Register a Guance enterprise account"),
    ("/activate/workspaces/register/", "注册观测云账号", "Register a Guance account"),
    ("/activate/register/", "基本信息 · 注册观测云商业版", "Basic info · Register Guance Cloud Commercial"),
]


@pytest.mark.parametrize(("language", "suffix"), [("zh-hans", "观测云"), ("en", "Guance Cloud")])
def test_every_page_is_titled_for_what_it_does(client, language, suffix):
    client.cookies["django_language"] = language
    zh = language == "zh-hans"
    enter(client, "495010")
    for path, chinese, english in FRESH_PAGES:
        assert title(client.get(path).content.decode()) == f"{chinese if zh else english} · {suffix}", path

    # The registration's later steps.
    code = request_code(client, "/activate/register/", "boss@initech.example")
    basic = {"username": "initech", "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD}
    submit(client, "/activate/register/", confirming({**basic, "email": "boss@initech.example", "code": code}))
    page = client.get("/activate/register/enterprise/").content.decode()
    assert (
        title(page)
        == ("企业信息 · 注册观测云商业版" if zh else "Enterprise info · Register Guance Cloud Commercial")
        + f" · {suffix}"
    )
    submit(client, "/activate/register/enterprise/", {"enterprise_name": "Initech", "agree": "on"})
    page = client.get("/activate/register/open/").content.decode()
    assert (
        title(page)
        == ("开通方式 · 注册观测云商业版" if zh else "Open method · Register Guance Cloud Commercial") + f" · {suffix}"
    )

    # Refusals: the page is titled with what happened, as its heading says.
    missing = client.get("/activate/workspaces/999999/bind/").content.decode()
    assert title(missing) == ("未找到该工作空间" if zh else "Workspace not found") + f" · {suffix}"
    call_spi(client, {"action": "expiredInstance", "instanceId": "495010"})
    gone = client.get("/activate/").content.decode()
    assert (
        title(gone)
        == ("云市场实例已不可用" if zh else "The marketplace instance is no longer available") + f" · {suffix}"
    )
    client.cookies.pop("sessionid", None)
    stranger = client.get("/activate/").content.decode()
    assert (
        title(stranger)
        == ("请从阿里云市场免登进入" if zh else "Please enter from Alibaba Cloud Marketplace") + f" · {suffix}"
    )
    url = verify_url("495011")
    open_instance(client, "495011")
    client.get(url)
    replayed = client.get(url).content.decode()
    assert title(replayed) == ("免登链接已使用" if zh else "The login-free link has already been used") + f" · {suffix}"
