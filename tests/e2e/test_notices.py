"""Notices in Chromium: the simulator's mailbox shows the SMS (and the emails) a notice sent, read from
the vendor's sinks; the billing center's 高消费预警 page sets and clears a workspace's alert. Neither
page spills sideways on a phone.

``KAITONG_SCREENSHOTS=/dir`` saves each page at 1366×900 and 390×844 (``tests.support.browser.shot``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from kaitong.accounts.models import ConsoleAccount
from kaitong.billing import price_lists
from kaitong.billing.models import PriceItem, PriceList
from kaitong.notices.actions import do_send_workspace_notice
from kaitong.notices.domain import Notice
from kaitong.workspaces.models import Workspace
from tests.support.billing import owner, workspaces
from tests.support.browser import VIEWPORTS, Pages, shot
from tests.support.jobs import run_jobs
from tests.support.simulator import start_simulator

pytestmark = pytest.mark.e2e
PHONE = "+86 138-0013-8000"


def owned_workspace(*, language: str, name: str, username: str = "owner", prefix: str = "9") -> Workspace:
    (workspace,) = workspaces(1, alibaba=False, user=owner(username), prefix=prefix)
    Workspace.objects.filter(pk=workspace.pk).update(language=language, name=name)
    ConsoleAccount.objects.filter(pk=workspace.owner_id).update(phone=PHONE)
    return Workspace.objects.select_related("owner").get(pk=workspace.pk)


@pytest.fixture
def sent_notices(settings, tmp_path: Path) -> Path:
    """Notices about an English and a Chinese workspace, delivered as the demo delivers them: SMS by the
    file sink, each email stored as the demo's SMTP sink stores it."""
    box = tmp_path / "box"
    settings.SMS_BACKEND = "kaitong.sms.backends.FileSmsBackend"
    settings.SMS_FILE_DIR = str(box / "sms")
    english = owned_workspace(language="en", name="Checkout (prod)")
    chinese = owned_workspace(language="zh", name="华东生产环境核心交易系统", username="buyer2", prefix="8")
    now = timezone.now()
    with transaction.atomic():
        do_send_workspace_notice(
            workspace_id=english.pk,
            notice=Notice.COUNTDOWN_STARTED,
            context={"locks_on": "2026-12-14", "cause": "instance_released", "instance_id": "i-8f3a2c91"},
            now=now,
        )
        do_send_workspace_notice(
            workspace_id=chinese.pk,
            notice=Notice.HIGH_SPEND,
            context={"day": "2026-11-29", "item": "logs", "amount": "1234.50", "threshold": "1000"},
            now=now,
        )
    run_jobs(duties=False)
    (box / "mail").mkdir(parents=True)
    for n, message in enumerate(mail.outbox):
        (box / "mail" / f"{n:020d}.eml").write_bytes(message.message().as_bytes())
    return box


@pytest.mark.django_db
def test_the_simulators_mailbox_shows_the_sms_a_notice_sent(page: Page, sent_notices: Path, tmp_path: Path) -> None:
    with start_simulator(
        tmp_path,
        KAITONG_SIMULATOR_MAILBOX_DIR=str(sent_notices / "mail"),
        KAITONG_SIMULATOR_SMS_DIR=str(sent_notices / "sms"),
    ) as marketplace:
        page.set_viewport_size(VIEWPORTS["desktop"])
        page.goto(marketplace.url + "/mailbox/")
        texts = page.get_by_test_id("sms-text")
        expect(texts).to_have_count(2)
        expect(page.get_by_test_id("mail")).to_have_count(2)
        expect(texts.filter(has_text="[Guance]")).to_have_text(
            '[Guance] "Checkout (prod)" locks on 2026-12-14: instance released.'
        )
        expect(texts.filter(has_text="【观测云】")).to_have_text(
            "【观测云】高消费预警：工作空间「华东生产环境核心交易系统」的「日志类数据」日费用¥1,234.50，已超过阈值。"
        )
        expect(page.get_by_test_id("sms-to").first).to_have_text("+8613800138000")
        expect(page.get_by_test_id("sms-date").first).to_contain_text("（北京时间）")
        shot(page, "simulator-mailbox-sms-desktop")

        page.get_by_test_id("kind-sms").click()
        expect(page.get_by_test_id("mail")).to_have_count(0)
        expect(page.get_by_test_id("sms")).to_have_count(2)
        page.get_by_label(re.compile("收件人")).fill("138 0013 8000")
        page.get_by_role("button", name=re.compile("筛选")).click()
        expect(page.get_by_test_id("sms")).to_have_count(2)

        page.set_viewport_size(VIEWPORTS["phone"])
        page.goto(marketplace.url + "/mailbox/")
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS["phone"]["width"]
        shot(page, "simulator-mailbox-sms-phone")


@pytest.fixture
def signed_in(browser: Browser, live_server) -> Iterator:
    """The owner of two workspaces, signed in: a browser context per language and viewport."""
    # A transactional test empties the tables after it, the migration's price list too: load it again.
    price_lists.load(price_lists.read("cn-2023-04"), price_list_model=PriceList, price_item_model=PriceItem)
    first = owned_workspace(language="zh", name="演示工作空间 Demo workspace", prefix="a")
    owned_workspace(language="en", name="Checkout — production, East China (Hangzhou) region", prefix="b")
    pages = Pages(browser, live_server.url)
    yield functools.partial(pages.open, user=first.owner)
    pages.close()


@pytest.mark.django_db(transaction=True)
def test_the_owner_sets_and_clears_a_high_spend_alert(signed_in, live_server) -> None:
    page = signed_in()
    page.goto(f"{live_server.url}/billing/")
    page.get_by_test_id("spend-alerts-link").click()
    expect(page.get_by_role("heading", name="高消费预警")).to_be_visible()
    rows = page.get_by_test_id("spend-alert")
    expect(rows).to_have_count(2)
    first = rows.first
    expect(first.get_by_test_id("alert-state")).to_have_text("未开启")

    first.get_by_label("预警阈值（元）").fill("1.234")
    first.get_by_role("button", name="保存").click()
    expect(page.get_by_test_id("alert-error")).to_have_text("金额最多保留两位小数。")
    first = page.get_by_test_id("spend-alert").first
    first.get_by_label("预警阈值（元）").fill("500")
    first.get_by_role("button", name="保存").click()
    expect(page.locator(".flash-success")).to_have_text("已保存：任一计费项的日费用超过 ¥500.00 时提醒您。")
    expect(page.get_by_test_id("spend-alert").first.get_by_test_id("alert-state")).to_have_text(
        "已开启：超过 ¥500.00 时提醒"
    )
    shot(page, "spend-alerts-desktop-zh")

    english = signed_in(language="en", viewport="phone")
    english.goto(f"{live_server.url}/billing/alerts/")
    expect(english.get_by_role("heading", name="High-spend alert")).to_be_visible()
    assert english.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS["phone"]["width"]
    shot(english, "spend-alerts-phone-en")
    english.get_by_role("button", name="Turn off alert").click()
    expect(english.locator(".flash-success")).to_have_text("The workspace's high-spend alert is off.")
    expect(english.get_by_test_id("alert-state").first).to_have_text("Off")

    phone = signed_in(viewport="phone")
    phone.goto(f"{live_server.url}/billing/alerts/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS["phone"]["width"]
    shot(phone, "spend-alerts-phone-zh")
    desktop_en = signed_in(language="en")
    desktop_en.goto(f"{live_server.url}/billing/alerts/")
    shot(desktop_en, "spend-alerts-desktop-en")
