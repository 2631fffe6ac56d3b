"""高消费预警: an owner sets a workspace's threshold in the billing center (费用中心 > 高消费预警); when a day
closes into bills, each item of a daily bill above it is told to the owner once, in the workspace's
language, by email (and SMS to a phone number). Checked on SQLite and PostgreSQL alike."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django.test import Client

from kaitong.accounts.models import ConsoleAccount
from kaitong.billing import closing, payments, price_lists
from kaitong.billing.ingest import ingest_batch
from kaitong.billing.models import PriceItem, PriceList
from kaitong.billing.queries import unpaid_bill_ids
from kaitong.notices import actions
from kaitong.notices.models import HighSpendAlert, SentNotice, SpendThreshold, SpendThresholdChange
from kaitong.sms.backends import LocmemSmsBackend
from kaitong.workspaces.models import Workspace
from tests.support import html
from tests.support.activation import deliver_mail
from tests.support.billing import DAY, after_close, owner, sample, workspaces
from tests.support.concurrency import at_once, patient_sqlite_writers

pytestmark = pytest.mark.django_db

# Logs: 5 M records at the default 14-day retention, 1.5 a million → ¥7.50 for the day. Time series:
# 1,000 at 7 days, 0.7 a thousand → ¥0.70.
LOGS_FEE = Decimal("7.50")


def workspace_in(language: str, *, username: str = "owner", prefix: str = "9") -> Workspace:
    (workspace,) = workspaces(1, alibaba=False, user=owner(username), prefix=prefix)
    Workspace.objects.filter(pk=workspace.pk).update(language=language, name=f"Shop {prefix}")
    ConsoleAccount.objects.filter(pk=workspace.owner_id).update(phone="13800138000")
    return Workspace.objects.select_related("owner").get(pk=workspace.pk)


def signed_in(workspace: Workspace, language: str = "zh-hans") -> Client:
    client = Client()
    client.force_login(workspace.owner)
    client.cookies["django_language"] = language
    return client


def set_threshold(workspace: Workspace, amount: str) -> None:
    response = signed_in(workspace).post(f"/billing/alerts/{workspace.pk}/", {"threshold": amount})
    assert response.status_code == 302, response.content.decode()


def use(workspace: Workspace, *, logs: int = 5_000_000, series: int = 1_000) -> None:
    ingest_batch(
        raw=[sample(workspace, "logs", DAY, 3, logs), sample(workspace, "time_series", DAY, 3, series)],
        now=after_close(),
    )


def close_the_day() -> None:
    """The day closed into bills, which are paid at once: these tests are about the alert, not about an
    unpaid bill's lock countdown (whose duty, run with the mail, would start one)."""
    closing.do_close_day(day=DAY, now=after_close())
    all_workspaces = list(Workspace.objects.values_list("pk", flat=True))
    payments.do_record_bill_payments(
        bill_ids=unpaid_bill_ids(workspace_ids=all_workspaces), recorded_by="test", now=after_close()
    )
    deliver_mail(after_close())


