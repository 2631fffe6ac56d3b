"""更改结算方式 in Chromium (issue 12): the owner goes from the bills through 工作空间管理 to a workspace's
更改结算方式, picks 阿里云账号结算, gives the account ID and the instance ID, confirms, and finds the change
under 云账号; the pages fit a desktop and a phone, in Chinese and in English; the unlock link opens the
page in a browser nobody signed in to.

``KAITONG_SCREENSHOTS=/dir`` saves each new page at 1366×900 and 390×844 in both languages.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from kaitong.workspaces import management
from kaitong.workspaces.models import SettlementChange, Workspace
from tests.support.accounts import operator
from tests.support.billing import open_instances, owner, workspaces
from tests.support.browser import Pages, shot
from tests.support.marketplace import SPI_PATH, spi_query

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
UID = "1234567890123456"


@pytest.fixture
def account() -> tuple[Workspace, Workspace]:
    """An owner with a workspace settled by the billing-center account and one by an instance that has
    since expired (one move allowed), and a third instance bought and not yet used."""
    user = owner()
    (own,) = workspaces(1, alibaba=False, user=user, prefix="1")
    (lapsed,) = workspaces(1, user=user, instance_ids=["740002"], prefix="2")
    open_instances(["740001"])
    Client().get(SPI_PATH + "?" + spi_query({"action": "expiredInstance", "instanceId": "740002"}))
    Workspace.objects.filter(pk=own.pk).update(name="生产环境")
    Workspace.objects.filter(pk=lapsed.pk).update(name="测试环境")
    return Workspace.objects.get(pk=own.pk), Workspace.objects.get(pk=lapsed.pk)


@pytest.fixture
def browse(browser: Browser, live_server) -> Iterator:
    """A browser context per language and viewport, signed in as ``user`` or not."""
    pages = Pages(browser, live_server.url)
    yield pages.open
    pages.close()


def fits(page: Page) -> None:
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the screen"


def test_changing_the_settlement_to_an_alibaba_instance(browse, live_server, account):
    own, _lapsed = account
    page = browse(user=own.owner)
    page.goto(f"{live_server.url}/billing/")
    page.get_by_role("link", name="工作空间管理").click()
    page.locator(f"tr[data-workspace='{own.pk}'] [data-testid=change-settlement]").click()
    assert page.get_by_test_id("current-method").inner_text() == "费用中心账号结算"
    aliyun_fields = page.get_by_test_id("aliyun-fields")
    assert not aliyun_fields.is_visible()  # only Alibaba settlement asks for the IDs
    page.get_by_label("阿里云账号结算", exact=False).first.check()
    assert aliyun_fields.is_visible()
    page.get_by_label("阿里云账号 ID").fill(UID)
    page.get_by_label("商品实例 ID").fill("740001")
    page.get_by_test_id("submit").click()
    page.wait_for_url(f"**/billing/workspaces/{own.pk}/settlement/")
    assert "结算方式已更改为「阿里云账号结算」。" in page.locator(".flash").inner_text()
    assert page.get_by_test_id("current-instance").inner_text() == "740001"
    assert "仍在订阅中" in page.get_by_test_id("move-notice").inner_text()
    # Nothing left to try: no form, no unlock link, and in the list a disabled button that says why.
    expect(page.get_by_test_id("settlement-form")).to_have_count(0)
    expect(page.get_by_test_id("issue-unlock-link")).to_have_count(0)
    page.get_by_test_id("billing-nav").get_by_role("link", name="工作空间管理").click()
    row = page.locator(f"tr[data-workspace='{own.pk}']")
    expect(row.get_by_test_id("change-settlement")).to_have_count(0)
    expect(row.get_by_test_id("change-settlement-disabled")).to_be_disabled()
    expect(row.get_by_test_id("move-blocked")).to_have_text("订阅中，不可更改")
    page.get_by_role("link", name="云账号").click()
    history = page.get_by_test_id("settlement-history").locator("tbody tr").first.inner_text()
    assert "生产环境" in history and "740001" in history and "更改结算方式" in history
    change = SettlementChange.objects.filter(workspace=own).latest("id")
    assert (change.reason, change.to_instance_id) == ("moved", "740001")
    assert page.js_errors == []


def test_a_refusal_keeps_what_was_typed(browse, live_server, account):
    own, _ = account
    page = browse(user=own.owner, language="en")
    page.goto(f"{live_server.url}/billing/workspaces/{own.pk}/settlement/")
    page.get_by_label("Alibaba Cloud account settlement", exact=False).first.check()
    page.get_by_label("Alibaba Cloud account ID").fill("9999999999999999")
    page.get_by_label("Instance ID").fill("740001")
    page.get_by_test_id("submit").click()
    refused = page.get_by_test_id("aliyun-fields").inner_text()
    assert "No such instance was found under this Alibaba Cloud account" in refused
    assert page.get_by_label("Instance ID").input_value() == "740001"
    assert Workspace.objects.get(pk=own.pk).settlement == "billing_account"


def test_the_unlock_link_in_a_browser_nobody_signed_in_to(browse, live_server, account):
    _own, lapsed = account
    url = management.issue_unlock_link(lapsed.pk, timezone.now())
    page = browse()
    page.goto(live_server.url + url[len(settings.ENV.public_url.rstrip("/")) :])
    page.get_by_test_id("follow-unlock-link").click()
    page.wait_for_url(f"**/billing/workspaces/{lapsed.pk}/settlement/")
    assert page.get_by_test_id("link-access").is_visible()
    page.get_by_label("费用中心账号结算", exact=False).first.check()
    page.get_by_test_id("submit").click()
    assert "结算方式已更改为「费用中心账号结算」。" in page.locator(".flash").inner_text()
    page.go_back()
    page.go_back()
    page.reload()  # the link again, now used
    assert page.get_by_test_id("unlock-refused").get_attribute("data-refusal") == "used"


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_pages_fit_the_screen(browse, live_server, account, language, viewport):
    own, lapsed = account
    user = own.owner
    tag = f"{language}-{viewport}"
    open_instances(["740003"])
    (subscribed,) = workspaces(1, user=user, instance_ids=["740003"], prefix="3")  # may not move
    signed_in = browse(user=user, language=language, viewport=viewport)
    for name, path in (
        ("workspaces", "/billing/workspaces/"),
        ("settlement-lapsed", f"/billing/workspaces/{lapsed.pk}/settlement/"),
        ("settlement", f"/billing/workspaces/{own.pk}/settlement/"),
        ("settlement-refused", f"/billing/workspaces/{subscribed.pk}/settlement/"),
        ("cloud-accounts", "/billing/cloud-accounts/"),
        ("spend-alerts", "/billing/alerts/"),
    ):
        signed_in.goto(f"{live_server.url}{path}")
        if name == "settlement":
            signed_in.get_by_test_id("issue-unlock-link").click()  # the one-time link, shown once
            signed_in.get_by_test_id("unlock-link").wait_for()
        fits(signed_in)
        shot(signed_in, f"{name}-{tag}")
    anonymous = browse(language=language, viewport=viewport)
    url = management.issue_unlock_link(lapsed.pk, timezone.now())
    anonymous.goto(live_server.url + url[len(settings.ENV.public_url.rstrip("/")) :])
    fits(anonymous)
    shot(anonymous, f"unlock-{tag}")
    anonymous.goto(f"{live_server.url}/billing/unlock/{'x' * 43}/")
    fits(anonymous)
    shot(anonymous, f"unlock-refused-{tag}")
    if viewport == "desktop":
        ops = browse(user=operator(f"ops{language.replace('-', '')}"), language=language, viewport=viewport)
        ops.goto(f"{live_server.url}/ops/timeline/instance/740002/")
        assert ops.get_by_test_id("timeline").locator("tbody tr").count() >= 4
        shot(ops, f"timeline-{tag}")
    for page in (signed_in, anonymous):
        assert page.js_errors == []
