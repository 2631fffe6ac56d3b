"""The operator's per-instance timeline (issue 12): SPI calls, state changes, reconciliation results,
settlement changes, notices and metering records of one instance and its workspaces, in time order, in
the operator console, built from a list of sources that another capability can extend."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from kaitong.billing import closing
from kaitong.billing.ingest import ingest_batch
from kaitong.marketplace import reconciliation
from kaitong.marketplace.domain import MarketStatus, MarketView
from kaitong.timeline import domain, queries
from tests.support.accounts import operator
from tests.support.billing import DAY, after_close, sample, workspaces
from tests.support.marketplace import call_spi, marketplace  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def timeline_rows(page: str) -> list[tuple[str, str]]:
    """(kind, text) of each row of the timeline table."""
    rows = re.findall(
        r'<tr data-kind="([a-z_]+)"><td[^>]*>[^<]*</td><td[^>]*>[^<]*</td><td>(.*?)</td></tr>', page, re.S
    )
    return [(kind, re.sub(r"\s+", " ", text).strip()) for kind, text in rows]


@pytest.fixture
def story(client, marketplace):  # noqa: F811
    """An instance's life: created and settling a workspace, a day billed and recorded in the ledger, an
    expire the marketplace could not confirm, then a release we missed, applied by the reconciliation."""
    (ws,) = workspaces(1, instance_ids=["730001"])
    ingest_batch(raw=[sample(ws, "logs", DAY, 1, 5_000_000)], now=after_close())
    closing.do_close_day(day=DAY, now=after_close())
    call_spi(client, {"action": "expiredInstance", "instanceId": "730001"})  # unconfirmed: applied, flagged
    marketplace.says("730001", MarketView(MarketStatus.CLOSED))
    reconciliation.do_reconcile(
        marketplace=marketplace, clock=timezone.now, calls_per_second=100.0, interval=timedelta(hours=24)
    )
    return ws


def test_one_timeline_in_time_order(client, story):
    client.force_login(operator())
    page = client.get("/ops/timeline/instance/730001/").content.decode()
    rows = timeline_rows(page)
    kinds = [kind for kind, _ in rows]
    # The instance's creation and the workspace it settled first; the ledger; then today's expire and release.
    assert kinds[:3] == ["spi", "state", "settlement"]
    assert rows[0][1].startswith("#") and "createInstance → 已生效" in rows[0][1]
    assert "ws-9-0" in rows[2][1] and "创建工作空间（运营或演示）" in rows[2][1]
    assert ("metering", "账期 2026-11-20：¥7.50 待推送") in rows
    expire = kinds.index("spi", 1)
    assert "expiredInstance → 已生效" in rows[expire][1]
    assert rows[expire + 1][0] == "state" and "正常 → 已过期" in rows[expire + 1][1]
    release = next(i for i, (kind, text) in enumerate(rows) if kind == "state" and "releaseInstance" in text)
    assert "已过期 → 已释放" in rows[release][1] and "核对（按云市场记录）" in rows[release][1]
    assert any(
        kind == "reconciliation" and "已按云市场更新: releaseInstance (marketplace CLOSED)" in text
        for kind, text in rows
    )
    # The expiry started the workspace's lock countdown, and its owner was told (the notice's own record).
    assert any(kind == "countdown" and text.startswith("ws-9-0: ") for kind, text in rows)
    assert any(
        kind == "notice" and "owner@example.com" not in text and "o***r@example.com" in text for kind, text in rows
    )
    assert kinds.index("metering") < expire < release


def test_reachable_from_the_instances_page_for_operators_only(client, story):
    client.force_login(operator())
    instance_page = client.get("/ops/marketplace/marketplaceinstance/").content.decode()
    change = re.search(r'href="(/ops/marketplace/marketplaceinstance/\d+/change/)"', instance_page).group(1)  # type: ignore[union-attr]
    assert 'href="/ops/timeline/instance/730001/"' in client.get(change).content.decode()
    assert client.get("/ops/timeline/instance/799999/").status_code == 404
    client.force_login(story.owner)  # a buyer is no operator
    response = client.get("/ops/timeline/instance/730001/")
    assert response.status_code == 302 and "/ops/login/" in response["Location"]


def test_in_english(client, settings, story):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(operator())
    page = client.get("/ops/timeline/instance/730001/").content.decode()
    rows = timeline_rows(page)
    assert ("metering", "Day 2026-11-20: ¥7.50 pending") in rows
    assert "Timeline: marketplace instance 730001" in page


def test_another_source_is_one_more_function(client, story, monkeypatch):
    """How issue 12's countdown adds its events: a function of the subject, appended to SOURCES."""

    def countdown(subject: queries.Subject):  # type: ignore[no-untyped-def]
        yield domain.Event(timezone.now() + timedelta(days=14), "countdown", f"locked ({len(subject.workspace_ids)})")

    monkeypatch.setattr(queries, "SOURCES", [*queries.SOURCES, countdown])
    client.force_login(operator())
    rows = timeline_rows(client.get("/ops/timeline/instance/730001/").content.decode())
    assert rows[-1] == ("countdown", "locked (1)")


def test_events_at_one_instant_keep_the_order_of_their_sources():
    at = timezone.now()
    first = [domain.Event(at, "spi", "call"), domain.Event(at - timedelta(seconds=1), "spi", "earlier")]
    second = [domain.Event(at, "state", "change")]
    assert [e.text for e in domain.in_time_order([second, first])] == ["earlier", "change", "call"]
    assert [e.text for e in domain.in_time_order([first, second])] == ["earlier", "call", "change"]
