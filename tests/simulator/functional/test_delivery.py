"""SPI delivery: the simulator calls the vendor's real SPI endpoint (same test database), retries, records.

The transport is the Django test client against ``/marketplace/aliyun/spi``, so the vendor side that
answers is the real one; faults are transports that fail the way a network or a broken vendor does.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from kaitong.marketplace.aliyun.spi import BEIJING
from kaitong.marketplace.aliyun.token import token_is_valid
from kaitong.marketplace.models import InstanceEvent, MarketplaceInstance
from kaitong_sim import actions, queries
from kaitong_sim.actions import DeliveryConfig, TransportError
from kaitong_sim.models import Attempt, Delivery, Instance
from tests.support.marketplace import SPI_PATH, isv_key

pytestmark = pytest.mark.django_db


def config(**overrides) -> DeliveryConfig:
    values = {
        "spi_url": "http://testserver" + SPI_PATH,
        "isv_key": isv_key(),
        "retry_seconds": 10,
        "max_attempts": 120,
        "timeout_seconds": 5,
    }
    values.update(overrides)
    return DeliveryConfig(**values)


def vendor(url: str, params: dict[str, str], timeout: float) -> tuple[int, str]:
    """The real vendor endpoint, reached through the test client (as a signed GET)."""
    response = Client().get(urlsplit(url).path, params)
    return response.status_code, response.content.decode()


def down(url: str, params: dict[str, str], timeout: float) -> tuple[int, str]:
    raise TransportError("cannot reach the vendor (ConnectError: [Errno 111] Connection refused)")


def buyer() -> str:
    return actions.do_create_account(
        name="buyer", uid="1234567890123456", is_ram=False, main_uid="", now=timezone.now()
    ).uid


def deliver_all(now=None, transport=vendor, **overrides) -> int:
    """One pass of the delivery loop with the clock stopped at ``now``."""
    moment = now or timezone.now()
    return actions.do_deliver_due(clock=lambda: moment, transport=transport, config=config(**overrides))


class TestCreateInstance:
    def test_purchase_reaches_the_vendor_and_opens_the_instance(self):
        instance = actions.do_purchase(account_uid=buyer(), now=timezone.now())
        assert Instance.objects.get().status == "opening"
        assert deliver_all() == 1
        vendor_side = MarketplaceInstance.objects.get(instance_id=instance.instance_id)
        assert vendor_side.ali_uid == "1234567890123456" and vendor_side.state == "active"
        mine = Instance.objects.get()
        assert mine.status == "opened" and mine.vendor_instance_id == instance.instance_id
        assert mine.auth_url.endswith("/marketplace/aliyun/sso")
        [attempt] = Attempt.objects.all()
        assert attempt.ok and attempt.http_status == 200 and attempt.number == 1

    def test_trial_carries_expiry_in_beijing_time(self):
        actions.do_purchase(account_uid=buyer(), now=timezone.now(), trial=True)
        deliver_all()
        vendor_side = MarketplaceInstance.objects.get()
        assert vendor_side.trial is True and vendor_side.expires_at > timezone.now() + timedelta(days=13)

    def test_a_ram_user_buys_for_its_main_account(self):
        main = buyer()
        ram = actions.do_create_account(name="dev", uid="7777777", is_ram=True, main_uid=main, now=timezone.now())
        actions.do_purchase(account_uid=ram.uid, now=timezone.now())
        deliver_all()
        assert MarketplaceInstance.objects.get().ali_uid == main


class TestFaults:
    def test_vendor_down_is_retried_and_nothing_is_lost(self):
        now = timezone.now()
        actions.do_purchase(account_uid=buyer(), now=now)
        deliver_all(now, transport=down)
        delivery = Delivery.objects.get()
        assert delivery.state == "pending" and delivery.attempts == 1
        assert "Connection refused" in delivery.last_error
        assert delivery.next_attempt_at == now + timedelta(seconds=10)
        assert deliver_all(now + timedelta(seconds=5), transport=down) == 0  # not due yet
        deliver_all(now + timedelta(seconds=10), transport=down)
        deliver_all(now + timedelta(seconds=20))
        delivery.refresh_from_db()
        assert delivery.state == "delivered" and delivery.attempts == 3
        assert MarketplaceInstance.objects.count() == 1
        assert [a.ok for a in Attempt.objects.order_by("id")] == [False, False, True]

    @pytest.mark.parametrize(
        "status,body,reason",
        [
            (200, '{"instanceId":"0"}', "instanceId is 0"),
            (200, '{"instanceId":0,"message":"provisioning"}', "provisioning"),
            (200, "<html>hello</html>", "not JSON"),
            (502, "Bad gateway", "HTTP 502"),
            (200, '["ok"]', "not a JSON object"),
        ],
    )
    def test_bad_answers_are_retried_with_the_reason_shown(self, status, body, reason):
        now = timezone.now()
        actions.do_purchase(account_uid=buyer(), now=now)
        deliver_all(now, transport=lambda url, params, timeout: (status, body))
        [row] = queries.deliveries()
        assert row["state"] == "pending" and reason in row["last_error"]
        assert row["attempt_rows"][0]["response"] == body
        assert Instance.objects.get().status == "opening"
        deliver_all(now + timedelta(seconds=10))
        assert Instance.objects.get().status == "opened"

    def test_gives_up_after_max_attempts_then_reset(self):
        now = timezone.now()
        actions.do_purchase(account_uid=buyer(), now=now)
        for step in range(3):
            deliver_all(now + timedelta(seconds=step), transport=down, max_attempts=3, retry_seconds=1)
        delivery = Delivery.objects.get()
        assert delivery.state == "gave_up" and delivery.attempts == 3
        assert deliver_all(now + timedelta(hours=1), transport=down, max_attempts=3) == 0
        actions.do_reset_delivery(delivery_id=delivery.id, now=now + timedelta(hours=1))
        deliver_all(now + timedelta(hours=1), max_attempts=3)
        delivery.refresh_from_db()
        assert delivery.state == "delivered"

    def test_string_true_is_success(self):
        now = timezone.now()
        instance = actions.do_purchase(account_uid=buyer(), now=now)
        deliver_all(now)
        actions.do_trigger_event(instance_id=instance.instance_id, event="expire", now=now)
        deliver_all(now, transport=lambda url, params, timeout: (200, '{"success":"true"}'))
        assert Delivery.objects.get(action="expiredInstance").state == "delivered"

    def test_timeout_after_the_vendor_committed_is_retried_harmlessly(self):
        now = timezone.now()
        actions.do_purchase(account_uid=buyer(), now=now, fault="timeout_after_commit")
        deliver_all(now)
        delivery = Delivery.objects.get()
        assert delivery.state == "pending" and "dropped" in delivery.last_error
        assert MarketplaceInstance.objects.count() == 1  # the vendor did commit
        deliver_all(now + timedelta(seconds=10))
        delivery.refresh_from_db()
        assert delivery.state == "delivered" and delivery.attempts == 2
        assert MarketplaceInstance.objects.count() == 1
        assert InstanceEvent.objects.filter(action="createInstance").count() == 1

    def test_duplicate_delivery_changes_nothing_twice(self):
        now = timezone.now()
        instance = actions.do_purchase(account_uid=buyer(), now=now)
        deliver_all(now)
        actions.do_trigger_event(instance_id=instance.instance_id, event="upgrade", now=now, fault="duplicate")
        deliver_all(now)
        delivery = Delivery.objects.get(action="upgradeInstance")
        assert delivery.state == "delivered"
        assert [a.reason.split(":")[0] for a in delivery.attempt_rows.order_by("id")] == [
            "ok",
            "duplicate delivery (fault hook)",
        ]
        assert InstanceEvent.objects.filter(action="upgradeInstance").count() == 1
        assert MarketplaceInstance.objects.get().sku_id == "cmgj00053362-postpay-pro"

    def test_reordered_expire_after_renew_is_ignored_by_the_vendor(self):
        now = timezone.now()
        instance = actions.do_purchase(account_uid=buyer(), now=now)
        deliver_all(now)
        # The overdue notice is held back and arrives after the renewal that followed it.
        actions.do_trigger_event(instance_id=instance.instance_id, event="expire", now=now, delay=30)
        actions.do_trigger_event(instance_id=instance.instance_id, event="renew", now=now)
        deliver_all(now)
        assert MarketplaceInstance.objects.get().state == "active"
        deliver_all(now + timedelta(seconds=30))
        assert Delivery.objects.get(action="expiredInstance").state == "delivered"
        assert MarketplaceInstance.objects.get().state == "active"


class TestLifecycleEvents:
    def test_overdue_paid_upgrade_close(self):
        now = timezone.now()
        instance = actions.do_purchase(account_uid=buyer(), now=now)
        deliver_all(now)
        actions.do_trigger_event(instance_id=instance.instance_id, event="expire", now=now)
        deliver_all(now)
        assert (Instance.objects.get().status, MarketplaceInstance.objects.get().state) == ("expired", "expired")
        actions.do_trigger_event(instance_id=instance.instance_id, event="renew", now=now)
        deliver_all(now)
        assert (Instance.objects.get().status, MarketplaceInstance.objects.get().state) == ("opened", "active")
        actions.do_trigger_event(
            instance_id=instance.instance_id, event="release", now=now, owner_uid="1234567890123456"
        )
        deliver_all(now)
        assert (Instance.objects.get().status, MarketplaceInstance.objects.get().state) == ("closed", "released")
        with pytest.raises(actions.SimulatorError):
            actions.do_trigger_event(instance_id=instance.instance_id, event="renew", now=now)
        assert all(d.state == "delivered" for d in Delivery.objects.all())

    def test_someone_elses_instance_is_not_yours(self):
        instance = actions.do_purchase(account_uid=buyer(), now=timezone.now())
        with pytest.raises(actions.SimulatorError):
            actions.do_trigger_event(
                instance_id=instance.instance_id, event="release", now=timezone.now(), owner_uid="1"
            )


class TestLoginFreeLink:
    def test_signed_verify_query(self):
        now = timezone.now()
        instance = actions.do_purchase(account_uid=buyer(), now=now)
        with pytest.raises(actions.SimulatorError):  # still 开通中
            actions.login_free_url(
                instance_id=instance.instance_id, owner_uid="1234567890123456", isv_key=isv_key(), now=now
            )
        deliver_all(now)
        url = actions.login_free_url(
            instance_id=instance.instance_id, owner_uid="1234567890123456", isv_key=isv_key(), now=now
        )
        parts = urlsplit(url)
        assert parts.path == "/marketplace/aliyun/sso"
        params = dict(parse_qsl(parts.query))
        assert params["action"] == "verify" and params["instanceId"] == instance.instance_id
        assert params["timeStamp"] == now.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
        assert token_is_valid(params, isv_key())
        assert not token_is_valid(params, "another-key-entirely")


class TestMarketplaceClock:
    def test_a_trial_expires_at_its_end(self):
        # Bought 15 days ago, so that the vendor (which reads the real clock) also sees the trial over.
        now = timezone.now() - timedelta(days=15)
        instance = actions.do_purchase(account_uid=buyer(), now=now, trial=True)
        deliver_all(now)
        assert actions.do_expire_due(now=now + timedelta(days=13)) == 0
        later = timezone.now()
        assert actions.do_expire_due(now=later) == 1
        assert actions.do_expire_due(now=later) == 0  # already expired: nothing twice
        deliver_all(later)
        assert Instance.objects.get(instance_id=instance.instance_id).status == "expired"
        assert MarketplaceInstance.objects.get().state == "expired"

    def test_pay_as_you_go_has_no_end(self):
        now = timezone.now()
        actions.do_purchase(account_uid=buyer(), now=now)
        deliver_all(now)
        assert actions.do_expire_due(now=now + timedelta(days=3650)) == 0


class LoopKilled(Exception):
    """The delivery loop's process dies in the middle of sending (as kill -9 would leave it)."""


