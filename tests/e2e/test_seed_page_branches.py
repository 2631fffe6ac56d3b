"""Every branch of the seed page in Chromium, from a marketplace-signed login-free URL to 开通成功.

Each test creates its instance through the real SPI endpoint, enters through a signed ``verify`` URL,
reads verification codes from mail the worker sent over real SMTP (aiosmtpd on loopback), and
ends on the workspace's DataKit command. ``KAITONG_SCREENSHOTS=/dir`` saves a PNG of every screen.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import urlencode
from urllib.request import urlopen

import pytest
from playwright.sync_api import Page, expect

from kaitong.marketplace.aliyun.token import signed
from tests.support.activation import STRONG_PASSWORD, existing_account, verify_url
from tests.support.browser import shot
from tests.support.jobs import run_jobs
from tests.support.marketplace import SPI_PATH, create_params, isv_key
from tests.support.smtp import Sink, smtp_sink  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    # A Chinese browser: without a cookie, the language comes from Accept-Language.
    return {**browser_context_args, "locale": "zh-CN"}


@pytest.fixture
def page(page: Page) -> Iterator[Page]:
    page.set_default_timeout(10_000)
    yield page


def open_instance(base: str, instance_id: str, ali_uid: str) -> str:
    """The marketplace's createInstance, over HTTP; then the login-free URL it would send the buyer to."""
    query = urlencode(signed(create_params(instance_id, ali_uid=ali_uid), isv_key()))
    with urlopen(f"{base}{SPI_PATH}?{query}", timeout=10) as answer:
        assert answer.status == 200
    return verify_url(instance_id, base=base)


