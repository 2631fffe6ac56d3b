"""The returning buyer in Chromium (issue 11, items 1, 2, 10, 11, 15): after each branch of the seed page,
the same Alibaba Cloud account comes back through the simulator's 已购买的服务 → 免登 → 确定 in a new
browser (no cookies), lands on the instance's page and reaches the workspace with at most two clicks and
a password; the same in English; Back on the instance's page.

The marketplace simulator runs as its own process and delivers createInstance to the live vendor; the
first visit of each branch also starts from its 免登. ``KAITONG_SCREENSHOTS=/dir`` saves every changed
page at 1366×900 and 390×844.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db.models import F
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from kaitong.accounts.models import VerificationCode
from kaitong.workspaces.models import Workspace
from tests.support.activation import STRONG_PASSWORD, existing_account
from tests.support.browser import shot as browser_shot
from tests.support.marketplace import SPI_PATH
from tests.support.simulator import RunningSimulator, start_simulator
from tests.support.smtp import Sink, smtp_sink  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("KAITONG_SCREENSHOTS", "")
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    # The first visit's browser asks for Chinese, as a buyer on the China site does.
    return {**browser_context_args, "locale": "zh-CN"}


@pytest.fixture(scope="module")
def marketplace(live_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    """The simulator, delivering its SPI calls to the live vendor."""
    with start_simulator(tmp_path_factory.mktemp("marketplace"), spi_url=live_server.url + SPI_PATH) as sim:
        yield sim


@pytest.fixture
def vendor(settings, live_server) -> str:  # type: ignore[no-untyped-def]
    """The live vendor, answering createInstance with an authUrl on itself."""
    settings.ENV = settings.ENV.model_copy(update={"public_url": live_server.url})
    return str(live_server.url)


class Browsers:
    """New browsers (contexts without cookies) that fail the test on any Content-Security-Policy
    violation, as the shared ``page`` fixture does."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.violations: list[str] = []

    def new_page(self, *, locale: str = "zh-CN") -> Page:
        context = self.browser.new_context(locale=locale, viewport=DESKTOP)
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)

        def watch(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                self.violations.append(f"{page.url}: {message.text}")

        page.on("console", watch)
        return page


@pytest.fixture
def browsers(browser: Browser) -> Iterator[Browsers]:
    opened = Browsers(browser)
    yield opened
    for context in opened.contexts:
        context.close()
    assert not opened.violations, "\n".join(opened.violations)


def shot(page: Page, name: str) -> None:
    """Both sizes of the page as it is now."""
    if not SHOTS:
        return
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        browser_shot(page, f"{name}-{label}")
    page.set_viewport_size(DESKTOP)


def buy(sim: RunningSimulator, uid: str) -> str:
    """A purchase on the simulated marketplace; returns its instance once the vendor opened it."""
    sim.add_account(uid=uid, name=f"买家 {uid[-4:]}")
    instance_id = str(sim.create_instance(aliUid=uid)["instanceId"])
    sim.wait_for(
        lambda state: any(i["instance_id"] == instance_id and i["status"] == "opened" for i in state["instances"])
    )
    return instance_id


def login_free(page: Page, sim: RunningSimulator, uid: str, instance_id: str) -> None:
    """阿里云 sign-in (if needed) → 已购买的服务 → 免登 → 确定: the browser leaves for the vendor."""
    page.goto(f"{sim.url}/signin/?next=/console/")
    if page.locator(f"input[name=uid][value='{uid}']").count():
        page.check(f"input[name=uid][value='{uid}']")
        page.get_by_test_id("signin-choose").click()
    page.locator(f'[data-instance="{instance_id}"]').get_by_test_id("sso").click()
    page.get_by_test_id("sso-confirm").click()


def code_for(page: Page, sink: Sink, email: str) -> str:
    from tests.e2e.test_seed_page_branches import get_code

    return get_code(page, sink, email)


def bind_account(page: Page, sink: Sink, username: str, email: str) -> None:
    """已有企业账号，去绑定 → 知道了 → the username and the code mailed to ``email`` → 绑定观测云工作空间."""
    page.get_by_test_id("choose-bind").click()
    page.get_by_test_id("hint-ok").click()
    page.fill("#id_username", username)
    page.fill("#id_code", code_for(page, sink, email))
    page.get_by_test_id("submit").click()


def bind_workspace(page: Page, sink: Sink, name: str, email: str) -> None:
    """绑定 on the row of ``name``, the code mailed to ``email``, 确认: the row turns 已绑定."""
    page.locator(f'[data-name="{name}"]').get_by_test_id("bind").click()
    page.fill("#id_code", code_for(page, sink, email))
    page.get_by_test_id("submit").click()
    expect(page.locator(f'[data-name="{name}"]').get_by_test_id("bound")).to_be_visible()


def fill_new_account(page: Page, sink: Sink, username: str, email: str) -> None:
    """A registration form's username, code (mailed to ``email``) and password twice, typed after the
    code was sent (a full-page 获取验证码 does not keep passwords)."""
    page.fill("#id_username", username)
    code = code_for(page, sink, email)
    page.fill("#id_password1", STRONG_PASSWORD)
    page.fill("#id_password2", STRONG_PASSWORD)
    page.fill("#id_code", code)
    page.locator("#id_confirm_username").check()  # 用户名将注册为 …，注册后不可修改，我已确认


def past_cooldown() -> None:
    """The codes sent so far as if two minutes old: a second code to the same mailbox may be sent now
    (the 60 s resend cooldown is not what these journeys are about)."""
    VerificationCode.objects.update(created_at=F("created_at") - timedelta(minutes=2))


def come_back(browsers: Browsers, sim: RunningSimulator, uid: str, instance_id: str, *, locale: str = "zh-CN") -> Page:
    """The same Alibaba Cloud account, another day, a new browser: 免登 again lands on the instance page."""
    page = browsers.new_page(locale=locale)
    login_free(page, sim, uid, instance_id)
    expect(page.get_by_test_id("instance-page")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/activate/instance/$"))
    return page


def enter_workspace(page: Page, workspace: str, username: str, *, heading: str = "开始使用观测云") -> None:
    """Click 1: 进入工作空间; the username is filled in, the cursor in the password; click 2: 登录."""
    row = page.locator(f'[data-testid="settled-row"][data-name="{workspace}"]')
    row.get_by_test_id("enter-workspace").click()
    expect(page.locator("#id_username")).to_have_value(username)
    expect(page.locator("#id_password")).to_be_focused()
    page.keyboard.type(STRONG_PASSWORD)
    page.get_by_test_id("login").click()
    expect(page.get_by_test_id("workspace-name")).to_have_text(workspace)
    expect(page.get_by_test_id("onboarding-title")).to_have_text(heading)


# -- the four branches, each then coming back -------------------------------------------------------


def test_register_commercial_then_come_back(page: Page, browsers, marketplace, vendor, smtp_sink):  # noqa: F811
    uid = "1673000000000301"
    instance_id = buy(marketplace, uid)
    login_free(page, marketplace, uid, instance_id)
    page.get_by_test_id("choose-register").click()
    fill_new_account(page, smtp_sink, "initech", "boss@initech.example")
    page.get_by_test_id("submit").click()
    page.fill("#id_enterprise_name", "Initech 有限公司")
    page.locator("#id_agree").check()
    page.get_by_test_id("submit").click()
    page.fill("#id_name", "initech-prod")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("done-title")).to_have_text("开通成功")
    facts = page.get_by_test_id("settling-cloud-account")
    expect(facts).to_contain_text("结算云账号")
    expect(facts).to_contain_text(uid)
    expect(facts).to_contain_text(instance_id)
    expect(page.get_by_test_id("all-cloud-accounts")).to_have_attribute("href", "/billing/cloud-accounts/")
    shot(page, "return-zh-done")

    again = come_back(browsers, marketplace, uid, instance_id)
    expect(again.get_by_test_id("instance-state")).to_have_text("正常")
    expect(again.get_by_test_id("instance-expiry")).to_contain_text("按量付费")
    shot(again, "return-zh-instance")
    enter_workspace(again, "initech-prod", "initech")
    shot(again, "return-zh-workspace")


def test_bind_existing_then_come_back_twice(page: Page, browsers, marketplace, vendor, smtp_sink):  # noqa: F811
    """Also: a workspace another instance settles says whose it is, masked (item 15); a workspace of
    another console user asks for that user's password, saying who is signed in."""
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod", "acme-test", "acme-other"))
    bobby = existing_account("bobby", "bob@acme.example")
    Workspace.objects.filter(name="acme-test").update(owner=bobby.console_account)
    other_uid, uid = "3461000000013373", "1673000000000302"
    # acme-other is already settled by another Alibaba Cloud account's instance.
    other = buy(marketplace, other_uid)
    login_free(page, marketplace, other_uid, other)
    bind_account(page, smtp_sink, "acme", "ops@acme.example")
    bind_workspace(page, smtp_sink, "acme-other", "ops@acme.example")
    past_cooldown()

    buyer = browsers.new_page()
    instance_id = buy(marketplace, uid)
    login_free(buyer, marketplace, uid, instance_id)
    # This account is not bound yet: the chooser, then 去绑定.
    bind_account(buyer, smtp_sink, "acme", "ops@acme.example")
    other_row = buyer.locator('[data-name="acme-other"]')
    expect(other_row.get_by_test_id("settled-by")).to_have_text("阿里云账号 3461****3373")
    expect(other_row.get_by_test_id("not-bindable")).to_have_text("不可绑定")
    expect(buyer.get_by_test_id("workspace-list")).not_to_contain_text(other_uid)
    expect(buyer.get_by_test_id("confirm-hint")).to_have_text("请先绑定或创建一个工作空间，再点击「确定」。")
    shot(buyer, "return-zh-workspaces-masked")
    buyer.get_by_test_id("lang-switch").click()
    expect(other_row.get_by_test_id("settled-by")).to_have_text("Alibaba Cloud account 3461****3373")
    shot(buyer, "return-en-workspaces-masked")
    buyer.get_by_test_id("lang-switch").click()
    for name in ("acme-prod", "acme-test"):
        bind_workspace(buyer, smtp_sink, name, "ops@acme.example")
        past_cooldown()
    buyer.get_by_test_id("confirm").click()
    expect(buyer.get_by_test_id("done-heading")).to_have_text("成功绑定以下观测云工作空间")

    for visit in (1, 2):  # any number of times
        again = come_back(browsers, marketplace, uid, instance_id)
        expect(again.get_by_test_id("settled-list")).to_contain_text("acme-prod")
        expect(again.get_by_test_id("settled-list")).not_to_contain_text("acme-other")
        if visit == 1:
            # 绑定其他工作空间 → 确定 with nothing new bound: back to the instance's page, not a loop.
            again.get_by_test_id("bind-other").click()
            expect(again.locator('[data-name="acme-prod"]').get_by_test_id("bound")).to_be_visible()
            again.get_by_test_id("confirm").click()
            expect(again.get_by_test_id("instance-page")).to_be_visible()
            enter_workspace(again, "acme-prod", "acme")
            continue
        enter_workspace(again, "acme-prod", "acme")
        again.go_back()
        again.go_back()
        expect(again.get_by_test_id("instance-page")).to_be_visible()
        # bobby's workspace: signed in as acme, the sign-in asks for bobby and says so.
        again.locator('[data-name="acme-test"]').get_by_test_id("enter-workspace").click()
        expect(again.get_by_test_id("signed-in-as")).to_contain_text("您当前以 acme 登录")
        expect(again.locator("#id_username")).to_have_value("bobby")
        shot(again, "return-zh-login-other-owner")
        again.fill("#id_password", STRONG_PASSWORD)
        again.get_by_test_id("login").click()
        expect(again.get_by_test_id("workspace-name")).to_have_text("acme-test")
        expect(again.get_by_test_id("console-user")).to_have_text("bobby")


def test_create_workspace_lands_on_it_then_come_back(page: Page, browsers, marketplace, vendor, smtp_sink):  # noqa: F811
    """A buyer with several workspaces: 开通成功 → 确定 lands on the one just created (item 2)."""
    existing_account("globex", "it@globex.example", workspaces=("globex-old",))
    uid = "1673000000000303"
    instance_id = buy(marketplace, uid)
    login_free(page, marketplace, uid, instance_id)
    bind_account(page, smtp_sink, "globex", "it@globex.example")
    page.get_by_test_id("tab-create").click()
    page.fill("#id_name", "globex-new")
    page.get_by_label("English").check()
    page.fill("#id_code", code_for(page, smtp_sink, "it@globex.example"))
    page.locator("#id_agree").check()
    page.get_by_test_id("submit").click()
    # Per the seed: back on 绑定观测云工作空间, the row 已绑定; 确定 → 成功绑定以下观测云工作空间.
    expect(page.locator('[data-name="globex-new"]').get_by_test_id("bound")).to_be_visible()
    page.get_by_test_id("confirm").click()
    expect(page.get_by_test_id("done-heading")).to_have_text("成功绑定以下观测云工作空间")
    expect(page).to_have_title(re.compile("^成功绑定以下观测云工作空间"))
    page.get_by_test_id("to-console").click()
    expect(page.locator("#id_username")).to_have_value("globex")
    page.fill("#id_password", STRONG_PASSWORD)
    page.get_by_test_id("login").click()
    expect(page.get_by_test_id("workspace-name")).to_have_text("globex-new")  # not the bare list
    # The onboarding's tiles open the introduction, served from here.
    page.get_by_test_id("video-architecture").click()
    expect(page.get_by_test_id("architecture-diagram")).to_be_visible()
    expect(page.get_by_test_id("slide-datakit")).to_contain_text("Install Success")
    shot(page, "return-zh-introduction")
    page.get_by_test_id("back-to-workspace").click()
    expect(page.get_by_test_id("workspace-name")).to_have_text("globex-new")

    again = come_back(browsers, marketplace, uid, instance_id)
    enter_workspace(again, "globex-new", "globex")


def test_register_console_account_then_come_back(page: Page, browsers, marketplace, vendor, smtp_sink):  # noqa: F811
    uid = "1673000000000304"
    instance_id = buy(marketplace, uid)
    login_free(page, marketplace, uid, instance_id)
    page.get_by_test_id("choose-bind").click()
    page.get_by_test_id("hint-ok").click()
    # The 注册观测云账号 tab, before any account is bound (注册 beside 尚无企业账号 registers the
    # enterprise account alone, as the seed has it).
    page.goto(f"{vendor}/activate/workspaces/register/")
    page.fill("#id_name", "hooli-prod")
    fill_new_account(page, smtp_sink, "hooli", "gavin@hooli.example")
    page.locator("#id_agree").check()
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("done-title")).to_have_text("开通成功")

    again = come_back(browsers, marketplace, uid, instance_id)
    enter_workspace(again, "hooli-prod", "hooli")


