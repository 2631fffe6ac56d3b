"""The simulated marketplace console, page by page, in-process (the simulator's own URLconf)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from kaitong_sim import actions
from kaitong_sim.models import Account, Delivery, Instance

pytestmark = [pytest.mark.django_db, pytest.mark.urls("kaitong_sim.site_urls")]


@pytest.fixture
def buyer_client() -> Client:
    actions.do_create_account(name="张三", uid="1234567890123456", is_ram=False, main_uid="", now=timezone.now())
    client = Client()
    response = client.post("/signin/", {"uid": "1234567890123456", "next": "/console/"})
    assert response.status_code == 302 and response["Location"] == "/console/"
    return client


def opened_instance(client: Client) -> Instance:
    client.post("/buy/", {"agree": "on"})
    instance = Instance.objects.get()
    Instance.objects.filter(id=instance.id).update(
        status="opened", vendor_instance_id=instance.instance_id, auth_url="http://vendor.test/marketplace/aliyun/sso"
    )
    return Instance.objects.get()


class TestEveryPageIsMarkedAsASimulator:
    @pytest.mark.parametrize("path", ["/", "/signin/", "/ops/", "/mailbox/"])
    def test_anonymous_pages(self, path):
        response = Client().get(path)
        assert response.status_code == 200
        assert "模拟器" in response.content.decode() and "SIMULATOR" in response.content.decode()

    @pytest.mark.parametrize("path", ["/buy/", "/console/", "/console/bill/", "/buy/submitted/"])
    def test_buyer_pages(self, buyer_client, path):
        response = buyer_client.get(path)
        assert response.status_code == 200 and "模拟器" in response.content.decode()


class TestPurchase:
    def test_open_now_asks_to_sign_in_first(self):
        response = Client().get("/buy/")
        assert response.status_code == 302 and response["Location"].startswith("/signin/?next=")

    def test_create_an_account_and_come_back(self):
        client = Client()
        response = client.post("/signin/", {"create": "1", "name": "李四", "kind": "main", "next": "/buy/"})
        assert response.status_code == 302 and response["Location"] == "/buy/"
        account = Account.objects.get()
        assert len(account.uid) == 16 and not account.is_ram
        assert "开通按量服务" in client.get("/buy/").content.decode()

    def test_ram_user_needs_an_existing_main_account(self):
        response = Client().post("/signin/", {"create": "1", "name": "dev", "kind": "ram", "main_uid": "42424242"})
        assert response.status_code == 400 and "RAM" in response.content.decode()

    def test_agreement_must_be_ticked(self, buyer_client):
        response = buyer_client.post("/buy/", {})
        assert response.status_code == 400 and "同意" in response.content.decode()
        assert not Instance.objects.exists()

    def test_open_submitted_then_purchased_services(self, buyer_client):
        response = buyer_client.post("/buy/", {"agree": "on"})
        instance = Instance.objects.get()
        assert response.status_code == 302 and instance.instance_id in response["Location"]
        page = buyer_client.get(response["Location"]).content.decode()
        assert "开通申请已提交" in page and "确定" in page
        console = buyer_client.get("/console/").content.decode()
        assert instance.instance_id in console and "开通中" in console
        assert Delivery.objects.get().action == "createInstance"


class TestPurchasedServices:
    def test_login_free_confirm_then_redirect_with_signed_verify(self, buyer_client):
        instance = opened_instance(buyer_client)
        page = buyer_client.get(f"/console/{instance.instance_id}/sso/").content.decode()
        assert "免登" in page and "确定" in page
        response = buyer_client.post(f"/console/{instance.instance_id}/sso/")
        assert response.status_code == 302
        location = response["Location"]
        assert location.startswith("http://vendor.test/marketplace/aliyun/sso?")
        assert "action=verify" in location and "token=" in location and f"instanceId={instance.instance_id}" in location

    def test_close_confirm_then_release(self, buyer_client):
        instance = opened_instance(buyer_client)
        assert "业务关闭" in buyer_client.get(f"/console/{instance.instance_id}/close/").content.decode()
        response = buyer_client.post(f"/console/{instance.instance_id}/close/")
        assert response.status_code == 302
        assert Instance.objects.get().status == "closed"
        assert Delivery.objects.filter(action="releaseInstance").count() == 1
        assert "已关闭" in buyer_client.get("/console/").content.decode()

    def test_operator_events(self, buyer_client):
        instance = opened_instance(buyer_client)
        for event in ("expire", "renew", "upgrade"):
            response = buyer_client.post(f"/console/{instance.instance_id}/event/", {"event": event, "fault": ""})
            assert response.status_code == 302
        assert [d.action for d in Delivery.objects.order_by("id")][1:] == [
            "expiredInstance",
            "renewInstance",
            "upgradeInstance",
        ]
        response = buyer_client.post(f"/console/{instance.instance_id}/event/", {"event": "explode"})
        assert response.status_code == 409

    def test_another_buyers_instance_is_not_found(self, buyer_client):
        instance = opened_instance(buyer_client)
        other = Client()
        other.post("/signin/", {"create": "1", "name": "other", "kind": "main"})
        assert other.get(f"/console/{instance.instance_id}/sso/").status_code == 404
        assert other.post(f"/console/{instance.instance_id}/close/").status_code == 404
        assert Instance.objects.get().status == "opened"

    def test_ops_page_shows_attempts(self, buyer_client):
        buyer_client.post("/buy/", {"agree": "on"})
        actions.do_deliver_due(
            clock=timezone.now,
            transport=lambda url, params, timeout: (200, "<html>garbage</html>"),
            config=actions.DeliveryConfig("http://x/spi", "k" * 16, 10, 120, 5),
        )
        page = Client().get("/ops/").content.decode()
        assert "createInstance" in page and "the answer is not JSON" in page


class TestMailbox:
    def test_reads_stored_messages(self, settings, tmp_path: Path):
        settings.SIMULATOR = settings.SIMULATOR.model_copy(update={"mailbox_dir": str(tmp_path)})
        (tmp_path / "0001.eml").write_bytes(
            "From: no-reply@kaitong.local\r\nTo: a@example.com\r\nSubject: =?utf-8?b?6aqM6K+B56CB?=\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n您的验证码是 123456\r\n".encode()
        )
        page = Client().get("/mailbox/?to=a@example.com").content.decode()
        assert "验证码" in page and "123456" in page
        assert "123456" not in Client().get("/mailbox/?to=b@example.com").content.decode()


class TestBill:
    def test_the_bill_shows_what_the_vendor_pushed(self, buyer_client, settings):
        import json
        import time
        import uuid
        from datetime import UTC, datetime
        from urllib.parse import urlencode

        from kaitong_sim.domain import v1_signature

        simulator = settings.SIMULATOR
        instance = opened_instance(buyer_client)
        end = int(time.time()) // 3600 * 3600
        metering = [
            {
                "InstanceId": instance.instance_id,
                "StartTime": str(end - 3600),
                "EndTime": str(end),
                "Entities": [{"Key": "Frequency", "Value": "12345", "meteringAssit": simulator.metering_assit}],
            }
        ]
        query = {
            "AccessKeyId": simulator.access_key_id,
            "Action": "PushMeteringData",
            "Format": "json",
            "Metering": json.dumps(metering),
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2015-11-01",
        }
        query["Signature"] = v1_signature(secret=simulator.access_key_secret, method="POST", params=query)
        response = Client().post("/?" + urlencode(query))
        assert response.status_code == 200 and response.json()["Success"] is True
        page = buyer_client.get("/console/bill/").content.decode()
        assert "¥123.45" in page and instance.instance_id in page and "Frequency=12345" in page
        # Someone else's bill does not show it.
        other = Client()
        other.post("/signin/", {"create": "1", "name": "other", "kind": "main"})
        assert "¥0.00" in other.get("/console/bill/").content.decode()


class TestRealNameVerification:
    def test_an_unverified_account_cannot_buy(self):
        client = Client()
        client.post("/signin/", {"create": "1", "name": "新用户", "kind": "main", "unverified": "on"})
        response = client.post("/buy/", {"agree": "on"})
        assert response.status_code == 400 and "实名认证" in response.content.decode()
        assert not Instance.objects.exists()

    def test_a_ram_user_of_an_unverified_main_account_cannot_buy(self):
        client = Client()
        client.post(
            "/signin/", {"create": "1", "name": "boss", "kind": "main", "new_uid": "5555555", "unverified": "on"}
        )
        client.post("/signout/")
        client.post("/signin/", {"create": "1", "name": "dev", "kind": "ram", "main_uid": "5555555"})
        assert client.post("/buy/", {"agree": "on"}).status_code == 400
        assert not Instance.objects.exists()
