"""The seed page in a real browser, on the real demo: ``kaitong demo`` as a process, Debian's chromium.

simulator product page → 立即开通 → sign in → agree → 开通 → 开通申请已提交 → 确定 → 已购买的服务 →
免登 → 确定 → 立即注册观测云商业版 → register (code read from the demo's mailbox) → enterprise →
open a workspace → 开通成功 → 确定 → console login → the workspace's DataKit command.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.simulator import stop

pytestmark = pytest.mark.e2e

EMAIL = "walker@example.com"


@dataclass
class Demo:
    vendor: str
    simulator: str
    output: list[str]


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _demo_port() -> int:
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + 100 < 65536 and all(_free(p) for p in (port, port + 25, port + 100)):
            return port
    raise RuntimeError("no free ports for the demo")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``kaitong demo`` in a fresh directory (its own var/), with fast SPI retries."""
    cwd = Path(tmp_path_factory.mktemp("demo"))
    port = _demo_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAITONG_", "DJANGO_"))}
    env["KAITONG_SIMULATOR_RETRY_SECONDS"] = "0.5"
    process = subprocess.Popen(
        [sys.executable, "-m", "kaitong.cli", "demo", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    up = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "kaitong demo is up" in line:
                up.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not up.wait(timeout=120):
            raise RuntimeError("the demo did not start:\n" + "".join(output))
        yield Demo(vendor=f"http://127.0.0.1:{port}", simulator=f"http://127.0.0.1:{port + 100}", output=output)
    finally:
        stop(process, seconds=30)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    """A buyer on the China site: the browser asks for Chinese first."""
    return {**browser_context_args, "locale": "zh-CN"}


def read_code(page: Page, demo: Demo, *, to: str) -> str:
    """Open the demo's mailbox in another tab and read the newest code sent to ``to``."""
    mailbox = page.context.new_page()
    try:
        for _ in range(60):
            mailbox.goto(f"{demo.simulator}/mailbox/?to={to}")
            bodies = mailbox.get_by_test_id("mail-body").all_inner_texts()
            for body in bodies:
                match = re.search(r"\b(\d{6})\b", body)
                if match:
                    return match.group(1)
            time.sleep(0.5)
    finally:
        mailbox.close()
    raise AssertionError("no verification code arrived in the mailbox")


def test_the_demo_prints_where_to_go(demo: Demo) -> None:
    text = "".join(demo.output)
    assert text.index(demo.simulator + "/") < text.index(demo.vendor + "/")
    assert "username demo" in text and "/mailbox/" in text


def test_the_whole_seed_page(demo: Demo, page: Page) -> None:
    page.set_default_timeout(15000)
    # 购买观测云: the simulated marketplace's product page.
    page.goto(demo.simulator + "/")
    expect(page.get_by_test_id("simulator-banner")).to_be_visible()
    page.get_by_test_id("open-now").click()
    # Not signed in: the simulated Alibaba Cloud sign-in, with the demo's seeded buyer.
    page.get_by_test_id("signin-choose").click()
    expect(page.get_by_text("开通按量服务")).to_be_visible()
    page.get_by_test_id("agree").check()
    page.get_by_test_id("confirm-open").click()
    expect(page.get_by_text("开通申请已提交")).to_be_visible()
    page.get_by_test_id("ok").click()
    # 已购买的服务: the instance turns 已开通 once the vendor has answered createInstance.
    expect(page.get_by_role("heading", name=re.compile("已购买的服务"))).to_be_visible()
    for _ in range(60):
        if page.get_by_test_id("sso").count():
            break
        time.sleep(0.5)
        page.reload()
    expect(page.get_by_test_id("status").first).to_have_text(re.compile("已开通"))
    instance_id = page.locator("[data-instance]").first.get_attribute("data-instance")
    page.get_by_test_id("sso").first.click()
    page.get_by_test_id("sso-confirm").click()

    # The vendor: the login-free entry lands on the chooser.
    expect(page).to_have_url(re.compile(re.escape(demo.vendor)))
    page.get_by_test_id("choose-register").click()
    page.fill("#id_username", "walker01")
    page.fill("#id_password1", "Walk-the-seed-2026")
    page.fill("#id_password2", "Walk-the-seed-2026")
    page.fill("#id_email", EMAIL)
    page.get_by_test_id("send-code").click()
    expect(page.get_by_test_id("code-notice")).to_contain_text(EMAIL)
    code = read_code(page, demo, to=EMAIL)
    # 获取验证码 is an in-page request: what was typed, the passwords too, is still there.
    expect(page.locator("#id_password1")).to_have_value("Walk-the-seed-2026")
    expect(page.locator("#id_password2")).to_have_value("Walk-the-seed-2026")
    page.fill("#id_code", code)
    page.check("#id_confirm_username")  # 用户名将注册为 walker01
    page.get_by_test_id("submit").click()
    page.fill("#id_enterprise_name", "走读科技 Walk Co.")
    page.check("#id_agree")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("open-instance-id")).to_have_value(instance_id or "")
    page.fill("#id_name", "走读工作空间")
    page.check("#id_language_0")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("done-title")).to_have_text(re.compile("开通成功"))
    page.get_by_test_id("to-console").click()

    # 开始使用观测云: sign in to the console and find the DataKit command.
    page.fill("#id_username", "walker01")
    page.fill("#id_password", "Walk-the-seed-2026")
    page.get_by_test_id("login").click()
    page.get_by_role("link", name="走读工作空间").click()
    page.get_by_test_id("start-datakit").click()
    command = page.get_by_test_id("cmd-linux").inner_text()
    token = page.get_by_test_id("token").inner_text()
    assert "DK_DATAWAY" in command and token in command and token.startswith("tkn_")
