"""账户管理 > 云账号 (issue 12): the billing-center account's cloud accounts, masked, with their state,
expiry in Beijing time and the workspaces each settles, and the history of settlement changes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from kaitong.marketplace.models import MarketplaceInstance
from kaitong.workspaces import domain as rules
from kaitong.workspaces.management import do_move_settlement
from tests.support import html
from tests.support.billing import owner, workspaces
from tests.support.marketplace import call_spi

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def account(client):
    user = owner()
    first, second = workspaces(2, user=user, instance_ids=["720001", "720002"], prefix="7")
    (own,) = workspaces(1, alibaba=False, user=user, prefix="8")
    # 720001 runs until 2027-01-01 00:00 Beijing (16:00 UTC the day before).
    MarketplaceInstance.objects.filter(instance_id="720001").update(expires_at=datetime(2026, 12, 31, 16, tzinfo=UTC))
    call_spi(client, {"action": "expiredInstance", "instanceId": "720002"})
    do_move_settlement(
        workspace_id=second.pk, to_method=rules.Method.BILLING_ACCOUNT, acting="test", now=timezone.now()
    )
    workspaces(1, user=owner("someone"), instance_ids=["720009"], prefix="6")  # another account's
    client.force_login(user)
    return first, second, own


def test_each_cloud_account_masked_with_state_expiry_and_workspaces(client, account):
    first, _second, _own = account
    page = client.get("/billing/cloud-accounts/").content.decode()
    rows = html.table(page, "cloud-accounts")
    assert rows[0] == ["阿里云账号 ID", "实例 ID", "状态", "到期时间", "结算的工作空间"]
    assert sorted(rows[1:]) == [
        ["1234****3456", "720001", "正常", "2027-01-01 00:00", first.name],
        ["1234****3456", "720002", "已过期", "按量付费，无到期时间", "无"],
    ]
    assert "1234567890123456" not in page and "720009" not in page
    assert html.texts(page, "billing-nav") == ["账单 工作空间管理 云账号 高消费预警"]


def test_the_history_of_settlement_changes_newest_first(client, account):
    first, second, own = account
    history = html.table(client.get("/billing/cloud-accounts/").content.decode(), "settlement-history")
    assert history[0] == ["时间", "工作空间", "原结算方式", "新结算方式", "原因"]
    assert history[1][1:] == [second.name, "阿里云账号结算 720002", "费用中心账号结算", "更改结算方式"]
    assert sorted(row[1] for row in history[2:]) == sorted([first.name, second.name, own.name])
    assert {row[4] for row in history[2:]} == {"创建工作空间（运营或演示）"}


def test_in_english(client, settings, account):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get("/billing/cloud-accounts/").content.decode()
    assert html.table(page, "cloud-accounts")[0] == [
        "Alibaba Cloud account ID",
        "Instance ID",
        "State",
        "Expires at",
        "Workspaces it settles",
    ]
    for testid in ("cloud-accounts", "settlement-history", "billing-nav"):
        assert CJK.search(html.text(page, testid).replace("ws-", "")) is None, testid


def test_an_account_without_cloud_accounts(client):
    workspaces(1, alibaba=False, user=owner("plain"), prefix="5")
    client.force_login(owner("plain"))
    page = client.get("/billing/cloud-accounts/").content.decode()
    assert "还没有登记云账号" in page