def test_english_returning_buyer_and_back(page: Page, browsers, marketplace, vendor, smtp_sink):  # noqa: F811
    """Back from the sign-in and from the workspace returns to a working instance page; Back from the
    instance page is the marketplace's; never Chromium's "Confirm Form Resubmission"."""
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod",))
    uid = "1673000000000305"
    instance_id = buy(marketplace, uid)
    login_free(page, marketplace, uid, instance_id)
    bind_account(page, smtp_sink, "acme", "ops@acme.example")
    bind_workspace(page, smtp_sink, "acme-prod", "ops@acme.example")
    page.get_by_test_id("lang-switch").click()
    page.get_by_test_id("confirm").click()
    expect(page.get_by_test_id("done-heading")).to_have_text("Successfully bound the following Guance workspaces")
    expect(page.get_by_test_id("settling-cloud-account")).to_contain_text("Settling cloud account")
    shot(page, "return-en-done")

    again = come_back(browsers, marketplace, uid, instance_id, locale="en-US")
    expect(again.get_by_test_id("instance-title")).to_have_text("My Guance Cloud instance")
    expect(again.get_by_test_id("instance-state")).to_have_text("Active")
    expect(again.get_by_test_id("bind-other")).to_have_text("Bind another workspace")
    shot(again, "return-en-instance")
    again.get_by_test_id("enter-workspace").click()
    expect(again.get_by_test_id("login")).to_have_text("Sign in")
    shot(again, "return-en-login")
    again.go_back()
    expect(again.get_by_test_id("instance-page")).to_be_visible()
    enter_workspace(again, "acme-prod", "acme", heading="Start using Guance Cloud")
    shot(again, "return-en-workspace")
    again.go_back()  # the sign-in, already signed in: straight on to the workspace
    expect(again.get_by_test_id("workspace-name")).to_have_text("acme-prod")
    again.go_back()
    expect(again.get_by_test_id("instance-page")).to_be_visible()
    again.get_by_test_id("enter-workspace").click()  # signed in now: no password asked
    expect(again.get_by_test_id("workspace-name")).to_have_text("acme-prod")
    again.go_back()
    expect(again.get_by_test_id("instance-page")).to_be_visible()
    again.go_back()  # before the instance page: the marketplace, where 免登 was clicked
    expect(again).to_have_url(re.compile(re.escape(marketplace.url)))
    again.go_forward()
    expect(again.get_by_test_id("instance-page")).to_be_visible()
    again.goto(again.url.replace("/activate/instance/", "/console/introduction/"))
    expect(again.get_by_test_id("slide-architecture")).to_contain_text("Product architecture")
    shot(again, "return-en-introduction")
