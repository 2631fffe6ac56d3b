"""The code steps of every branch in Chromium, as buyers really use them (issue 11, items 3–6).

获取验证码 is an in-page request that keeps what was typed (the passwords too) and counts 60 s down on
the button; a second click within the cooldown keeps the notice and says when to ask again; Back after
each step shows a page, never Chromium's "Confirm Form Resubmission" (ERR_CACHE_MISS); a double click
makes one change; and with JavaScript turned off the same forms still register. Codes come by real SMTP
(aiosmtpd on loopback). ``KAITONG_SCREENSHOTS=/dir`` saves the forms with the countdown, in Chinese and
English, at 1366×900 and 390×844.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from kaitong.workspaces.models import Workspace
from tests.e2e.test_seed_page_branches import code_from_mail, open_instance
from tests.support.activation import STRONG_PASSWORD, existing_account
from tests.support.browser import shot
from tests.support.smtp import Sink, smtp_sink  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
COUNTING = re.compile(r"已发送（\d+ 秒）|Sent \(\d+ s\)")


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "locale": "zh-CN", "viewport": DESKTOP}


def typed_account(page: Page, username: str) -> None:
    page.fill("#id_username", username)
    page.fill("#id_password1", STRONG_PASSWORD)
    page.fill("#id_password2", STRONG_PASSWORD)


def mails_to(sink: Sink, email: str) -> int:
    return len([m for m in sink.messages if email in str(m["To"])])


def send_code(page: Page, sink: Sink, email: str) -> str:
    """获取验证码 for ``email`` (typed into the form first); the code from the mail."""
    before = mails_to(sink, email)
    page.fill("#id_email", email)
    page.get_by_test_id("send-code").click()
    expect(page.get_by_test_id("code-notice")).to_contain_text(email)
    return code_from_mail(sink, email, already=before)


def back(page: Page, shows: str) -> None:
    """Back, and the page is there: a page of ours with ``shows`` (a test id), not Chromium's error
    page asking to send a form again (Confirm Form Resubmission, ERR_CACHE_MISS)."""
    page.go_back()
    expect(page.get_by_test_id(shows).first).to_be_visible()
    assert page.url.startswith("http://"), page.url
    expect(page.locator("body")).not_to_contain_text("ERR_CACHE_MISS")


def test_send_code_keeps_the_passwords_counts_down_and_back_after_each_step(page: Page, live_server, smtp_sink):  # noqa: F811
    """立即注册观测云商业版: 获取验证码 in the page, a second click within the cooldown, then every step
    and Back after each."""
    page.goto(open_instance(live_server.url, "720001", "6100000000000001"))
    page.get_by_test_id("choose-register").click()
    typed_account(page, "Initech")
    history = page.evaluate("history.length")
    code = send_code(page, smtp_sink, "boss@initech.example")
    # Nothing typed is lost, the page did not change, and the button counts down.
    expect(page.locator("#id_password1")).to_have_value(STRONG_PASSWORD)
    expect(page.locator("#id_password2")).to_have_value(STRONG_PASSWORD)
    expect(page.locator("#id_username")).to_have_value("Initech")
    assert page.evaluate("history.length") == history
    button = page.get_by_test_id("send-code")
    expect(button).to_be_disabled()
    expect(button).to_have_text(COUNTING)
    expect(page.get_by_test_id("code-notice")).to_contain_text("验证码已发送至 boss@initech.example，10 分钟内有效")

    # Another address ends the wait (the cooldown is per address); back to the first one, a second click
    # within its cooldown keeps the notice, says when to ask again, and sends nothing.
    page.fill("#id_email", "typo@initech.example")
    expect(button).to_be_enabled()
    expect(button).to_have_text("重新获取")
    page.fill("#id_email", "boss@initech.example")
    button.click()
    notice = page.get_by_test_id("code-notice")
    expect(notice).to_contain_text("验证码已发送至 boss@initech.example")
    expect(notice).to_contain_text(re.compile(r"如未收到，请 \d+ 秒后重新获取"))
    expect(notice).not_to_contain_text("过于频繁")
    expect(page.get_by_test_id("send-code")).to_be_disabled()
    time.sleep(0.5)
    assert mails_to(smtp_sink, "boss@initech.example") == 1

    page.fill("#id_code", code)
    page.locator("#id_confirm_username").check()  # 用户名将注册为 initech，注册后不可修改，我已确认
    page.get_by_test_id("submit").click()
    expect(page.locator("#id_enterprise_name")).to_be_visible()
    back(page, "submit")  # 基本信息 again, a fresh form
    page.go_forward()
    page.fill("#id_enterprise_name", "Initech 有限公司")
    page.locator("#id_agree").check()
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("open-instance-id")).to_have_value("720001")
    back(page, "open-instance-id")  # the account is registered: 企业信息 is done, 开通方式 is shown
    page.fill("#id_name", "initech-prod")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("done-title")).to_have_text("开通成功")
    back(page, "done-title")  # opened already: 开通成功, never the form again
    assert Workspace.objects.filter(name="initech-prod").count() == 1


def test_bind_branch_back_after_every_code_step_and_a_wrong_code(page: Page, live_server, smtp_sink):  # noqa: F811
    """已有企业账号，去绑定: bind the account, bind a workspace, create one after a wrong code; Back after
    each shows the list, 已绑定 (never the bind dialog again) or a fresh form."""
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod", "acme-test"))
    page.goto(open_instance(live_server.url, "720002", "6100000000000002"))
    page.get_by_test_id("choose-bind").click()
    page.get_by_test_id("hint-ok").click()
    page.fill("#id_username", "acme")
    page.fill("#id_code", send_code(page, smtp_sink, "ops@acme.example"))
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("workspace-list")).to_be_visible()
    back(page, "workspace-list")  # the account is bound: the list, not the form again
    expect(page.locator(".flash")).to_contain_text("费用中心账号已绑定")

    page.locator('[data-name="acme-prod"]').get_by_test_id("bind").click()
    expect(page.get_by_test_id("bind-dialog")).to_be_visible()
    page.fill("#id_code", send_code(page, smtp_sink, "ops@acme.example"))
    page.get_by_test_id("submit").click()
    expect(page.locator('[data-name="acme-prod"]').get_by_test_id("bound")).to_have_text("已绑定")
    back(page, "workspace-list")
    expect(page.get_by_test_id("bind-dialog")).to_have_count(0)
    expect(page.locator('[data-name="acme-prod"]').get_by_test_id("bound")).to_have_text("已绑定")
    expect(page.locator(".flash")).to_contain_text("工作空间「acme-prod」已绑定")

    page.get_by_test_id("tab-create").click()
    page.fill("#id_name", "acme-new")
    code = send_code(page, smtp_sink, "ops@acme.example")
    page.locator("#id_agree").check()
    page.fill("#id_code", "000000" if code != "000000" else "111111")
    page.get_by_test_id("submit").click()
    expect(page.locator(".errorlist")).to_contain_text("验证码错误，还可尝试 4 次")
    expect(page.locator("#id_name")).to_have_value("acme-new")  # kept over the redirect
    shot(page, "zh-code-create-wrong-code-desktop")
    page.fill("#id_code", code)
    page.get_by_test_id("submit").click()
    expect(page.locator('[data-name="acme-new"]').get_by_test_id("bound")).to_be_visible()
    back(page, "submit")  # the create form, fresh: creating another workspace is a new thing to do
    expect(page.locator(".errorlist")).to_have_count(0)
    back(page, "submit")  # the form after the wrong code: shown by a GET, so Back reloads it quietly
    assert Workspace.objects.filter(name="acme-new").count() == 1


def test_double_clicks_make_one_change_and_send_one_code(page: Page, live_server, smtp_sink):  # noqa: F811
    existing_account("globex", "it@globex.example")
    page.goto(open_instance(live_server.url, "720003", "6100000000000003"))
    page.get_by_test_id("choose-bind").click()
    page.get_by_test_id("hint-ok").click()
    page.fill("#id_username", "globex")
    page.fill("#id_email", "it@globex.example")
    page.get_by_test_id("send-code").dblclick()
    expect(page.get_by_test_id("code-notice")).to_contain_text("若用户名与邮箱匹配，验证码已发送至 it@globex.example")
    page.fill("#id_code", code_from_mail(smtp_sink, "it@globex.example", already=0))
    time.sleep(0.5)
    assert mails_to(smtp_sink, "it@globex.example") == 1
    page.get_by_test_id("submit").dblclick()
    expect(page.get_by_test_id("workspace-list").or_(page.get_by_test_id("tab-create")).first).to_be_visible()

    page.get_by_test_id("tab-create").click()
    page.fill("#id_name", "globex-new")
    page.fill("#id_code", send_code(page, smtp_sink, "it@globex.example"))
    page.locator("#id_agree").check()
    page.get_by_test_id("submit").dblclick()
    expect(page.locator('[data-name="globex-new"]').get_by_test_id("bound")).to_be_visible()
    assert Workspace.objects.filter(name="globex-new").count() == 1
    back(page, "submit")


def test_send_code_breaks_no_content_security_policy_when_the_page_was_styled(page: Page, live_server, smtp_sink):  # noqa: F811
    """获取验证码 replaces the button and the line under it in the page: nothing of that may set an inline
    style, which style-src 'self' refuses (Chromium logs "Applying inline style violates …"). Browser
    extensions, zoom and autofill put style attributes on a page's elements through the CSSOM (which the
    policy allows); htmx's settling used to copy the old button's one onto the new button by script."""
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(open_instance(live_server.url, "720005", "6100000000000005"))
    page.get_by_test_id("choose-register").click()
    # As an extension does: a style on the elements the answer replaces, through the CSSOM.
    page.evaluate(
        "for (const id of ['send-code', 'code-notice', 'form-token'])"
        " document.getElementById(id).style.outline = '1px dotted #999'"
    )
    send_code(page, smtp_sink, "styled@initech.example")
    expect(page.get_by_test_id("send-code")).to_have_text(COUNTING)
    time.sleep(0.5)  # the settle runs 20 ms after the swap
    assert refused == []


def test_without_javascript_the_forms_still_register(browser: Browser, live_server, smtp_sink):  # noqa: F811
    """JavaScript off: 获取验证码 is a POST answered by a redirect to the same page, which keeps what was
    typed (not the passwords: they are never kept) and says the code was sent; then it registers."""
    context = browser.new_context(java_script_enabled=False, locale="zh-CN", viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(open_instance(live_server.url, "720004", "6100000000000004"))
        page.get_by_test_id("choose-bind").click()
        page.get_by_test_id("hint-ok").click()
        # The 注册观测云账号 tab (注册 beside 尚无企业账号 registers the enterprise account alone).
        page.goto(f"{live_server.url}/activate/workspaces/register/")
        page.fill("#id_name", "hooli-prod")
        typed_account(page, "hooli")
        page.fill("#id_email", "gavin@hooli.example")
        page.get_by_test_id("send-code").click()
        notice = page.get_by_test_id("code-notice")
        expect(notice).to_contain_text("验证码已发送至 gavin@hooli.example")
        expect(page.locator("#id_name")).to_have_value("hooli-prod")
        expect(page.locator("#id_username")).to_have_value("hooli")
        expect(page.locator("#id_email")).to_have_value("gavin@hooli.example")
        expect(page.locator("#id_password1")).to_have_value("")
        code = code_from_mail(smtp_sink, "gavin@hooli.example", already=0)
        page.get_by_test_id("send-code").click()  # a second click, within the cooldown
        expect(notice).to_contain_text("验证码已发送至 gavin@hooli.example")
        expect(notice).to_contain_text(re.compile(r"如未收到，请 \d+ 秒后重新获取"))
        shot(page, "zh-code-no-javascript-second-click-desktop")
        page.fill("#id_password1", STRONG_PASSWORD)
        page.fill("#id_password2", STRONG_PASSWORD)
        page.fill("#id_code", code)
        page.locator("#id_agree").check()
        page.get_by_test_id("submit").click()
        # Without a script the refusal is the confirm step: the name to be registered, to tick; the
        # passwords and the code are never kept, so they are typed again.
        expect(page.get_by_test_id("confirm-canonical")).to_contain_text("hooli")
        page.fill("#id_password1", STRONG_PASSWORD)
        page.fill("#id_password2", STRONG_PASSWORD)
        page.fill("#id_code", code)
        page.locator("#id_agree").check()
        page.locator("#id_confirm_username").check()
        page.get_by_test_id("submit").click()
        expect(page.get_by_test_id("done-title")).to_have_text("开通成功")
        assert mails_to(smtp_sink, "gavin@hooli.example") == 1
        # The registration page by a GET, no resubmission; it now says the instance is settled.
        back(page, "instance-held")
    finally:
        context.close()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_forms_with_the_countdown_on_a_desktop_and_a_phone(page: Page, live_server, smtp_sink, language):  # noqa: F811
    """Each code form with its button counting down, at 1366×900 and 390×844; saved with
    KAITONG_SCREENSHOTS, and checked here: the button and the notice fit the card on both."""
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod",))
    page.goto(open_instance(live_server.url, f"72001{language == 'en':d}", f"610000000000001{language == 'en':d}"))
    if language == "en":
        page.get_by_test_id("lang-switch").click()
    counting = re.compile(r"Sent \(\d+ s\)") if language == "en" else re.compile(r"已发送（\d+ 秒）")

    def forms_counting(name: str) -> None:
        expect(page.get_by_test_id("send-code")).to_have_text(counting)
        for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            box = page.get_by_test_id("send-code").bounding_box()
            assert box is not None and box["x"] + box["width"] <= viewport["width"], (name, size, box)
            shot(page, f"{language}-code-{name}-{size}")
        page.set_viewport_size(DESKTOP)

    page.get_by_test_id("choose-register").click()
    typed_account(page, "initech")
    send_code(page, smtp_sink, "boss@initech.example")
    forms_counting("register-basic")
    page.goto(f"{live_server.url}/activate/bind/")
    page.get_by_test_id("hint-ok").click()
    page.fill("#id_username", "acme")
    page.fill("#id_code", send_code(page, smtp_sink, "ops@acme.example"))
    forms_counting("bind-account")
    page.get_by_test_id("submit").click()
    page.locator('[data-name="acme-prod"]').get_by_test_id("bind").click()
    page.fill("#id_email", "someone@else.example")
    page.get_by_test_id("send-code").click()
    expect(page.get_by_test_id("code-notice")).to_have_attribute("data-refused", "true")
    shot(page, f"{language}-code-bind-dialog-refused-desktop")
    send_code(page, smtp_sink, "ops@acme.example")
    forms_counting("bind-dialog")
    page.goto(f"{live_server.url}/activate/workspaces/create/")
    page.fill("#id_name", "acme-new")
    send_code(page, smtp_sink, "ops@acme.example")  # another purpose: its own cooldown
    forms_counting("create")
    # 注册观测云账号 once an account is bound: no form (this instance settles for that account), the way on.
    page.get_by_test_id("tab-register").click()
    expect(page.get_by_test_id("instance-held")).to_be_visible()