def code_from_mail(sink: Sink, email: str, *, already: int) -> str:
    """Run queued tasks like ``kaitong worker`` until the code email arrives; return the code."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        run_jobs()
        mine = [m for m in sink.messages if email in str(m["To"])]
        if len(mine) > already:
            found = re.search(r"\b(\d{6})\b", sink.text_of(mine[-1]))
            assert found
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no code mailed to {email}")


def get_code(page: Page, sink: Sink, email: str) -> str:
    before = len([m for m in sink.messages if email in str(m["To"])])
    page.fill("#id_email", email)
    page.get_by_test_id("send-code").click()
    expect(page.get_by_test_id("code-notice")).to_contain_text(email)
    return code_from_mail(sink, email, already=before)


def sign_in_and_see_datakit(page: Page, username: str, workspace: str, *, prefix: str) -> None:
    page.get_by_test_id("to-console").click()
    shot(page, f"{prefix}-login")
    page.fill("#id_username", username)
    page.fill("#id_password", STRONG_PASSWORD)
    page.get_by_test_id("login").click()
    page.get_by_role("link", name=workspace, exact=True).first.click()  # the list, or the switcher
    expect(page.get_by_test_id("workspace-name")).to_have_text(workspace)
    shot(page, f"{prefix}-workspace")
    page.get_by_test_id("start-datakit").click()
    token = page.get_by_test_id("token").inner_text()
    assert re.fullmatch(r"tkn_[0-9a-f]{32}", token)
    linux = page.get_by_test_id("cmd-linux").inner_text()
    assert f'DK_DATAWAY="https://openway.guance.com?token={token}"' in linux
    assert (
        f'$env:DK_DATAWAY="https://openway.guance.com?token={token}"' in page.get_by_test_id("cmd-windows").inner_text()
    )
    page.get_by_test_id("copy-linux").click()
    expect(page.get_by_test_id("copy-linux")).to_have_text(re.compile("已复制|Copied"))


def test_register_commercial_edition(page: Page, live_server, smtp_sink):  # noqa: F811
    """立即注册观测云商业版 → 基本信息 → 企业信息 → 开通方式 (IDs filled in) → 开通成功 → DataKit."""
    page.goto(open_instance(live_server.url, "710001", "6000000000000001"))
    expect(page).to_have_url(f"{live_server.url}/activate/")
    shot(page, "zh-01-chooser")
    page.get_by_test_id("choose-register").click()
    page.fill("#id_username", "Initech")
    code = get_code(page, smtp_sink, "boss@initech.example")
    page.fill("#id_password1", STRONG_PASSWORD)
    page.fill("#id_password2", STRONG_PASSWORD)
    page.fill("#id_code", code)
    page.locator("#id_confirm_username").check()  # 用户名将注册为 initech
    shot(page, "zh-02-register-basic")
    page.get_by_test_id("submit").click()
    page.fill("#id_enterprise_name", "Initech 有限公司")
    page.locator("#id_agree").check()
    shot(page, "zh-03-register-enterprise")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("open-ali-uid")).to_have_value("6000000000000001")
    expect(page.get_by_test_id("open-instance-id")).to_have_value("710001")
    page.fill("#id_name", "initech-prod")
    shot(page, "zh-04-register-open")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("done-title")).to_have_text("开通成功")
    shot(page, "zh-05-done")
    sign_in_and_see_datakit(page, "initech", "initech-prod", prefix="zh-06")


def test_bind_existing_workspace(page: Page, live_server, smtp_sink):  # noqa: F811
    """已有企业账号，去绑定 → 知道了 → username + code → 绑定 (email + code) → 已绑定 → 确定 → 开通成功."""
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod", "acme-test"))
    page.goto(open_instance(live_server.url, "710002", "6000000000000002"))
    page.get_by_test_id("choose-bind").click()
    expect(page.get_by_test_id("hint-dialog")).to_contain_text("如何快速绑定阿里云账号结算")
    shot(page, "zh-10-hint")
    page.get_by_test_id("hint-ok").click()
    expect(page.get_by_test_id("hint-dialog")).to_have_count(0)
    page.fill("#id_username", "acme")
    code = get_code(page, smtp_sink, "ops@acme.example")
    page.fill("#id_code", code)
    shot(page, "zh-11-bind-account")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("workspace-list")).to_contain_text("acme-prod")
    shot(page, "zh-12-workspaces")
    page.locator('[data-name="acme-prod"]').get_by_test_id("bind").click()
    expect(page.get_by_test_id("bind-dialog")).to_be_visible()
    code = get_code(page, smtp_sink, "ops@acme.example")
    page.fill("#id_code", code)
    shot(page, "zh-13-bind-dialog")
    page.get_by_test_id("submit").click()
    expect(page.locator('[data-name="acme-prod"]').get_by_test_id("bound")).to_have_text("已绑定")
    expect(page.locator('[data-name="acme-test"]').get_by_test_id("bind")).to_be_visible()
    shot(page, "zh-14-bound")
    page.get_by_test_id("confirm").click()
    expect(page.get_by_test_id("done-title")).to_have_text("开通成功")
    expect(page.get_by_test_id("bound-list")).to_have_text(re.compile("acme-prod"))
    sign_in_and_see_datakit(page, "acme", "acme-prod", prefix="zh-15")


def test_create_workspace(page: Page, live_server, smtp_sink):  # noqa: F811
    """绑定企业账号 → 创建工作空间 (name, language, email + code) → list shows 已绑定 → 确定 → 成功绑定以下…"""
    existing_account("globex", "it@globex.example")
    page.goto(open_instance(live_server.url, "710003", "6000000000000003"))
    page.get_by_test_id("choose-bind").click()
    page.get_by_test_id("hint-ok").click()
    page.fill("#id_username", "globex")
    page.fill("#id_code", get_code(page, smtp_sink, "it@globex.example"))
    page.get_by_test_id("submit").click()
    page.get_by_test_id("tab-create").click()
    expect(page.get_by_test_id("language-warning")).to_contain_text("一旦创建，此工作空间的模版语言不可修改")
    page.fill("#id_name", "globex-new")
    page.get_by_label("English").check()
    page.fill("#id_code", get_code(page, smtp_sink, "it@globex.example"))
    page.locator("#id_agree").check()
    shot(page, "zh-20-create")
    page.get_by_test_id("submit").click()
    expect(page.locator('[data-name="globex-new"]').get_by_test_id("bound")).to_be_visible()
    page.get_by_test_id("confirm").click()
    expect(page.get_by_text("成功绑定以下观测云工作空间")).to_be_visible()
    expect(page.get_by_test_id("bound-list")).to_contain_text("globex-new")
    sign_in_and_see_datakit(page, "globex", "globex-new", prefix="zh-21")


def test_register_console_account_and_workspace(page: Page, live_server, smtp_sink):  # noqa: F811
    """注册观测云账号 (username registers the billing-center account too), opened by its address before
    any account is bound (尚无企业账号 → 注册 registers the enterprise account alone: test_registration_journeys)."""
    page.goto(open_instance(live_server.url, "710004", "6000000000000004"))
    page.goto(f"{live_server.url}/activate/workspaces/register/")
    expect(page.get_by_test_id("username-rule")).to_contain_text("一旦注册不能修改")
    page.fill("#id_name", "hooli-prod")
    page.fill("#id_username", "hooli")
    page.fill("#id_password1", STRONG_PASSWORD)
    page.fill("#id_password2", "not the same password")
    code = get_code(page, smtp_sink, "gavin@hooli.example")
    page.fill("#id_code", code)
    page.locator("#id_agree").check()
    page.get_by_test_id("submit").click()
    expect(page.locator("#id_password2_error")).to_contain_text("两次输入的密码不一致")
    shot(page, "zh-30-register-error")
    # The form comes back by a redirect with what was typed, but never a password or the code.
    expect(page.locator("#id_username")).to_have_value("hooli")
    expect(page.locator("#id_code")).to_have_value("")
    page.fill("#id_password1", STRONG_PASSWORD)
    page.fill("#id_password2", STRONG_PASSWORD)
    page.fill("#id_code", code)
    page.locator("#id_confirm_username").check()
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("done-title")).to_have_text("开通成功")
    sign_in_and_see_datakit(page, "hooli", "hooli-prod", prefix="zh-31")


def test_english_register_console_account_branch(page: Page, live_server, smtp_sink):  # noqa: F811
    """The same branch in English, switched on the first page; the code email comes in English."""
    page.goto(open_instance(live_server.url, "710005", "6000000000000005"))
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("choose-register")).to_contain_text("Register Guance Cloud Commercial now")
    shot(page, "en-01-chooser")
    page.get_by_test_id("choose-bind").click()
    expect(page.get_by_test_id("hint-dialog")).to_contain_text("How to quickly bind Alibaba Cloud account settlement")
    shot(page, "en-02-hint")
    page.get_by_test_id("hint-ok").click()
    shot(page, "en-03-bind-account")
    page.goto(f"{live_server.url}/activate/workspaces/register/")
    expect(page.get_by_test_id("language-warning")).to_contain_text("can never be changed")
    page.fill("#id_name", "pied-piper")
    page.fill("#id_username", "piedpiper")
    code = get_code(page, smtp_sink, "richard@piedpiper.example")
    message = [m for m in smtp_sink.messages if "richard@piedpiper.example" in str(m["To"])][-1]
    assert str(message["Subject"]).startswith("Guance Cloud verification code")
    page.fill("#id_password1", STRONG_PASSWORD)
    page.fill("#id_password2", STRONG_PASSWORD)
    page.fill("#id_code", code)
    page.locator("#id_agree").check()
    page.locator("#id_confirm_username").check()
    shot(page, "en-04-register")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("done-title")).to_have_text("Activated successfully")
    shot(page, "en-05-done")
    page.get_by_test_id("to-console").click()
    page.fill("#id_username", "piedpiper")
    page.fill("#id_password", STRONG_PASSWORD)
    page.get_by_test_id("login").click()
    expect(page.get_by_test_id("start-datakit")).to_have_text("Start by installing DataKit")
    shot(page, "en-06-workspace")
    assert "?token=tkn_" in page.get_by_test_id("cmd-linux").inner_text()