class TestAlert:
    def test_an_item_over_the_threshold_is_told_once_in_the_workspaces_language(self):
        workspace = workspace_in("en")
        set_threshold(workspace, "5")
        use(workspace)
        close_the_day()
        (message,) = mail.outbox
        assert message.subject == f'High-spend alert: "Log data" of workspace "{workspace.name}" cost ¥7.50 on {DAY}'
        assert "above your alert threshold of ¥5.00" in message.body
        assert message.from_email == "Guance Cloud <no-reply@kaitong.local>"  # not 观测云 above English
        assert f"http://testserver/billing/bills/{workspace.pk}/{DAY}/" in message.body
        (sms,) = LocmemSmsBackend.outbox
        assert sms.text == f'[Guance] High spend: Log data in "{workspace.name}" cost ¥7.50.'
        alert = HighSpendAlert.objects.get()
        assert (alert.item, alert.amount, alert.threshold, alert.day) == ("logs", LOGS_FEE, Decimal("5.00"), DAY)
        # Closing the day again, or checking it again, tells nobody twice.
        closing.do_close_day(day=DAY, now=after_close())
        assert actions.do_alert_high_spend(day=DAY, now=after_close()) == 0
        deliver_mail(after_close())
        assert len(mail.outbox) == 1 and len(LocmemSmsBackend.outbox) == 1 and HighSpendAlert.objects.count() == 1

    def test_a_chinese_workspace_is_told_in_chinese_whatever_the_owners_browser_says(self):
        workspace = workspace_in("zh")
        response = signed_in(workspace, "en").post(f"/billing/alerts/{workspace.pk}/", {"threshold": "5"})
        assert response.status_code == 302
        use(workspace)
        close_the_day()
        (message,) = mail.outbox
        assert message.subject == f"高消费预警：工作空间「{workspace.name}」{DAY}「日志类数据」费用 ¥7.50"
        assert message.from_email == "观测云 <no-reply@kaitong.local>"
        assert LocmemSmsBackend.outbox[0].text.startswith("【观测云】高消费预警：")

    def test_every_item_over_the_threshold_is_told(self):
        workspace = workspace_in("zh")
        set_threshold(workspace, "0.50")
        use(workspace)
        close_the_day()
        assert sorted(HighSpendAlert.objects.values_list("item", flat=True)) == ["logs", "time_series"]
        assert len(mail.outbox) == 2

    @pytest.mark.parametrize("threshold", ["7.50", "100"])
    def test_an_item_at_or_under_the_threshold_is_not_told(self, threshold):
        workspace = workspace_in("zh")
        set_threshold(workspace, threshold)
        use(workspace)
        close_the_day()
        assert mail.outbox == [] and not HighSpendAlert.objects.exists()

    def test_a_workspace_without_a_threshold_is_not_told(self):
        alerted, quiet = workspace_in("zh", prefix="a"), workspace_in("zh", username="other", prefix="b")
        set_threshold(alerted, "1")
        use(alerted)
        use(quiet)
        close_the_day()
        assert set(SentNotice.objects.values_list("workspace_id", flat=True)) == {alerted.pk}

    def test_the_threshold_of_the_close_is_the_one_that_counts(self):
        workspace = workspace_in("zh")
        set_threshold(workspace, "1")
        signed_in(workspace).post(f"/billing/alerts/{workspace.pk}/", {"off": "1"})
        use(workspace)
        close_the_day()
        assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_checks_racing_each_other_tell_each_item_once():
    # A transactional test empties the tables after it, the migration's price list too: load it again.
    price_lists.load(price_lists.read("cn-2023-04"), price_list_model=PriceList, price_item_model=PriceItem)
    workspace = workspace_in("zh")
    use(workspace)
    closing.do_close_day(day=DAY, now=after_close())  # no threshold yet: nobody told
    actions.do_set_spend_threshold(
        workspace_id=workspace.pk, acting_user_id=workspace.owner_id, amount=Decimal("1"), now=after_close()
    )
    told: list[int] = []

    def check(n: int) -> None:
        with transaction.atomic():
            told.append(actions.do_alert_high_spend(day=DAY, now=after_close()))

    with patient_sqlite_writers():
        at_once(4, check)
    assert sorted(told) == [0, 0, 0, 1]
    assert HighSpendAlert.objects.count() == 1
    assert SentNotice.objects.filter(kind="high_spend").count() == 2  # one email, one SMS


