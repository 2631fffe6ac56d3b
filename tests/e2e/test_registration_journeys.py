"""Issue 11 in Chromium: the username a form will register, shown as it is typed and confirmed before
registering (item 7), with and without JavaScript; and 尚无企业账号 → 注册, which registers the enterprise
account and returns to 绑定观测云工作空间, where 创建工作空间 makes the first workspace (item 8).
``KAITONG_SCREENSHOTS=/dir`` saves a PNG of every screen."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from kaitong.accounts.models import BillingAccount, CloudAccount
from kaitong.workspaces.models import Workspace
from tests.e2e.test_seed_page_branches import get_code, open_instance, sign_in_and_see_datakit
from tests.support.activation import STRONG_PASSWORD, existing_account
from tests.support.browser import shot
from tests.support.smtp import smtp_sink  # noqa: F401  (fixture)
from tests.unit.accounts.test_username_preview_agrees import TRICKY, python_answer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "locale": "zh-CN"}


@pytest.fixture
def page(page: Page) -> Iterator[Page]:
    page.set_default_timeout(10_000)
    yield page


def fill_enterprise_registration(page: Page, sink, email: str, enterprise: str) -> None:  # type: ignore[no-untyped-def]
    """The enterprise registration's fields after the username: a code mailed to ``email``, the rest typed."""
    code = get_code(page, sink, email)
    page.fill("#id_password1", STRONG_PASSWORD)
    page.fill("#id_password2", STRONG_PASSWORD)
    page.fill("#id_code", code)
    page.fill("#id_enterprise_name", enterprise)
    page.locator("#id_agree").check()


