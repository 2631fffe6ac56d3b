"""The pages still work under the Content-Security-Policy: the operator console (Django's admin and its
scripts), the usage API's OpenAPI page, the public pages and the console's copy button. The ``page``
fixture (conftest.py) fails the test on any violation the browser reports."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support import accounts
from tests.support.activation import STRONG_PASSWORD, existing_account
from tests.support.billing import ledger_records
from tests.support.marketplace import call_spi, create_params

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_operator_console_works_under_the_policy(page: Page, live_server, client):
    call_spi(client, create_params("880001"))
    ledger_records(2)
    accounts.operator()
    page.goto(f"{live_server.url}/ops/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", accounts.OPERATOR_PASSWORD)
    page.locator("input[type=submit]").click()
    expect(page.locator("#site-name")).to_contain_text("kaitong")
    for path in (
        "/ops/marketplace/marketplaceinstance/",
        "/ops/marketplace/spicall/?verdict__exact=applied",
        "/ops/jobs/taskrun/",
        "/ops/jobs/dutyrun/",
    ):
        page.goto(live_server.url + path)
        expect(page.locator("#changelist")).to_be_visible()
    # The ledger's list has actions: admin/js/actions.js (a static file) counts the selection.
    page.goto(f"{live_server.url}/ops/billing/meteringrecord/")
    page.locator("#action-toggle").check()
    expect(page.locator(".action-counter")).to_contain_text("2")
    page.locator("#changelist tbody a").first.click()
    expect(page.locator("#content h1, #content h2").first).to_be_visible()


def test_public_pages_api_docs_and_errors_work_under_the_policy(page: Page, live_server):
    page.goto(f"{live_server.url}/")
    expect(page.locator(".hero h1")).to_be_visible()
    before = page.locator("html").get_attribute("lang")
    page.get_by_test_id("lang-switch").click()  # a form posting to our own origin, then a redirect
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans" if before == "en" else "en")
    page.goto(f"{live_server.url}/marketplace/aliyun/sso?token=bad")
    expect(page.get_by_test_id("sso-refused")).to_be_visible()
    page.goto(f"{live_server.url}/api/v1/docs")
    expect(page.locator(".swagger-ui .title")).to_contain_text("kaitong usage API")
    expect(page.get_by_text("/api/v1/usage/samples")).to_be_visible()
    response = page.goto(f"{live_server.url}/no-such-page/")
    assert response is not None and response.status == 404


def test_the_console_copy_button_runs_from_its_static_script(page: Page, live_server):
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod",))
    page.goto(f"{live_server.url}/console/login/")
    page.fill("#id_username", "acme")
    page.fill("#id_password", STRONG_PASSWORD)
    page.get_by_test_id("login").click()
    page.get_by_role("link", name="acme-prod", exact=True).first.click()
    page.get_by_test_id("copy-windows").click()
    expect(page.get_by_test_id("copy-windows")).to_have_text(re.compile("已复制|Copied"))