class TestThePage:
    def test_lists_the_owners_workspaces_with_their_alert(self):
        workspace = workspace_in("zh")
        other = workspace_in("zh", username="someone", prefix="x")
        page = signed_in(workspace).get("/billing/alerts/").content.decode()
        assert workspace.name in page and other.name not in page and "未开启" in page
        set_threshold(workspace, "1200.5")
        page = signed_in(workspace).get("/billing/alerts/").content.decode()
        assert "已开启：超过 ¥1,200.50 时提醒" in page and 'value="1200.50"' in page

    def test_the_billing_center_links_to_it(self):
        workspace = workspace_in("zh")
        assert 'href="/billing/alerts/"' in signed_in(workspace).get("/billing/").content.decode()

    def test_it_is_a_tab_of_the_billing_center_like_the_others(self):
        """The center's tabs on this page too, this one marked as the page shown, and on every other page
        a tab that leads here."""
        workspace = workspace_in("zh")
        client = signed_in(workspace)
        page = client.get("/billing/alerts/").content.decode()
        assert html.texts(page, "billing-nav") == ["账单 工作空间管理 云账号 高消费预警"]
        assert re.search(r'<a href="/billing/alerts/" class="on" aria-current="page">高消费预警</a>', page)
        for other in ("/billing/", "/billing/workspaces/", "/billing/cloud-accounts/"):
            shown = client.get(other).content.decode()
            nav = re.search(r'data-testid="billing-nav".*?</nav>', shown, re.S)
            assert nav and '<a href="/billing/alerts/">高消费预警</a>' in nav.group(0), other
        english = signed_in(workspace, "en").get("/billing/alerts/").content.decode()
        assert html.texts(english, "billing-nav") == ["Bills Workspace management Cloud accounts High-spend alerts"]

    def test_in_english(self):
        workspace = workspace_in("zh")
        set_threshold(workspace, "99")
        page = signed_in(workspace, "en").get("/billing/alerts/").content.decode()
        assert "<h1>High-spend alerts</h1>" in page and "On: alert above ¥99.00" in page and "Turn off alert" in page

    @pytest.mark.parametrize(
        ("value", "zh", "en"),
        [
            ("abc", "请输入金额（元），例如 500 或 1200.50。", "Enter an amount in CNY, such as 500 or 1200.50."),
            ("0", "预警阈值至少为 ¥0.01。", "The threshold must be at least ¥0.01."),
            ("-5", "预警阈值至少为 ¥0.01。", "The threshold must be at least ¥0.01."),
            ("1.234", "金额最多保留两位小数。", "Use at most two decimal places."),
            (
                "99999999999",
                "预警阈值不能超过 ¥9,999,999,999.99。",
                "The threshold cannot be more than ¥9,999,999,999.99.",
            ),
            (
                "",
                "请输入预警阈值；不需要预警时请点「关闭预警」。",
                'Enter a threshold; for no alert, press "Turn off alert".',
            ),
            ("NaN", "请输入金额（元），例如 500 或 1200.50。", "Enter an amount in CNY, such as 500 or 1200.50."),
        ],
    )
    def test_a_bad_amount_is_refused_clearly_and_changes_nothing(self, value, zh, en):
        workspace = workspace_in("zh")
        set_threshold(workspace, "10")
        for language, message in (("zh-hans", zh), ("en", en)):
            response = signed_in(workspace, language).post(f"/billing/alerts/{workspace.pk}/", {"threshold": value})
            assert response.status_code == 400
            assert message.replace('"', "&quot;") in response.content.decode()
        assert SpendThreshold.objects.get().amount == Decimal("10.00")
        assert SpendThresholdChange.objects.count() == 1

    def test_turning_it_off_is_audited(self):
        workspace = workspace_in("zh")
        set_threshold(workspace, "10")
        set_threshold(workspace, "10.00")  # the same amount: no change, no audit row
        response = signed_in(workspace).post(f"/billing/alerts/{workspace.pk}/", {"off": "1"}, follow=True)
        assert "已关闭该工作空间的高消费预警。" in response.content.decode()
        assert not SpendThreshold.objects.exists()
        changes = list(SpendThresholdChange.objects.order_by("at", "id").values_list("from_amount", "to_amount"))
        assert changes == [(None, Decimal("10.00")), (Decimal("10.00"), None)]

    def test_another_owners_workspace_is_not_found_and_unchanged(self):
        mine, theirs = workspace_in("zh"), workspace_in("zh", username="someone", prefix="x")
        response = signed_in(mine).post(f"/billing/alerts/{theirs.pk}/", {"threshold": "1"})
        assert response.status_code == 404
        assert signed_in(mine).post("/billing/alerts/999999/", {"threshold": "1"}).status_code == 404
        assert not SpendThreshold.objects.exists()

    def test_signing_in_comes_first(self):
        response = Client().get("/billing/alerts/")
        assert response.status_code == 302 and response["Location"].startswith("/console/login/")
        assert Client().post("/billing/alerts/1/", {"threshold": "1"}).status_code == 302