def preview(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_test_id("username-preview")


def test_the_name_to_be_registered_is_shown_as_it_is_typed_and_confirmed(page: Page, live_server, smtp_sink):  # noqa: F811
    page.goto(open_instance(live_server.url, "720001", "6100000000000001"))
    page.get_by_test_id("choose-register").click()
    box = page.locator("#id_confirm_username")
    expect(box).to_be_disabled()
    expect(page.get_by_test_id("confirm-username")).to_contain_text("填写用户名后，请在此确认注册的用户名")

    page.locator("#id_username").press_sequentially("Wu6893Upper")
    expect(page.get_by_test_id("username-canonical")).to_contain_text("将注册为 wu6893upper")
    expect(page.get_by_test_id("username-canonical")).to_contain_text("已按规则转为小写、半角字符")
    confirm_words = "用户名将注册为 wu6893upper，注册后不可修改，我已确认"
    expect(page.get_by_test_id("confirm-canonical")).to_have_text(confirm_words)
    expect(box).to_be_enabled()
    expect(box).to_have_value("wu6893upper")
    box.check()
    shot(page, "zh-40-username-preview")

    # Another name: the confirmation was of the old one, so it is asked again.
    page.fill("#id_username", "ｇｅｎｇ6893")
    expect(page.get_by_test_id("username-canonical")).to_contain_text("将注册为 geng6893")
    expect(box).to_have_value("geng6893")
    expect(box).not_to_be_checked()

    # A name that breaks a rule: said beside the field, nothing to confirm.
    page.fill("#id_username", "1abc")
    expect(preview(page)).to_contain_text("用户名须以字母开头")
    expect(page.get_by_test_id("username-canonical")).to_be_hidden()
    expect(box).to_be_disabled()
    shot(page, "zh-41-username-refused")

    # The browser's rule is the server's (the unit test runs the same file in node, this is V8 in Chromium).
    answers = page.evaluate("inputs => inputs.map(window.kaitongCanonicalUsername)", TRICKY)
    assert answers == [python_answer(raw) for raw in TRICKY]

    # Registering: not without the confirmation, then as confirmed.
    page.fill("#id_username", "ｇｅｎｇ6893")
    code = get_code(page, smtp_sink, "geng@example.com")
    page.fill("#id_password1", STRONG_PASSWORD)
    page.fill("#id_password2", STRONG_PASSWORD)
    page.fill("#id_code", code)
    page.get_by_test_id("submit").click()
    expect(page.locator(".errorlist")).to_contain_text("请确认用户名：将注册为 geng6893，注册后不可修改")
    page.fill("#id_password1", STRONG_PASSWORD)
    page.fill("#id_password2", STRONG_PASSWORD)
    page.fill("#id_code", code)  # a refused form never keeps its code (Post/Redirect/Get)
    page.locator("#id_confirm_username").check()
    page.get_by_test_id("submit").click()
    expect(page.get_by_role("heading", name="企业信息")).to_be_visible()
    expect(page.get_by_text("用户名 geng6893，邮箱 geng@example.com 已验证。")).to_be_visible()


def test_without_javascript_the_refusal_is_the_confirm_step(browser: Browser, live_server, smtp_sink):  # noqa: F811
    context = browser.new_context(java_script_enabled=False, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(open_instance(live_server.url, "720002", "6100000000000002"))
        page.get_by_test_id("choose-bind").click()
        page.get_by_test_id("hint-ok").click()
        page.get_by_test_id("register-link").click()
        expect(page.locator("#id_confirm_username")).to_be_disabled()  # no script: no name known yet
        page.fill("#id_username", "Wu6893Upper")
        page.fill("#id_enterprise_name", "吴氏科技")
        page.locator("#id_agree").check()
        page.fill("#id_email", "wu@example.com")
        page.get_by_test_id("submit").click()  # without a code: refused, and the name to confirm is shown
        confirm_words = "用户名将注册为 wu6893upper，注册后不可修改，我已确认"
        expect(page.get_by_test_id("confirm-canonical")).to_have_text(confirm_words)
        expect(page.locator(".errorlist").first).to_be_visible()
        shot(page, "zh-42-confirm-without-script")
        code = get_code(page, smtp_sink, "wu@example.com")
        for field in ("#id_password1", "#id_password2"):
            page.fill(field, STRONG_PASSWORD)
        page.fill("#id_code", code)
        page.get_by_test_id("submit").click()  # still not ticked: refused, naming it
        expect(page.locator(".errorlist")).to_contain_text("请确认用户名：将注册为 wu6893upper，注册后不可修改")
        for field in ("#id_password1", "#id_password2"):
            page.fill(field, STRONG_PASSWORD)
        page.fill("#id_code", code)  # a refused form never keeps its code (Post/Redirect/Get)
        page.locator("#id_confirm_username").check()
        page.get_by_test_id("submit").click()
        expect(page.get_by_test_id("billing-account")).to_have_text("wu6893upper")
        assert BillingAccount.objects.get().username == "wu6893upper"
    finally:
        context.close()


def test_no_enterprise_account_register_then_create_the_first_workspace(page: Page, live_server, smtp_sink):  # noqa: F811
    """已有企业账号，去绑定 → 知道了 → 尚无企业账号？注册 → 绑定观测云工作空间 (the new account in the
    header) → 创建工作空间 → 已绑定 → 确定 → 开通成功 → the console."""
    page.goto(open_instance(live_server.url, "720003", "6100000000000003"))
    page.get_by_test_id("choose-bind").click()
    page.get_by_test_id("hint-ok").click()
    page.get_by_test_id("register-link").click()
    expect(page).to_have_title("注册观测云企业账号 · 观测云")
    expect(page.get_by_test_id("username-rule")).to_contain_text("支持绑定费用中心用户名账号")
    page.fill("#id_username", "Umbrella")
    fill_enterprise_registration(page, smtp_sink, "cto@umbrella.example", "Umbrella 有限公司")
    page.locator("#id_confirm_username").check()
    shot(page, "zh-50-register-enterprise-account")
    page.get_by_test_id("submit").click()

    expect(page).to_have_title("绑定观测云工作空间 · 观测云")
    expect(page.get_by_test_id("billing-account")).to_have_text("umbrella")
    expect(page.locator(".flash")).to_contain_text("企业账号 umbrella 注册成功，已绑定")
    expect(page.get_by_text("该企业账号下暂无可绑定的工作空间。")).to_be_visible()
    assert not Workspace.objects.exists() and CloudAccount.objects.get().instance.instance_id == "720003"
    shot(page, "zh-51-after-register")
    # The registration's address again (Back through the code step's page is item 4's business): it is
    # done, and the page says so.
    page.goto(f"{live_server.url}/activate/bind/register/")
    expect(page.get_by_test_id("billing-account")).to_have_text("umbrella")
    expect(page.locator(".flash")).to_contain_text("您的阿里云账号已绑定费用中心账号")
    assert BillingAccount.objects.count() == 1

    page.get_by_test_id("tab-create").click()
    page.fill("#id_name", "umbrella-prod")
    page.fill("#id_code", get_code(page, smtp_sink, "cto@umbrella.example"))
    page.locator("#id_agree").check()
    page.get_by_test_id("submit").click()
    expect(page.locator('[data-name="umbrella-prod"]').get_by_test_id("bound")).to_be_visible()
    page.get_by_test_id("confirm").click()
    expect(page.get_by_test_id("bound-list")).to_contain_text("umbrella-prod")
    sign_in_and_see_datakit(page, "umbrella", "umbrella-prod", prefix="zh-52")


def test_the_register_tab_of_a_bound_account_says_why_it_registers_nothing(page: Page, live_server, smtp_sink):  # noqa: F811
    existing_account("demo", "ops@demo.example", workspaces=("demo-prod",))
    page.goto(open_instance(live_server.url, "720004", "6100000000000004"))
    page.get_by_test_id("choose-bind").click()
    page.get_by_test_id("hint-ok").click()
    page.fill("#id_username", "demo")
    page.fill("#id_code", get_code(page, smtp_sink, "ops@demo.example"))
    page.get_by_test_id("submit").click()
    steps = page.locator("ol.stepper li").all_inner_texts()
    page.get_by_test_id("tab-register").click()
    expect(page).to_have_title("注册观测云账号 · 观测云")
    assert page.locator("ol.stepper li").all_inner_texts() == steps == ["绑定企业账号", "绑定工作空间", "开通成功"]
    expect(page.get_by_test_id("billing-account")).to_have_text("demo")
    expect(page.get_by_test_id("instance-held")).to_contain_text("此云市场实例已由费用中心账号 demo 结算")
    expect(page.locator("#id_password1")).to_have_count(0)
    shot(page, "zh-53-register-tab-bound")
    page.get_by_test_id("to-create").click()
    expect(page.get_by_test_id("tab-create")).to_have_class(re.compile(r"\bon\b"))


def test_english_enterprise_account_registration(page: Page, live_server, smtp_sink):  # noqa: F811
    page.goto(open_instance(live_server.url, "720005", "6100000000000005"))
    page.get_by_test_id("lang-switch").click()
    page.get_by_test_id("choose-bind").click()
    page.get_by_test_id("hint-ok").click()
    page.get_by_test_id("register-link").click()
    expect(page).to_have_title("Register a Guance enterprise account · Guance Cloud")
    warning = page.get_by_test_id("username-rule")
    expect(warning).to_contain_text("you may also bind an existing billing-center username")
    page.locator("#id_username").press_sequentially("PiedPiper")
    expect(page.get_by_test_id("username-canonical")).to_contain_text("Will be registered as piedpiper")
    fill_enterprise_registration(page, smtp_sink, "richard@piedpiper.example", "Pied Piper Inc.")
    expect(page.get_by_test_id("confirm-canonical")).to_have_text(
        "I confirm the username will be registered as piedpiper and can never be changed afterwards"
    )
    page.locator("#id_confirm_username").check()
    shot(page, "en-50-register-enterprise-account")
    page.get_by_test_id("submit").click()
    expect(page).to_have_title("Bind Guance workspace · Guance Cloud")
    expect(page.get_by_test_id("billing-account")).to_have_text("piedpiper")
    expect(page.locator(".flash")).to_contain_text("Enterprise account piedpiper is registered and bound")
    shot(page, "en-51-after-register")
