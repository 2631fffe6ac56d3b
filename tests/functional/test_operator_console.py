"""Operators see instances and the raw SPI inbox in the admin, read-only."""

import html

import pytest

from tests.support import accounts
from tests.support.marketplace import call_spi, create_params

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():  # type: ignore[no-untyped-def]
    return accounts.operator()


def test_instances_and_inbox_are_listed_and_filterable(client, operator):
    call_spi(client, create_params("500001", trial="true"))
    call_spi(client, {"action": "expiredInstance", "instanceId": "500001"})
    client.force_login(operator)
    page = client.get("/ops/marketplace/marketplaceinstance/?state__exact=expired")
    assert page.status_code == 200 and "500001" in page.text
    assert "500001" not in client.get("/ops/marketplace/marketplaceinstance/?state__exact=active").text
    inbox = client.get("/ops/marketplace/spicall/?verdict__exact=applied")
    assert inbox.status_code == 200 and inbox.text.count("500001") >= 2


def test_instances_cannot_be_edited_or_added_by_hand(client, operator):
    call_spi(client, create_params("500002"))
    client.force_login(operator)
    assert client.get("/ops/marketplace/marketplaceinstance/add/").status_code == 403
    from kaitong.marketplace.models import MarketplaceInstance

    pk = MarketplaceInstance.objects.get(instance_id="500002").pk
    response = client.post(f"/ops/marketplace/marketplaceinstance/{pk}/change/", {"state": "released"})
    assert response.status_code == 403
    assert MarketplaceInstance.objects.get(pk=pk).state == "active"


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/ops/marketplace/spicall/")
    assert response.status_code == 302 and "/ops/login/" in response["Location"]


@pytest.mark.parametrize(
    ("language", "done", "refused"),
    [
        ("zh-hans", "已更新 1 条记录。", "的状态是「待推送」，不能这样处理。"),
        ("en", "1 record(s) updated.", 'is "Pending": this cannot be done to it.'),
    ],
)
def test_ledger_repair_speaks_the_operators_language(client, operator, language, done, refused):
    """The ledger's repair actions answer in Chinese, or in English for an operator who chose it: a record
    the transition table refuses says why, the others are updated."""
    from kaitong.billing.models import MeteringRecord
    from tests.support.billing import ledger_records

    pending, rejected = ledger_records(2)
    MeteringRecord.objects.filter(pk=rejected.pk).update(state="rejected")
    client.force_login(operator)
    client.cookies["django_language"] = language
    page = client.post(
        "/ops/billing/meteringrecord/",
        {"action": "retry_rejected", "_selected_action": [pending.pk, rejected.pk]},
        follow=True,
    )
    text = html.unescape(page.content.decode())
    assert done in text
    assert refused in text
    assert MeteringRecord.objects.get(pk=rejected.pk).state == "pending"


def test_calls_refused_before_authentication_are_shown_as_a_read_only_tally(client, operator):
    from kaitong.marketplace.models import UnauthenticatedCallTally

    for _ in range(3):
        client.get("/marketplace/aliyun/spi?action=createInstance&orderBizId=1", REMOTE_ADDR="203.0.113.7")
    client.force_login(operator)
    page = client.get("/ops/marketplace/unauthenticatedcalltally/")
    assert page.status_code == 200
    text = html.unescape(page.content.decode())
    assert "203.0.113.7" in text and "missing token" in text and "未通过验证的 SPI 调用" in text
    row = UnauthenticatedCallTally.objects.get()
    assert row.count == 3
    assert client.get("/ops/marketplace/unauthenticatedcalltally/add/").status_code == 403
    page_of_row = f"/ops/marketplace/unauthenticatedcalltally/{row.pk}"
    assert client.post(f"{page_of_row}/change/", {"count": "0"}).status_code == 403
    assert client.post(f"{page_of_row}/delete/", {"post": "yes"}).status_code == 403
    assert UnauthenticatedCallTally.objects.get().count == 3
