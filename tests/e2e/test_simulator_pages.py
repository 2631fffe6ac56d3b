"""The simulated marketplace in Debian's chromium: 已购买的服务 turns 开通中 into 已开通 by itself, under
its CSP; the header keeps to one line on a 1366 px screen and nothing is wider than a phone.

The simulator runs as its own process; the vendor is a stub that holds createInstance as "not ready"
until the test lets it answer, so the test decides when the instance opens.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from tests.support import browser
from tests.support.simulator import ISV_KEY, ISV_UID, SLS_ROLE, RunningSimulator, VendorStub, serving, start_simulator

pytestmark = pytest.mark.e2e

BUYER_UID = "1673000000000301"
# As long as a real one can be: the header must still keep to one line.
BUYER_NAME = "演示买家 Demo buyer（华东运维中心 East China operations）"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


class GatedVendor(VendorStub):
    """A vendor's SPI endpoint that answers createInstance "not ready" (instanceId 0) until ``opens`` is set."""

    opens = threading.Event()

    def answer(self, params: dict[str, str]) -> tuple[int, bytes]:
        if not GatedVendor.opens.is_set():
            return 200, b'{"instanceId": 0}'
        app_info = {"authUrl": "http://127.0.0.1:9/marketplace/aliyun/sso"}
        return 200, json.dumps({"instanceId": params.get("orderBizId", ""), "appInfo": app_info}).encode()


@dataclass
class Vendor:
    url: str  # its SPI URL
    opens: threading.Event  # set: createInstance succeeds from now on


@pytest.fixture
def vendor() -> Iterator[Vendor]:
    GatedVendor.opens = threading.Event()
    with serving(GatedVendor) as url:
        yield Vendor(url=url, opens=GatedVendor.opens)


@pytest.fixture
def marketplace(tmp_path: Path, vendor: Vendor) -> Iterator[RunningSimulator]:
    with start_simulator(tmp_path, spi_url=vendor.url, KAITONG_SIMULATOR_RETRY_SECONDS="0.3") as sim:
        sim.add_account(uid=BUYER_UID, name=BUYER_NAME)
        yield sim


def sign_in(page: Page, sim: RunningSimulator) -> None:
    page.goto(sim.url + "/signin/?next=/console/")
    page.check(f"input[name=uid][value='{BUYER_UID}']")
    page.get_by_test_id("signin-choose").click()
    expect(page.get_by_test_id("buyer")).to_contain_text(BUYER_NAME)


def shot(page: Page, name: str) -> None:
    browser.shot(page, f"simulator-{name}")


def test_purchased_services_turn_opened_without_a_reload(page: Page, marketplace, vendor) -> None:
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.set_viewport_size(DESKTOP)
    sign_in(page, marketplace)
    page.goto(marketplace.url + "/")
    page.get_by_test_id("open-now").click()
    page.get_by_test_id("agree").check()
    page.get_by_test_id("confirm-open").click()
    page.get_by_test_id("ok").click()

    status = page.get_by_test_id("status").first
    expect(status).to_have_text(re.compile("开通中"))
    expect(page.get_by_text("本页会自动刷新")).to_be_visible()
    # A mark only this document carries: a reload or a navigation would lose it.
    page.evaluate("window.stillTheSamePage = true")
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    vendor.opens.set()
    expect(status).to_have_text(re.compile("已开通"), timeout=20_000)
    expect(page.get_by_test_id("sso").first).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True and navigations == []
    expect(page.get_by_text("本页会自动刷新")).to_be_hidden()
    shot(page, "purchased-desktop")
    assert [text for text in messages if "Content Security Policy" in text] == []


def test_a_half_filled_event_form_is_not_reset_while_another_instance_opens(page: Page, marketplace, vendor) -> None:
    """Only a row whose state changed is replaced: the buyer's open 模拟事件 form on another row stays."""
    vendor.opens.set()
    first = marketplace.create_instance(aliUid=BUYER_UID)["instanceId"]
    marketplace.wait_for(lambda state: state["instances"][0]["status"] == "opened")
    vendor.opens.clear()
    second = marketplace.create_instance(aliUid=BUYER_UID)["instanceId"]
    page.set_viewport_size(DESKTOP)
    sign_in(page, marketplace)
    row = page.locator(f"tr[data-instance='{first}']")
    row.locator("summary").click()
    row.locator("input[name=delay]").fill("42")
    vendor.opens.set()
    expect(page.locator(f"tr[data-instance='{second}'] [data-testid=status]")).to_have_text(re.compile("已开通"))
    expect(row.locator("input[name=delay]")).to_have_value("42")


def test_the_header_keeps_to_one_line_at_1366(page: Page, marketplace) -> None:
    page.set_viewport_size(DESKTOP)
    sign_in(page, marketplace)
    for path in ("/", "/console/", "/mailbox/"):
        page.goto(marketplace.url + path)
        tops = page.locator(".topbar a, .topbar button").evaluate_all(
            "elements => elements.map(e => Math.round(e.getBoundingClientRect().top))"
        )
        assert len(tops) >= 7 and max(tops) - min(tops) <= 4, (path, tops)
        assert page.locator(".topbar").evaluate("e => e.getBoundingClientRect().height") <= 56
        # Every link is whole; what gives way is the buyer's name (an ellipsis, the whole as a tooltip).
        for link in page.locator(".topnav a").all():
            assert link.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), link.inner_text()
        expect(page.get_by_test_id("buyer")).to_have_attribute("title", re.compile(re.escape(BUYER_NAME)))
    page.goto(marketplace.url + "/")
    shot(page, "product-desktop")


