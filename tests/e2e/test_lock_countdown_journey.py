"""The lock countdown in a real browser, on the real demo (``kaitong demo`` as a process, Debian's chromium):

buy on the simulated marketplace → 免登 → register and open an English workspace → the console →
关闭 the instance on 已购买的服务 → the console's banner counts 14 days down, and the owner (whose
browser asks for Chinese) is told in English, the workspace's language → 推进时钟 +14 天 → the lock page
with 立即解锁 and 解散, and the locked notice.

``KAITONG_SCREENSHOTS=/some/folder`` saves the banner and the lock page in Chinese and English, at
1366×900 and 390×844.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_demo_walk import Demo, demo, read_code  # noqa: F401  (the demo fixture)

pytestmark = pytest.mark.e2e

EMAIL = "locker@example.com"
USERNAME = "locker01"
PASSWORD = "Lock-the-count-2026"
WORKSPACE = "Countdown English"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    """A buyer on the China site: the browser asks for Chinese first."""
    return {**browser_context_args, "locale": "zh-CN"}


def shot(page: Page, name: str) -> None:
    folder = os.environ.get("KAITONG_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


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


def test_close_count_down_lock(demo: Demo, page: Page) -> None:  # noqa: F811
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
    locked = mail_to(page, demo, containing="locked", seconds=90)
    assert WORKSPACE in locked and not CJK.search(locked.split("\n", 2)[-1].replace("（北京时间）", ""))

    # 解散 asks for the workspace's name first.
    page.get_by_test_id("dissolve").click()
    expect(page.get_by_test_id("dissolve-page")).to_be_visible()
    page.fill("#id_name", "not the name")
    page.get_by_test_id("dissolve-confirm").click()
    expect(page.get_by_test_id("dissolve-page")).to_contain_text("输入的名称与工作空间名称不一致")
    shot(page, "dissolve-refused-zh-1366x900")
