"""Operators see instances and the raw SPI inbox in the admin, read-only."""

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