def killed(url: str, params: dict[str, str], timeout: float) -> tuple[int, str]:
    raise LoopKilled


class TestLease:
    def test_a_killed_loop_holds_its_delivery_only_until_its_lease_runs_out(self):
        now = timezone.now()
        actions.do_purchase(account_uid=buyer(), now=now)
        with pytest.raises(LoopKilled):
            deliver_all(now, transport=killed)
        lease = actions.delivery_lease(config())
        assert deliver_all(now + timedelta(seconds=1)) == 0  # still leased: nobody else sends it
        assert deliver_all(now + lease - timedelta(seconds=1)) == 0
        assert MarketplaceInstance.objects.count() == 0
        assert deliver_all(now + lease + timedelta(seconds=1)) == 1
        delivery = Delivery.objects.get()
        assert delivery.state == "delivered" and delivery.attempts == 1
        assert delivery.claimed_until is None and delivery.claim_token == ""
        assert MarketplaceInstance.objects.count() == 1

    def test_a_loop_that_outlived_its_lease_leaves_the_result_to_the_loop_that_took_over(self):
        now = timezone.now()
        actions.do_purchase(account_uid=buyer(), now=now)
        later = now + actions.delivery_lease(config()) + timedelta(seconds=1)

        def stalled(url: str, params: dict[str, str], timeout: float) -> tuple[int, str]:
            # While the first loop waits on a vendor that never answers, its lease runs out and a
            # second loop takes the delivery over and delivers it.
            assert deliver_all(later) == 1
            raise TransportError("timed out after 5 s")

        assert deliver_all(now, transport=stalled) == 1
        delivery = Delivery.objects.get()
        assert delivery.state == "delivered" and delivery.attempts == 1 and delivery.last_error == ""
        assert [a.ok for a in Attempt.objects.all()] == [True]

    def test_a_finished_attempt_frees_the_delivery_for_its_retry(self):
        now = timezone.now()
        actions.do_purchase(account_uid=buyer(), now=now)
        deliver_all(now, transport=down)
        delivery = Delivery.objects.get()
        assert delivery.claimed_until is None and delivery.claim_token == ""
        assert deliver_all(now + timedelta(seconds=10)) == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_loops_at_once_never_send_the_same_delivery():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent writers (the process test covers SQLite)")
    now = timezone.now()
    uid = buyer()
    for _ in range(12):
        actions.do_purchase(account_uid=uid, now=now)
    sent: list[str] = []
    start = threading.Barrier(2)

    def slow_vendor(url: str, params: dict[str, str], timeout: float) -> tuple[int, str]:
        sent.append(params["orderBizId"])
        time.sleep(0.05)
        return 200, json.dumps({"instanceId": params["orderBizId"]})

    def loop() -> None:
        try:
            start.wait()
            deliver_all(now, transport=slow_vendor)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=loop) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sent) == sorted(Instance.objects.values_list("instance_id", flat=True))
    assert Delivery.objects.filter(state="delivered", attempts=1).count() == 12
