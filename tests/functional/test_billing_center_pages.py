"""The billing center as a buyer reads it: a bill's numbers, today's estimate before the first bill, the
30-day chart's data, in Chinese and in English (issue 11, items 13 and 14)."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kaitong.billing import closing, views
from kaitong.billing.ingest import ingest_batch
from tests.support import html
from tests.support.billing import DAY, after_close, sample, workspaces

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 6, 32, tzinfo=UTC)  # 14:32 in Beijing


@pytest.fixture
def english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def at_now(monkeypatch):
    """The billing center's clock reads NOW (the view passes it down; nothing else is touched)."""
    monkeypatch.setattr(views, "timezone", SimpleNamespace(now=lambda: NOW), raising=False)


def chart_data(page: str) -> dict:
    found = re.search(r'<script id="usage-chart-data" type="application/json">(.*?)</script>', page, re.S)
    assert found, "the chart's data block is missing"
    return json.loads(found.group(1))


class TestBillDetail:
    @pytest.fixture
    def bill(self):
        """A closed day with a four-digit total: logs (sum), time series (max of the day), APM traces."""
        (ws,) = workspaces(1)
        ingest_batch(
            raw=[
                sample(ws, "logs", DAY, 1, 1_000_000_000),
                sample(ws, "logs", DAY, 2, 16_060_000),
                sample(ws, "time_series", DAY, 1, 2_000),
                sample(ws, "time_series", DAY, 2, 2_500),
                sample(ws, "apm_trace", DAY, 3, "1000000.000000"),
            ],
            now=after_close(),
        )
        closing.do_close_day(day=DAY, now=after_close())
        return ws

    @pytest.mark.parametrize(
        ("language", "rows", "settlement"),
        [
            (
                "zh-hans",
                [
                    ["计费项", "数据保存", "用量", "计费数量", "单位", "单价", "费用"],
                    # Prices at the list's precision (its finest price is 0.007): never "3" beside "1.5000".
                    ["应用性能 Trace", "7 天", "1,000,000", "1", "百万条", "¥3.000", "¥3.00"],
                    # Quantities without trailing zeros (never "1016060000.000000"), thousands grouped.
                    ["日志类数据", "14 天", "1,016,060,000", "1,016.06", "百万条", "¥1.500", "¥1,524.09"],
                    ["时间线（日活跃）", "7 天", "2,500", "2.5", "千条", "¥0.700", "¥1.75"],
                    ["合计", "¥1,528.84"],
                ],
                "结算方式：阿里云账号结算 · 实例 ID：{instance}",
            ),
            (
                "en",
                [
                    ["Billing item", "Retention", "Usage", "Billed units", "Unit", "Unit price", "Fee"],
                    ["APM traces", "7 days", "1,000,000", "1", "1 M traces", "¥3.000", "¥3.00"],
                    ["Log data", "14 days", "1,016,060,000", "1,016.06", "1 M records", "¥1.500", "¥1,524.09"],
                    ["Time series (daily active)", "7 days", "2,500", "2.5", "1,000 series", "¥0.700", "¥1.75"],
                    ["Total", "¥1,528.84"],
                ],
                "Settlement: Alibaba Cloud account · Instance ID: {instance}",
            ),
        ],
    )
    def test_numbers_read_as_money_prices_and_units(self, client, settings, bill, language, rows, settlement):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        client.force_login(bill.owner)
        page = client.get(f"/billing/bills/{bill.pk}/{DAY}/").content.decode()
        assert html.table(page, "bill-lines") == rows
        assert html.text(page, "bill-total-figure") == "¥1,528.84"
        instance = bill.cloud_account.instance.instance_id
        assert html.text(page, "bill-settlement") == settlement.format(instance=instance)
        if language == "en":
            assert re.search(r"[\u4e00-\u9fff]", html.text(page, "bill")) is None  # no Chinese left in the bill

    def test_billing_center_settlement(self, client):
        (ws,) = workspaces(1, alibaba=False)
        ingest_batch(raw=[sample(ws, "sms", DAY, 0, 10)], now=after_close())
        closing.do_close_day(day=DAY, now=after_close())
        client.force_login(ws.owner)
        page = client.get(f"/billing/bills/{ws.pk}/{DAY}/").content.decode()
        assert html.text(page, "bill-settlement") == "结算方式：费用中心账号结算"
        assert html.text(page, "bill-total-figure") == "¥1.00"

    def test_the_bills_list_and_pushes_show_yuan(self, client, bill):
        client.force_login(bill.owner)
        page = client.get("/billing/").content.decode()
        (row,) = html.table(page, "daily-bills")[1:]
        instance = bill.cloud_account.instance.instance_id
        assert row == [str(DAY), f"{bill.name} 阿里云账号结算 · {instance}", "¥1,528.84", "明细"]
        (push,) = html.table(page, "metering-pushes")[1:]
        assert push[2] == "¥1,528.84"


