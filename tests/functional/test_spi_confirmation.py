"""An SPI expire, release or resume is confirmed with the marketplace before it changes anything (issue 10,
item 16). The marketplace here is the scripted one the test settings choose; the same journeys against the
simulator, through the official SDK, are in ``test_spi_replay_simulator.py``."""

from __future__ import annotations

import pytest

from kaitong.marketplace.aliyun.instances import Failure, LookupFailed
from kaitong.marketplace.domain import MarketStatus, MarketView
from kaitong.marketplace.models import InstanceEvent, MarketplaceInstance, SpiCall
from tests.support.marketplace import call_spi, create_params, marketplace  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

EXPIRE = {"action": "expiredInstance", "instanceId": "500001"}
RESUME = {"action": "resumeInstance", "instanceId": "500001", "productCode": "cmgj00053362", "skuId": "sku"}
RELEASE = {"action": "releaseInstance", "instanceId": "500001", "isRefund": "false"}


def state() -> str:
    return MarketplaceInstance.objects.get(instance_id="500001").state


def last_call() -> SpiCall:
    return SpiCall.objects.order_by("-id").first()


@pytest.fixture
def opened(client, marketplace):  # noqa: F811
    call_spi(client, create_params("500001"))
    return marketplace


class TestConfirmed:
    def test_an_expire_the_marketplace_confirms_is_applied(self, client, opened):
        opened.says("500001", MarketView(MarketStatus.EXPIRED))
        assert call_spi(client, EXPIRE) == {"success": True}
        assert state() == "expired" and last_call().verdict == "applied"
        event = InstanceEvent.objects.get(action="expiredInstance")
        assert event.detail["marketplace"] == "EXPIRED"
        assert MarketplaceInstance.objects.get(instance_id="500001").unreconciled_since is None

    def test_a_release_of_an_instance_the_marketplace_shows_expired_is_applied(self, client, opened):
        opened.says("500001", MarketView(MarketStatus.EXPIRED))
        assert call_spi(client, RELEASE) == {"success": True}
        assert state() == "released"


class TestRuledOut:
    def test_a_replayed_expire_of_an_instance_in_service_changes_nothing(self, client, opened):
        opened.says("500001", MarketView(MarketStatus.OPENED))
        # The same answer a genuine call gets, so the marketplace (or whoever replays it) stops there.
        assert call_spi(client, EXPIRE) == {"success": True}
        assert state() == "active"
        call = last_call()
        assert call.verdict == "contradicted"
        assert call.message == "stale: the marketplace says the instance is OPENED; nothing changed"
        assert not InstanceEvent.objects.filter(action="expiredInstance").exists()

    def test_a_replayed_resume_after_the_marketplace_froze_it_again_changes_nothing(self, client, opened):
        opened.says("500001", MarketView(MarketStatus.EXPIRED))
        call_spi(client, EXPIRE)
        assert state() == "expired"
        assert call_spi(client, RESUME) == {"success": True}
        assert state() == "expired" and last_call().verdict == "contradicted"

    def test_a_release_of_an_instance_in_service_changes_nothing(self, client, opened):
        opened.says("500001", MarketView(MarketStatus.OPENING))
        assert call_spi(client, RELEASE) == {"success": True}
        assert state() == "active" and last_call().verdict == "contradicted"


class TestCannotBeAsked:
    @pytest.mark.parametrize("failure", [Failure.UNREACHABLE, Failure.THROTTLED, Failure.UNKNOWN_INSTANCE])
    def test_the_call_is_applied_and_the_instance_flagged(self, client, opened, failure):
        opened.says("500001", LookupFailed(failure, "read timed out"))
        assert call_spi(client, EXPIRE) == {"success": True}
        instance = MarketplaceInstance.objects.get(instance_id="500001")
        assert instance.state == "expired" and instance.unreconciled_since is not None
        assert instance.reconcile_note == f"expiredInstance applied unconfirmed ({failure.value}: read timed out)"
        event = InstanceEvent.objects.get(action="expiredInstance")
        assert event.detail["unconfirmed"] == f"{failure.value}: read timed out"

    def test_the_flag_shows_in_the_operator_console(self, client, opened, admin_client):
        opened.says("500001", LookupFailed(Failure.UNREACHABLE, "connection refused"))
        call_spi(client, EXPIRE)
        call_spi(client, create_params("500002"))
        page = admin_client.get("/ops/marketplace/marketplaceinstance/?reconcile=flagged")
        assert page.status_code == 200
        assert "500001" in page.text and "500002" not in page.text
        assert "expiredInstance applied unconfirmed" in page.text


class TestNothingToAsk:
    def test_a_call_that_changes_nothing_asks_nothing(self, client, opened):
        opened.says("500001", MarketView(MarketStatus.EXPIRED))
        call_spi(client, EXPIRE)
        assert opened.asked == ["500001"]
        call_spi(client, EXPIRE)  # the marketplace's retry of the same call: already expired
        call_spi(client, {"action": "expiredInstance", "instanceId": "404"})  # unknown here
        assert opened.asked == ["500001"]

    def test_calls_tied_to_an_order_ask_nothing(self, client, opened):
        call_spi(
            client,
            {"action": "renewInstance", "instanceId": "500001", "orderId": "9", "expiredOn": "2030-01-01 00:00:00"},
        )
        call_spi(client, {"action": "upgradeInstance", "instanceId": "500001", "skuId": "pro", "orderId": "10"})
        assert opened.asked == []
        assert MarketplaceInstance.objects.get(instance_id="500001").sku_id == "pro"


def test_a_call_that_finds_the_instance_changed_since_its_check_is_answered_call_again(client, opened, monkeypatch):
    from kaitong.marketplace import actions

    opened.says("500001", MarketView(MarketStatus.EXPIRED))
    call_spi(client, EXPIRE)
    checked = actions._confirm

    def resumed_meanwhile(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = checked(*args, **kwargs)  # already expired: a repeated expire asks nothing
        MarketplaceInstance.objects.filter(instance_id="500001").update(state="active")  # a resume lands
        return result

    monkeypatch.setattr(actions, "_confirm", resumed_meanwhile)
    body = call_spi(client, EXPIRE)
    assert body == {"success": False, "message": "the instance changed while this call was checked; call again"}
    assert state() == "active" and last_call().verdict == "refused"
    monkeypatch.undo()
    # The marketplace's retry is asked about, as it should have been.
    opened.says("500001", MarketView(MarketStatus.OPENED))
    assert call_spi(client, EXPIRE) == {"success": True}
    assert state() == "active" and last_call().verdict == "contradicted"
