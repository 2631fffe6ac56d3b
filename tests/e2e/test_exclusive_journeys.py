"""The exclusive edition (专属版, issue 13) in Chromium, one journey per way of 绑定阿里云账号, from the
simulator's product page (cmgj00060481) to the onboarding of an exclusive workspace; in Chinese, and the
AccessKey way again in English.

The marketplace simulator runs as its own process: it delivers createInstance to the live vendor and is
the buyer's Alibaba Cloud account (RAM, STS, SLS) that the vendor's official SDKs reach through it. What
the buyer checks at the end: the project guance-wksp-<id> on the simulator's 日志服务 SLS page, and the
storage on the workspace's console page. ``KAITONG_SCREENSHOTS=/dir`` saves each screen.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from kaitong.workspaces.models import Workspace
from tests.e2e.test_seed_page_branches import get_code
from tests.support.activation import STRONG_PASSWORD, existing_account
from tests.support.browser import shot
from tests.support.jobs import run_jobs
from tests.support.marketplace import SPI_PATH
from tests.support.simulator import RunningSimulator, cloud_env, start_simulator
from tests.support.smtp import Sink, smtp_sink  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EXCLUSIVE = "cmgj00060481"


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "locale": "zh-CN"}


@pytest.fixture(scope="module")
def marketplace(live_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    """The simulator, delivering its SPI calls to the live vendor."""
    with start_simulator(
        tmp_path_factory.mktemp("marketplace"),
        spi_url=live_server.url + SPI_PATH,
        KAITONG_SIMULATOR_RETRY_SECONDS="0.3",
    ) as sim:
        yield sim


@pytest.fixture
def vendor(settings, live_server, marketplace: RunningSimulator) -> str:  # type: ignore[no-untyped-def]
    """The live vendor: createInstance answers with an authUrl on itself; STS and SLS go to the simulator."""
    update = {name.removeprefix("KAITONG_").lower(): value for name, value in cloud_env(marketplace).items()}
    settings.ENV = settings.ENV.model_copy(update={**update, "public_url": live_server.url})
    return str(live_server.url)


@pytest.fixture
def page(page: Page) -> Iterator[Page]:
    page.set_default_timeout(15_000)
    yield page


def buy_exclusive(page: Page, sim: RunningSimulator, uid: str) -> str:
    """The product page of the exclusive edition → 立即开通 → sign in → agree → 开通 → 确定 → 已购买的服务
    → (opened) 免登 → 确定: the browser leaves for the vendor. Returns the instance id."""
    sim.add_account(uid=uid, name=f"专属版买家 {uid[-4:]}")
    page.goto(f"{sim.url}/")
    page.get_by_test_id("product-exclusive").click()
    expect(page.get_by_test_id("product")).to_have_attribute("data-product", EXCLUSIVE)
    page.get_by_test_id("open-now").click()
    page.check(f"input[name=uid][value='{uid}']")
    page.get_by_test_id("signin-choose").click()
    page.get_by_test_id("agree").check()
    page.get_by_test_id("confirm-open").click()
    page.get_by_test_id("ok").click()
    for _ in range(60):
        if page.get_by_test_id("sso").count():
            break
        time.sleep(0.5)
        page.reload()
    instance_id = str(page.locator("[data-instance]").first.get_attribute("data-instance"))
    page.locator(f'[data-instance="{instance_id}"]').get_by_test_id("sso").click()
    page.get_by_test_id("sso-confirm").click()
    return instance_id


def register_account(page: Page, sink: Sink, username: str, email: str) -> None:
    """立即注册观测云专属版 → 基本信息 → 企业信息: the account exists, 绑定阿里云账号 is next."""
    page.get_by_test_id("choose-register").click()
    page.fill("#id_username", username)
    code = get_code(page, sink, email)
    page.fill("#id_password1", STRONG_PASSWORD)
    page.fill("#id_password2", STRONG_PASSWORD)
    page.fill("#id_code", code)
    page.locator("#id_confirm_username").check()
    page.get_by_test_id("submit").click()
    page.fill("#id_enterprise_name", f"{username} Co.")
    page.locator("#id_agree").check()
    page.get_by_test_id("submit").click()


def access_key_from_the_ram_page(page: Page, sim: RunningSimulator) -> tuple[str, str]:
    """In another tab, as the buyer does: RAM 用户 guance with the SLS policy, then its AccessKey (the
    secret shown once)."""
    ram = page.context.new_page()
    try:
        ram.goto(f"{sim.url}/account/ram/")
        ram.get_by_test_id("ram-user-name").fill("guance")
        ram.get_by_test_id("create-ram-user").click()
        ram.get_by_test_id("create-key-guance").click()
        akid = ram.get_by_test_id("new-key-id").inner_text().strip()
        secret = ram.get_by_test_id("new-key-secret").inner_text().strip()
    finally:
        ram.close()
    return akid, secret


def console_shows_sls_storage(page: Page, sim: RunningSimulator, uid: str, username: str, name: str) -> None:
    """The provisioning job runs (as the worker would); the buyer finds the project in their SLS and the
    storage in the console, then the DataKit command."""
    workspace = Workspace.objects.get(name=name)
    project = f"guance-wksp-{workspace.pk}"
    run_jobs()
    sls = page.context.new_page()
    sls.goto(f"{sim.url}/account/sls/")
    expect(sls.get_by_test_id(f"project-{project}")).to_be_visible()
    expect(sls.get_by_test_id(f"project-{project}")).to_contain_text("cn-hangzhou")
    shot(sls, f"exclusive-{username}-sim-sls")
    sls.close()
    page.get_by_test_id("to-console").click()
    page.fill("#id_username", username)
    page.fill("#id_password", STRONG_PASSWORD)
    page.get_by_test_id("login").click()
    page.get_by_role("link", name=name, exact=True).first.click()
    expect(page.get_by_test_id("storage-project")).to_have_text(project)
    expect(page.get_by_test_id("storage-region")).to_have_text("cn-hangzhou")
    expect(page.get_by_test_id("storage-state")).to_have_text(re.compile("已就绪|Ready"))
    expect(page.get_by_test_id("grant-state")).to_have_count(0)
    shot(page, f"exclusive-{username}-console")
    page.get_by_test_id("start-datakit").click()
    assert re.fullmatch(r"tkn_[0-9a-f]{32}", page.get_by_test_id("token").inner_text())


def test_access_key_way_in_chinese(page: Page, marketplace, vendor, smtp_sink):  # noqa: F811
    uid = "1673000000006001"
    instance_id = buy_exclusive(page, marketplace, uid)
    expect(page.get_by_role("heading", name="欢迎使用观测云专属版")).to_be_visible()
    shot(page, "exclusive-zh-01-chooser")
    register_account(page, smtp_sink, "initech", "boss@initech.example")
    expect(page.get_by_test_id("aliyun-page")).to_contain_text("绑定阿里云账号")
    expect(page.get_by_test_id("policy-download")).to_have_attribute("href", "/activate/aliyun/policy.json")
    akid, secret = access_key_from_the_ram_page(page, marketplace)
    # A wrong secret first: the documented message, above the RAM form, and the secret is not kept.
    page.fill("#id_access_key_id", akid)
    page.fill("#id_access_key_secret", secret[:-1] + ("x" if secret[-1] != "x" else "y"))
    page.get_by_test_id("verify-key").click()
    expect(page.get_by_test_id("way-key")).to_contain_text("该 AccessKey 无效，请重新填写")
    expect(page.locator("#id_access_key_id")).to_have_value(akid)
    expect(page.locator("#id_access_key_secret")).to_have_value("")
    shot(page, "exclusive-zh-02-aliyun-refused")
    page.fill("#id_access_key_secret", secret)
    page.get_by_test_id("verify-key").click()
    expect(page.get_by_test_id("aliyun-verified")).to_contain_text("已验证")
    assert secret not in page.content()
    shot(page, "exclusive-zh-03-aliyun-verified")
    page.get_by_test_id("next").click()
    expect(page.get_by_test_id("open-ali-uid")).to_have_value(uid)
    expect(page.get_by_test_id("open-instance-id")).to_have_value(instance_id)
    expect(page.get_by_test_id("open-ali-uid")).to_have_attribute("readonly", "")
    expect(page.get_by_test_id("open-storage")).to_have_text("日志服务 SLS · cn-hangzhou")
    page.fill("#id_name", "initech-sls")
    expect(page.get_by_test_id("submit")).to_have_text("确认开通")
    shot(page, "exclusive-zh-04-open")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("done-title")).to_have_text("开通成功")
    shot(page, "exclusive-zh-05-done")
    console_shows_sls_storage(page, marketplace, uid, "initech", "initech-sls")


def test_role_way_in_chinese(page: Page, marketplace, vendor, smtp_sink):  # noqa: F811
    existing_account("acme", "ops@acme.example")
    uid = "1673000000006002"
    buy_exclusive(page, marketplace, uid)
    page.get_by_test_id("choose-bind").click()
    page.get_by_test_id("hint-ok").click()
    page.fill("#id_username", "acme")
    page.fill("#id_code", get_code(page, smtp_sink, "ops@acme.example"))
    page.get_by_test_id("submit").click()
    # 绑定阿里云账号 comes right after the account: 第三方快捷授权 on the marketplace's page.
    page.get_by_test_id("role-link").click()
    expect(page.get_by_test_id("authorize")).to_be_visible()
    expect(page.get_by_test_id("isv-uid")).to_be_visible()
    shot(page, "exclusive-zh-11-authorize")
    page.get_by_test_id("authorize-agree").click()
    expect(page.get_by_test_id("role-returned")).to_be_visible()
    page.get_by_test_id("verify-role").click()
    expect(page.get_by_test_id("grant-method")).to_contain_text("第三方快捷授权")
    shot(page, "exclusive-zh-12-role-verified")
    page.get_by_test_id("next").click()
    expect(page.get_by_test_id("edition-note")).to_contain_text("商业版与专属版之间不能互相转换")
    page.get_by_test_id("tab-create").click()
    expect(page.get_by_test_id("open-ali-uid")).to_have_value(uid)
    page.fill("#id_name", "acme-sls")
    page.fill("#id_code", get_code(page, smtp_sink, "ops@acme.example"))
    agree = page.locator("#id_agree")
    if agree.count():
        agree.check()
    shot(page, "exclusive-zh-13-create")
    page.get_by_test_id("submit").click()
    expect(page.locator('[data-name="acme-sls"]').get_by_test_id("bound")).to_be_visible()
    page.get_by_test_id("confirm").click()
    expect(page.get_by_test_id("done-title")).to_contain_text("成功")
    console_shows_sls_storage(page, marketplace, uid, "acme", "acme-sls")


def test_access_key_way_in_english(page: Page, marketplace, vendor, smtp_sink):  # noqa: F811
    uid = "1673000000006003"
    instance_id = buy_exclusive(page, marketplace, uid)
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_role("heading", name="Welcome to Guance Cloud Exclusive")).to_be_visible()
    register_account(page, smtp_sink, "globex", "it@globex.example")
    expect(page.get_by_test_id("aliyun-page")).to_contain_text("Bind Alibaba Cloud account")
    expect(page.get_by_test_id("way-key")).to_contain_text("RAM account authorization")
    expect(page.get_by_test_id("way-role")).to_contain_text("Third-party quick authorization")
    akid, secret = access_key_from_the_ram_page(page, marketplace)
    page.fill("#id_access_key_id", akid)
    page.fill("#id_access_key_secret", secret + "x")
    page.get_by_test_id("verify-key").click()
    expect(page.get_by_test_id("way-key")).to_contain_text("This AK is invalid, please fill it in again")
    page.fill("#id_access_key_secret", secret)
    page.get_by_test_id("verify-key").click()
    expect(page.get_by_test_id("aliyun-verified")).to_contain_text("Verified")
    shot(page, "exclusive-en-03-aliyun-verified")
    page.get_by_test_id("next").click()
    expect(page.get_by_test_id("open-instance-id")).to_have_value(instance_id)
    expect(page.get_by_test_id("open-storage")).to_have_text("Log Service (SLS) · cn-hangzhou")
    page.fill("#id_name", "globex-sls")
    expect(page.get_by_test_id("submit")).to_have_text("Confirm and open")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("done-title")).to_be_visible()
    console_shows_sls_storage(page, marketplace, uid, "globex", "globex-sls")