@pytest.mark.parametrize(
    "path", ["/", "/console/", "/console/bill/", "/mailbox/", "/ops/", "/account/ram/", "/account/sls/"]
)
def test_nothing_is_wider_than_a_phone(page: Page, marketplace, path) -> None:
    marketplace.create_instance(aliUid=BUYER_UID)
    page.set_viewport_size(PHONE)
    sign_in(page, marketplace)
    page.goto(marketplace.url + path)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    if path in ("/", "/console/"):
        shot(page, ("product" if path == "/" else "purchased") + "-phone")


@pytest.mark.parametrize("path", ["/", "/console/", "/mailbox/"])
def test_every_menu_item_is_in_sight_on_a_phone(page: Page, marketplace, path) -> None:
    """At 390 px the menu wraps rather than scrolls: 运营 Operator and 邮箱 Mailbox were cut off at the
    screen's edge ("运营…"), with nothing to say there was more."""
    page.set_viewport_size(PHONE)
    sign_in(page, marketplace)
    page.goto(marketplace.url + path)
    width = page.evaluate("window.innerWidth")
    for link in page.locator(".topnav a").all():
        box = link.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (link.inner_text(), box)
    assert page.locator(".topnav").evaluate("e => e.scrollWidth <= e.clientWidth")
    shot(page, f"menu-phone{path.replace('/', '-').rstrip('-')}")


def test_every_dialog_button_says_it_in_english_too(page: Page, marketplace, vendor) -> None:
    """Like 取消 Cancel beside it: the buy dialog's 开通, and 确定 in the 免登 and 关闭 dialogs."""
    vendor.opens.set()
    instance = marketplace.create_instance(aliUid=BUYER_UID)["instanceId"]
    marketplace.wait_for(lambda state: state["instances"][0]["status"] == "opened")
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        sign_in(page, marketplace)
        page.goto(marketplace.url + "/buy/")
        expect(page.get_by_test_id("confirm-open")).to_have_text("开通 Open")
        page.get_by_test_id("agree").check()
        page.get_by_test_id("confirm-open").click()
        expect(page.get_by_test_id("ok")).to_have_text("确定 OK")
        shot(page, f"buy-{'phone' if viewport == PHONE else 'desktop'}")
        page.goto(f"{marketplace.url}/console/{instance}/sso/")
        expect(page.get_by_test_id("sso-confirm")).to_have_text("确定 OK")
        page.goto(f"{marketplace.url}/console/{instance}/close/")
        expect(page.get_by_test_id("close-confirm")).to_have_text("确定 OK")


def test_the_buyer_account_pages_key_once_and_the_authorisation(page: Page, marketplace) -> None:
    """RAM: a user with the SLS policy and its AccessKey, whose secret shows once; 第三方快捷授权: 同意授权
    returns to the ISV with a token, and the grant is listed with 撤销授权. No CSP violation on the way."""
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.set_viewport_size(DESKTOP)
    sign_in(page, marketplace)
    page.goto(marketplace.url + "/account/ram/")
    page.get_by_test_id("ram-user-name").fill("guance")
    page.get_by_test_id("create-ram-user").click()
    page.get_by_test_id("create-key-guance").click()
    secret = page.get_by_test_id("new-key-secret").inner_text()
    assert len(secret) == 30
    shot(page, "ram-new-key")
    page.goto(marketplace.url + "/account/ram/")
    expect(page.get_by_test_id("ram-user-guance")).to_contain_text("LTAI")
    assert secret not in page.content()

    token = hashlib.md5(f"role={SLS_ROLE}&key={ISV_KEY}".encode(), usedforsecurity=False).hexdigest()
    back = marketplace.url + "/healthz"
    query = urlencode({"role": SLS_ROLE, "aliyunuid": BUYER_UID, "returnurl": back, "token": token})
    page.goto(marketplace.url + "/authorize/?" + query)
    expect(page.get_by_test_id("isv-uid")).to_have_text(ISV_UID)
    shot(page, "authorize")
    page.get_by_test_id("authorize-agree").click()
    page.wait_for_url(re.compile(re.escape(back) + r"\?token=[0-9a-f]{32}$"))
    page.goto(marketplace.url + "/account/ram/#grants")
    expect(page.get_by_test_id("grants")).to_contain_text("已授权")
    page.get_by_test_id("grants").get_by_role("button").click()
    expect(page.get_by_test_id("grants")).to_contain_text("已撤销")
    page.goto(marketplace.url + "/account/sls/")
    expect(page.get_by_test_id("sls-state")).to_have_text(re.compile("已开通"))  # the hook's accounts start on
    assert [text for text in messages if "Content Security Policy" in text] == []
