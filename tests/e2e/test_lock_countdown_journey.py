"""The lock countdown in a real browser, on the real demo (``kaitong demo`` as a process, Debian's chromium):

buy on the simulated marketplace → 免登 → register and open an English workspace → the console →
关闭 the instance on 已购买的服务 → the console's banner counts 14 days down, and the owner (whose
browser asks for Chinese) is told in English, the workspace's language → 推进时钟 +14 天 → the lock page
with 立即解锁 and 解散, and the locked notice → the one-time 立即解锁 link from that mail, in a browser
nobody signed in to, opens the workspace's 更改结算方式 → the owner clicks 立即解锁 → 费用中心账号结算 →
the console shows the workspace again, no banner, and the owner is told in English → an operator signs
in to /ops/ and reads the instance's timeline: the release, the countdown started, locked and lifted,
the settlement change and the notices, in time order.

``KAITONG_SCREENSHOTS=/some/folder`` saves the banner, the lock page, the settlement page, the unlocked console
and the operator's timeline in Chinese and English, at
1366×900 and 390×844.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from kaitong.demo import OPERATOR_PASSWORD, OPERATOR_USERNAME
from tests.e2e.test_demo_walk import Demo, demo, read_code  # noqa: F401  (the demo fixture)
from tests.support.browser import shot

pytestmark = pytest.mark.e2e

EMAIL = "locker@example.com"
MASKED_EMAIL = "l***r@example.com"  # as the operator console shows it
USERNAME = "locker01"
PASSWORD = "Lock-the-count-2026"
WORKSPACE = "Countdown English"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
CJK = re.compile(r"[\u4e00-\u9fff]")
UNLOCK_LINK = re.compile(r"https?://\S+/billing/unlock/[A-Za-z0-9_-]{43}/")


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    """A buyer on the China site: the browser asks for Chinese first."""
    return {**browser_context_args, "locale": "zh-CN"}


def shots(page: Page, name: str) -> None:
    """The page in Chinese and in English, on a desktop and on a phone; back to Chinese and the desktop."""
    for language in ("zh", "en"):
        if language == "en":
            page.get_by_test_id("lang-switch").click()
        for size, viewport in (("1366x900", DESKTOP), ("390x844", PHONE)):
            page.set_viewport_size(viewport)
            shot(page, f"{name}-{language}-{size}")
    page.get_by_test_id("lang-switch").click()
    page.set_viewport_size(DESKTOP)


def mail_to(page: Page, demo: Demo, *, containing: str, seconds: float = 60) -> str:  # noqa: F811
    """The body of the newest mail to EMAIL whose subject or body contains ``containing``."""
    mailbox = page.context.new_page()
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            mailbox.goto(f"{demo.simulator}/mailbox/?to={EMAIL}")
            for card in mailbox.get_by_test_id("mail").all():
                text = card.inner_text()
                if containing in text:
                    return text
            time.sleep(0.5)
    finally:
        mailbox.close()
    raise AssertionError(f"no mail to {EMAIL} with {containing!r}")


def sign_in_to_the_console(page: Page, demo: Demo) -> None:  # noqa: F811
    page.goto(demo.vendor + "/console/login/")
    page.fill("#id_username", USERNAME)
    page.fill("#id_password", PASSWORD)
    page.get_by_test_id("login").click()


def test_close_count_down_lock_unlock(demo: Demo, page: Page, browser: Browser) -> None:  # noqa: F811
    page.set_default_timeout(20000)
    page.set_viewport_size(DESKTOP)
    # 购买: the simulated marketplace's product page, the seeded buyer.
    page.goto(demo.simulator + "/")
    page.get_by_test_id("open-now").click()
    page.get_by_test_id("signin-choose").click()
    page.get_by_test_id("agree").check()
    page.get_by_test_id("confirm-open").click()
    page.get_by_test_id("ok").click()
    for _ in range(60):
        if page.get_by_test_id("sso").count():
            break
        time.sleep(0.5)
        page.reload()
    instance_id = page.locator("[data-instance]").first.get_attribute("data-instance")
    assert instance_id
    # 绑定: 免登 → register → open an English workspace settled by this instance.
    page.get_by_test_id("sso").first.click()
    page.get_by_test_id("sso-confirm").click()
    page.get_by_test_id("choose-register").click()
    page.fill("#id_username", USERNAME)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.fill("#id_email", EMAIL)
    page.get_by_test_id("send-code").click()
    code = read_code(page, demo, to=EMAIL)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.fill("#id_code", code)
    page.check("#id_confirm_username")  # 用户名将注册为 locker01
    page.get_by_test_id("submit").click()
    page.fill("#id_enterprise_name", "倒计时科技 Countdown Co.")
    page.check("#id_agree")
    page.get_by_test_id("submit").click()
    page.fill("#id_name", WORKSPACE)
    page.locator("input[name=language][value=en]").check()
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("done-title")).to_have_text(re.compile("开通成功"))
    page.get_by_test_id("to-console").click()
    page.fill("#id_username", USERNAME)
    page.fill("#id_password", PASSWORD)
    page.get_by_test_id("login").click()
    expect(page.get_by_test_id("workspace-name")).to_have_text(WORKSPACE)
    workspace_url = page.url
    expect(page.get_by_test_id("countdown-banner")).to_have_count(0)

    # 关闭: the buyer closes the instance on 已购买的服务; the marketplace tells the vendor (releaseInstance).
    market = page.context.new_page()
    market.set_default_timeout(20000)
    market.goto(demo.simulator + "/console/")
    market.locator(f"[data-instance='{instance_id}']").get_by_test_id("close").click()
    market.get_by_test_id("close-confirm").click()
    expect(market.locator(f"[data-instance='{instance_id}']").get_by_test_id("status")).to_have_text(
        re.compile("已关闭")
    )

    # The banner: 14 days left (today counts as one of them), what to do, still the whole workspace.
    for _ in range(60):
        page.goto(workspace_url)
        if page.get_by_test_id("countdown-banner").count():
            break
        time.sleep(0.5)
    banner = page.get_by_test_id("countdown-banner")
    expect(banner).to_contain_text("剩余 14 天")
    expect(banner).to_contain_text(instance_id)
    expect(page.get_by_test_id("countdown-fix")).to_have_attribute(
        "href", re.compile(r"^/billing/workspaces/\d+/settlement/$")
    )
    expect(page.get_by_test_id("token")).to_be_visible()
    expect(page.get_by_test_id("usage-history")).to_be_visible()
    shots(page, "countdown-banner")

    # The notice is in the workspace's language, English, though the owner's browser asks for Chinese.
    started = mail_to(page, demo, containing=WORKSPACE)
    body = started.split("\n", 2)[-1]
    assert "workspace" in body.lower() and WORKSPACE in body
    assert not CJK.search(body.replace("（北京时间）", "")), body

    # 推进时钟 +14 天: every demo process jumps; the countdown has run out.
    market.goto(demo.simulator + "/console/")
    market.get_by_test_id("advance-14").click()
    expect(market.get_by_test_id("demo-clock-ahead")).to_contain_text("14 天")
    market.set_viewport_size(DESKTOP)
    shot(market, "simulator-demo-clock-1366x900")

    # Fourteen days end a console session as they would for real: sign in again, and meet the lock page.
    sign_in_to_the_console(page, demo)
    page.goto(workspace_url)
    expect(page.get_by_test_id("lock-page")).to_be_visible()
    expect(page.get_by_test_id("lock-title")).to_have_text("工作空间已锁定")
    expect(page.get_by_test_id("unlock-now")).to_have_attribute(
        "href", re.compile(r"^/billing/workspaces/\d+/settlement/$")
    )
    expect(page.get_by_test_id("dissolve")).to_be_visible()
    expect(page.get_by_test_id("token")).to_have_count(0)
    expect(page.get_by_test_id("usage-history")).to_have_count(0)
    shots(page, "lock-page")

    # The worker records the lock within a minute of the new time, and tells the owner, in English.
    # (By its subject: the countdown's first mail says "will be locked" too.)
    locked = mail_to(page, demo, containing=f'Workspace "{WORKSPACE}" is locked', seconds=90)
    assert WORKSPACE in locked and not CJK.search(locked.split("\n", 2)[-1].replace("（北京时间）", ""))

    # 解散 asks for the workspace's name first.
    page.get_by_test_id("dissolve").click()
    expect(page.get_by_test_id("dissolve-page")).to_be_visible()
    page.fill("#id_name", "not the name")
    page.get_by_test_id("dissolve-confirm").click()
    expect(page.get_by_test_id("dissolve-page")).to_contain_text("输入的名称与工作空间名称不一致")
    shot(page, "dissolve-refused-zh-1366x900")

    # The locked mail carries a one-time 立即解锁 link: in a browser nobody signed in to, it opens this
    # workspace's 更改结算方式 (and nothing else) without a sign-in.
    link = UNLOCK_LINK.search(locked)
    assert link, locked
    stranger = browser.new_context(locale="zh-CN")
    try:
        anonymous = stranger.new_page()
        anonymous.set_default_timeout(20000)
        anonymous.goto(link.group(0))
        anonymous.get_by_test_id("follow-unlock-link").click()
        anonymous.wait_for_url(re.compile(r"/billing/workspaces/\d+/settlement/$"))
        expect(anonymous.get_by_test_id("link-access")).to_be_visible()
        expect(anonymous.get_by_test_id("current-method")).to_have_text("阿里云账号结算")
        expect(anonymous.get_by_test_id("current-instance")).to_have_text(instance_id)
        expect(anonymous.get_by_test_id("lapse-notice")).to_be_visible()
        linked_settlement = anonymous.url
    finally:
        stranger.close()

    # 立即解锁 on the lock page: the billing center's 更改结算方式 for this workspace, the same page.
    page.goto(workspace_url)
    page.get_by_test_id("unlock-now").click()
    page.wait_for_url(re.compile(r"/billing/workspaces/\d+/settlement/$"))
    assert page.url.split("/billing/")[1] == linked_settlement.split("/billing/")[1]
    expect(page.get_by_test_id("current-method")).to_have_text("阿里云账号结算")
    expect(page.get_by_test_id("instance-state")).to_have_text(re.compile("已释放|已关闭"))
    expect(page.get_by_test_id("submit")).to_be_enabled()
    expect(page.get_by_test_id("lock-state")).to_have_attribute("data-phase", "locked")
    expect(page.get_by_test_id("lock-state")).to_contain_text("更改结算方式后立即解锁")
    shots(page, "unlock-settlement")
    page.get_by_label("费用中心账号结算", exact=False).first.check()
    page.get_by_test_id("submit").click()
    expect(page.locator(".flash")).to_contain_text("结算方式已更改为「费用中心账号结算」。")
    expect(page.get_by_test_id("current-method")).to_have_text("费用中心账号结算")
    expect(page.get_by_test_id("lock-state")).to_have_count(0)
    shots(page, "unlock-settlement-moved")

    # Unlocked: the console shows the workspace again, whole, with no banner.
    page.goto(workspace_url)
    expect(page.get_by_test_id("workspace-name")).to_have_text(WORKSPACE)
    expect(page.get_by_test_id("lock-page")).to_have_count(0)
    expect(page.get_by_test_id("countdown-banner")).to_have_count(0)
    expect(page.get_by_test_id("token")).to_be_visible()
    shots(page, "unlocked-console")

    # The owner is told, in English again.
    unlocked = mail_to(page, demo, containing=f'Workspace "{WORKSPACE}" is unlocked')
    assert WORKSPACE in unlocked, unlocked
    assert not CJK.search(unlocked.split("\n", 2)[-1].replace("（北京时间）", "")), unlocked

    # The operator signs in to /ops/ and reads the instance's timeline: one story, in time order.
    ops = browser.new_context(locale="zh-CN", viewport=DESKTOP)
    try:
        operator = ops.new_page()
        operator.set_default_timeout(20000)
        operator.goto(demo.vendor + "/ops/")
        operator.fill("#id_username", OPERATOR_USERNAME)
        operator.fill("#id_password", OPERATOR_PASSWORD)
        operator.locator("input[type=submit]").click()
        operator.wait_for_url(re.compile(r"/ops/$"))
        operator.goto(f"{demo.vendor}/ops/timeline/instance/{instance_id}/")
        rows = operator.get_by_test_id("timeline").locator("tbody tr")
        expect(rows.first).to_be_visible()
        timeline = [(row.get_attribute("data-kind") or "", *row.locator("td").all_inner_texts()) for row in rows.all()]
        shot(operator, "ops-timeline-zh-1366x900")
    finally:
        ops.close()
    times = [at for _kind, at, _label, _text in timeline]
    assert times == sorted(times), timeline

    def first(kind: str, *words: str) -> int:
        for index, (row_kind, _at, _label, text) in enumerate(timeline):
            if row_kind == kind and all(word in text for word in words):
                return index
        raise AssertionError(f"no {kind} row with {words} in {timeline}")

    released = first("spi", "releaseInstance")
    started = first("countdown", WORKSPACE, "开始倒计时")
    locked_at = first("countdown", WORKSPACE, "锁定")
    moved = first("settlement", WORKSPACE, "费用中心账号结算", "更改结算方式")
    lifted = first("countdown", WORKSPACE, "解除", "已更改结算方式")
    assert released < started < locked_at < moved < lifted, timeline
    notice_started = first("notice", "锁定倒计时开始", "邮件", MASKED_EMAIL, "已发送")
    notice_locked = first("notice", "工作空间已锁定", "邮件", MASKED_EMAIL, "已发送")
    notice_moved = first("notice", "结算方式变更", "邮件", MASKED_EMAIL, "已发送")
    notice_unlocked = first("notice", "工作空间已解锁", "邮件", MASKED_EMAIL, "已发送")
    assert started <= notice_started < locked_at <= notice_locked < moved <= notice_moved, timeline
    assert lifted <= notice_unlocked, timeline
