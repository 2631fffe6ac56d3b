"""The billing center in Chromium: the 30-day chart draws from the vendored Chart.js, the bill's total is
the number that stands out, and neither page spills sideways on a phone, in Chinese and in English.

``KAITONG_SCREENSHOTS=/dir`` saves each page at 1366×900 and 390×844 in both languages.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, Page, Route

from kaitong.billing import closing, price_lists, views
from kaitong.billing.ingest import ingest_batch
from kaitong.billing.models import PriceItem, PriceList
from tests.support.billing import sample, workspaces

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("KAITONG_SCREENSHOTS", "")
TODAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 6, 32, tzinfo=UTC)  # 14:32 in Beijing
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def account(monkeypatch):
    """Two workspaces with ten closed days of usage, and usage reported today until 14:00."""
    monkeypatch.setattr(views, "timezone", SimpleNamespace(now=lambda: NOW))
    # A transactional test empties the tables after it, the migration's price list too: load it again.
    price_lists.load(price_lists.read("cn-2023-04"), price_list_model=PriceList, price_item_model=PriceItem)
    first, second = workspaces(2)
    for back in range(10, 0, -1):
        day = TODAY - timedelta(days=back)
        ingest_batch(
            raw=[
                sample(first, "logs", day, 3, 20_000_000 + back * 3_000_000),
                sample(first, "time_series", day, 3, 12_000 + back * 100),
                sample(second, "apm_trace", day, 5, 1_000_000 * (back % 4 + 1)),
                sample(second, "forward_guance", day, 5, 1234),
            ],
            now=NOW,
        )
        closing.do_close_day(day=day, now=NOW)
    ingest_batch(
        raw=[sample(first, "logs", TODAY, h, 1_500_000) for h in range(14)] + [sample(second, "sms", TODAY, 9, 120)],
        now=NOW,
    )
    return first, second


@pytest.fixture
def signed_in(browser: Browser, live_server, account) -> Iterator:
    """A browser context per language and viewport, signed in as the owner (a Django session cookie)."""
    client = Client()
    client.force_login(account[0].owner)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    contexts = []

    def open_page(*, language: str = "zh-hans", viewport: str = "desktop") -> Page:
        context = browser.new_context(viewport=VIEWPORTS[viewport], locale="zh-CN")
        context.add_cookies(
            [
                {"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url},
                {"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url},
            ]
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.js_errors = errors  # type: ignore[attr-defined]
        return page

    yield open_page
    for context in contexts:
        context.close()


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


# What the settings helper is putting in place: no inline script or style anywhere.
STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'"


def with_strict_csp(route: Route) -> None:
    answer = route.fetch()
    route.fulfill(response=answer, headers={**answer.headers, "content-security-policy": STRICT_CSP})


def test_the_chart_draws_thirty_days_per_workspace(signed_in, live_server, account):
    page = signed_in()
    refused: list[str] = []
    page.on(
        "console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None
    )
    page.route(f"{live_server.url}/billing/", with_strict_csp)
    page.goto(f"{live_server.url}/billing/")
    canvas = page.locator("#usage-chart[data-rendered]")
    canvas.wait_for()
    drawn = page.evaluate(
        """() => {
            const canvas = document.getElementById("usage-chart");
            const chart = Chart.getChart(canvas);
            const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) painted++; }
            const today = chart.getDatasetMeta(0).data[29].getProps(["y", "base"], true);
            return {
                labels: chart.data.labels.length,
                series: chart.data.datasets.map((d) => d.label),
                width: canvas.clientWidth,
                height: canvas.clientHeight,
                painted: painted,
                todayBar: Math.abs(today.base - today.y),
            };
        }"""
    )
    first, second = account
    assert drawn["labels"] == 30
    assert sorted(drawn["series"]) == sorted([first.name, second.name])
    assert drawn["width"] > 600 and drawn["height"] >= 250
    assert drawn["painted"] > 10_000  # bars, axes and legend, not a blank canvas
    assert drawn["todayBar"] > 0  # today's estimate is a bar of its own
    # Pointing at today's bar says it is an estimate, and sums the workspaces as the page does.
    bar = page.evaluate(
        """() => {
            const chart = Chart.getChart(document.getElementById("usage-chart"));
            const bar = chart.getDatasetMeta(0).data[29].getProps(["x", "y"], true);
            return {x: bar.x, y: bar.y};
        }"""
    )
    page.locator("#usage-chart").hover(position={"x": bar["x"], "y": bar["y"] + 2})
    page.wait_for_function("() => Chart.getChart(document.getElementById('usage-chart')).tooltip.opacity > 0")
    tooltip = page.evaluate(
        """() => {
            const t = Chart.getChart(document.getElementById("usage-chart")).tooltip;
            return {title: t.title, body: t.body.map((b) => b.lines.join(" ")), footer: t.footer};
        }"""
    )
    assert tooltip["title"] == ["2026-11-30 · 预估，未出账"]
    assert sorted(tooltip["body"]) == sorted([f"{first.name}：¥31.50", f"{second.name}：¥12.00"])
    assert tooltip["footer"] == ["合计：¥43.50"]
    shot(page, "billing-chart-tooltip")
    assert page.js_errors == []
    assert refused == []  # the page and Chart.js work under a policy without inline code


def test_the_bills_total_stands_out(signed_in, live_server, account):
    first, _ = account
    page = signed_in()
    page.goto(f"{live_server.url}/billing/bills/{first.pk}/{TODAY - timedelta(days=1)}/")
    style = page.evaluate(
        """() => {
            const look = (el) => {
                const s = getComputedStyle(el);
                return {size: parseFloat(s.fontSize), weight: parseInt(s.fontWeight), color: s.color};
            };
            return {
                total: look(document.querySelector("[data-testid=bill-total-figure]")),
                cells: [...document.querySelectorAll("td.num, th.num")].map(look),
                muted: look(document.querySelector(".bill-meta")),
            };
        }"""
    )
    total = style["total"]
    assert total["size"] > max(cell["size"] for cell in style["cells"]) * 1.5
    assert total["weight"] >= 700
    assert total["color"] != style["muted"]["color"]  # not grey
    assert total["color"] == "rgb(31, 35, 41)"  # the ink colour


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_pages_fit_the_screen(signed_in, live_server, account, language, viewport):
    first, _ = account
    for name, path in (
        ("billing", "/billing/"),
        ("bill-detail", f"/billing/bills/{first.pk}/{TODAY - timedelta(days=1)}/"),
    ):
        page = signed_in(language=language, viewport=viewport)
        page.goto(f"{live_server.url}{path}")
        if name == "billing":
            page.locator("#usage-chart[data-rendered]").wait_for()
            page.locator("[data-testid=estimate-workspace] summary").first.click()  # open one estimate's lines
        # Wide tables scroll inside their card; the page itself never scrolls sideways.
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} is {overflow}px wider than a {viewport} screen"
        assert page.js_errors == []
        shot(page, f"{name}-{language}-{viewport}")