class TestConsoleWorkspaceSettlement:
    def test_settlement_has_its_colon(self, client, settings):
        (ws,) = workspaces(1)
        client.force_login(ws.owner)
        page = client.get(f"/console/workspaces/{ws.pk}/").content.decode()
        assert html.text(page, "settlement") == "结算方式：阿里云账号结算"
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        page = client.get(f"/console/workspaces/{ws.pk}/").content.decode()
        assert html.text(page, "settlement") == "Settlement: Alibaba Cloud account"


class TestTodayEstimate:
    @pytest.fixture
    def account(self, at_now):
        """Two workspaces of one owner; days up to 29 November closed; usage reported today until 14:00."""
        first, second = workspaces(2)
        before = TODAY - timedelta(days=2)
        ingest_batch(raw=[sample(first, "sms", before, 5, 10)], now=NOW)
        closing.do_close_day(day=before, now=NOW)
        ingest_batch(
            raw=[
                # Yesterday's last hour (still open: its day has not been closed) never counts as today.
                sample(first, "logs", TODAY - timedelta(days=1), 23, 9_000_000),
                *[sample(first, "logs", TODAY, h, 500_000) for h in range(6)],  # 3 M in all
                sample(first, "time_series", TODAY, 2, 900),
                sample(first, "time_series", TODAY, 9, 1_200),  # the peak so far
                sample(second, "sms", TODAY, 13, 25),
            ],
            now=NOW,
        )
        closing.do_close_day(day=TODAY - timedelta(days=1), now=NOW)
        return first, second

    def test_todays_usage_so_far_is_shown_and_labelled_as_not_billed(self, client, account):
        first, _ = account
        client.force_login(first.owner)
        page = client.get("/billing/").content.decode()
        assert "今日用量（预估，未出账）" in page
        assert "按今天截至 14:32（北京时间）已上报的用量和价格表 cn-2023-04 估算。这不是账单" in page
        # 3 M logs × ¥1.50 + 1.2 k time series × ¥0.70; 2.5 × 10 SMS × ¥1.00.
        assert html.text(page, "estimate-total") == "¥7.84"
        assert html.texts(page, "estimate-workspace-total") == ["¥5.34", "¥2.50"]
        first_lines, second_lines = html.tables(page, "estimate-lines")
        assert first_lines[1:] == [
            ["日志类数据", "14 天", "3,000,000", "3", "百万条", "¥1.500", "¥4.50"],
            ["时间线（日活跃）", "7 天", "1,200", "1.2", "千条", "¥0.700", "¥0.84"],
        ]
        assert second_lines[1:] == [["短信", "—", "25", "2.5", "10 条", "¥1.000", "¥2.50"]]

    def test_the_estimate_is_what_closing_bills_when_nothing_more_arrives(self, client, account):
        first, second = account
        client.force_login(first.owner)
        shown = html.texts(client.get("/billing/").content.decode(), "estimate-workspace-total")
        closing.do_close_day(day=TODAY, now=NOW + timedelta(days=1))
        page = client.get("/billing/").content.decode()
        billed = {row[1].split()[0]: row[2] for row in html.table(page, "daily-bills")[1:] if row[0] == str(TODAY)}
        assert [billed[first.name], billed[second.name]] == shown

    def test_in_english(self, english, account):
        first, _ = account
        english.force_login(first.owner)
        page = english.get("/billing/").content.decode()
        assert "Today's usage (estimate, not yet billed)" in page
        assert "This is not a bill" in page
        assert html.text(page, "estimate-total") == "¥7.84"
        assert chart_data(page)["text"]["estimated"] == "estimate, not billed yet"

    def test_chart_data_has_thirty_days_per_workspace(self, client, account):
        first, second = account
        client.force_login(first.owner)
        data = chart_data(client.get("/billing/").content.decode())
        assert len(data["days"]) == 30
        assert (data["days"][0], data["days"][-1]) == ("2026-11-01", "2026-11-30")
        assert data["estimated"] == "2026-11-30"
        assert data["labels"][-1] == "11-30"
        by_name = {s["name"]: s for s in data["series"]}
        assert set(by_name) == {first.name, second.name}
        assert by_name[first.name]["workspace"] == first.pk
        # 28 Nov billed ¥1.00 (10 SMS), 29 Nov billed ¥9 × 1.5 = ¥13.50 (yesterday's 9 M logs), today the estimate.
        assert by_name[first.name]["totals"][-3:] == ["1.00", "13.50", "5.34"]
        assert by_name[second.name]["totals"][-3:] == ["0.00", "0.00", "2.50"]
        assert all(len(s["totals"]) == 30 for s in data["series"])
        assert data["text"] == {
            "estimated": "预估，未出账",
            "not_closed": "尚未出账",
            "total": "合计",
            "axis": "费用（元）",
            "colon": "：",
        }

    def test_a_new_account_sees_today_before_its_first_bill(self, client, at_now):
        (ws,) = workspaces(1, prefix="7")
        ingest_batch(raw=[sample(ws, "logs", TODAY, h, 1_000_000) for h in range(3)], now=NOW)
        client.force_login(ws.owner)
        page = client.get("/billing/").content.decode()
        assert html.text(page, "estimate-total") == "¥4.50"
        assert "还没有账单：今天的用量在明天 00:00（北京时间）出账" in page
        (series,) = chart_data(page)["series"]
        # No day has ever been closed here: the 29 days before today are "not billed yet", not zeros.
        assert series["totals"] == [None] * 29 + ["4.50"]

    def test_page_and_scripts_hold_no_inline_code(self, client, account):
        first, _ = account
        client.force_login(first.owner)
        page = client.get("/billing/").content.decode()
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
        inline = [attrs for attrs, body in scripts if body.strip() and 'type="application/json"' not in attrs]
        assert inline == []
        sources = re.findall(r'<script src="([^"]+)"', page)
        assert sources == ["/static/kaitong/vendor/chartjs/chart.umd.min.js", "/static/billing/usage-chart.js"]
        for source in sources:
            assert client.get(source).status_code == 200
        assert re.search(r"<[^>]+\son[a-z]+=", page) is None  # no inline event handlers either

    def test_queries_do_not_grow_with_workspaces(self, client, at_now):
        def count(n_workspaces: int, prefix: str) -> int:
            made = workspaces(n_workspaces, prefix=prefix, user=None)
            ingest_batch(raw=[sample(w, "sms", TODAY, 1, 10) for w in made], now=NOW)
            client.force_login(made[0].owner)
            with CaptureQueriesContext(connection) as queries:
                assert client.get("/billing/").status_code == 200
            return len(queries)

        assert count(2, "5") == count(12, "4")
