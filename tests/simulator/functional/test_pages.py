"""The simulated marketplace console, page by page, in-process (the simulator's own URLconf)."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

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


def opened_instance(client: Client, *, trial: bool = False) -> Instance:
    client.post("/buy/", {"agree": "on", **({"trial": "1"} if trial else {})})
    instance = Instance.objects.latest("id")
    Instance.objects.filter(id=instance.id).update(
        status="opened", vendor_instance_id=instance.instance_id, auth_url="http://vendor.test/marketplace/aliyun/sso"
    )
    return Instance.objects.get(id=instance.id)


def vendor_answers(instance: Instance) -> None:
    """Deliver the pending createInstance to a vendor that accepts it, as the delivery loop does."""
    actions.do_deliver_due(
        clock=timezone.now,
        transport=lambda url, params, timeout: (
            200,
            json.dumps({"instanceId": instance.instance_id, "appInfo": {"authUrl": "http://vendor.test/sso"}}),
        ),
        config=actions.DeliveryConfig("http://vendor.test/spi", "k" * 16, 10, 120, 5),
    )


def push_usage(settings, instance: Instance, units: int):  # type: ignore[no-untyped-def]
    """The vendor's PushMeteringData for the last hour, signed as the SDK signs it (v1)."""
    from kaitong_sim.domain import v1_signature

    simulator = settings.SIMULATOR
    end = int(time.time()) // 3600 * 3600
    metering = [
        {
            "InstanceId": instance.instance_id,
            "StartTime": str(end - 3600),
            "EndTime": str(end),
            "Entities": [{"Key": "Frequency", "Value": str(units), "meteringAssit": simulator.metering_assit}],
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


def billing_terms(response) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r'data-testid="billing-terms">(.*?)</p>', response.content.decode(), re.S)
    assert found, "the open dialog states no billing terms"
    return found.group(1)


class TestProductPage:
    def test_open_now_is_the_english_of_its_button_not_a_label_beside_the_trial(self):
        page = Client().get("/").content.decode()
        assert page.count("Open now") == 1
        assert re.search(r'data-testid="open-now"[^>]*>立即开通<span class="en">Open now</span></a>', page)

    def test_the_trial_dialog_says_a_trial_is_not_billed(self, buyer_client):
        trial = billing_terms(buyer_client.get("/buy/?trial=1"))
        assert "试用期 14 天，期间的用量不收费" in trial and "not charged" in trial
        assert "计费" not in trial and "billed" not in trial
        paid = billing_terms(buyer_client.get("/buy/"))
        assert "按实际用量计费" in paid and "billed daily" in paid


class TestPurchasedServicesRefreshThemselves:
    """已购买的服务 shows 开通中 until the vendor answers createInstance; its script fetches the rows alone
    (``/console/rows/``) until nothing is 开通中, so 已开通 appears without a reload."""

    def test_the_page_names_its_rows_and_loads_the_script(self, buyer_client):
        buyer_client.post("/buy/", {"agree": "on"})
        page = buyer_client.get("/console/").content.decode()
        assert 'data-refresh-url="/console/rows/"' in page
        assert re.search(r'<script src="/static/simulator/console\.js" defer></script>', page)
        assert 'data-status="opening"' in page

    def test_the_rows_follow_the_instance_from_opening_to_opened(self, buyer_client):
        buyer_client.post("/buy/", {"agree": "on"})
        instance = Instance.objects.get()
        rows = buyer_client.get("/console/rows/")
        assert rows.status_code == 200 and rows["Cache-Control"] == "no-store"
        text = rows.content.decode()
        assert text.lstrip().startswith("<tr") and "<html" not in text
        assert f'data-instance="{instance.instance_id}" data-status="opening"' in text and "开通中" in text
        vendor_answers(instance)
        text = buyer_client.get("/console/rows/").content.decode()
        assert f'data-instance="{instance.instance_id}" data-status="opened"' in text and "已开通" in text
        assert 'data-testid="sso"' in text

    def test_the_rows_are_the_buyers_own_and_need_a_sign_in(self, buyer_client):
        buyer_client.post("/buy/", {"agree": "on"})
        other = Client()
        other.post("/signin/", {"create": "1", "name": "other", "kind": "main"})
        assert "data-instance=" not in other.get("/console/rows/").content.decode()
        response = Client().get("/console/rows/")
        assert response.status_code == 302 and response["Location"].startswith("/signin/")


class TestNothingInline:
    """The pages run under a CSP that allows no inline script or style: none is written."""

    INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=", re.I)

    @pytest.mark.parametrize(
        "path",
        [
            "/",
            "/signin/",
            "/ops/",
            "/mailbox/",
            "/buy/",
            "/buy/?trial=1",
            "/buy/submitted/",
            "/console/",
            "/console/bill/",
        ],
    )
    def test_no_inline_script_style_or_handler(self, buyer_client, path):
        opened_instance(buyer_client)
        page = buyer_client.get(path).content.decode()
        assert not self.INLINE.search(page), self.INLINE.search(page)

    def test_nor_in_the_dialogs(self, buyer_client):
        instance = opened_instance(buyer_client)
        for path in (f"/console/{instance.instance_id}/sso/", f"/console/{instance.instance_id}/close/"):
            page = buyer_client.get(path).content.decode()
            assert "<form" in page and not self.INLINE.search(page)


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
    @pytest.mark.parametrize("header", ["Mon, 30 Nov 2026 05:40:02 -0000", "Mon, 30 Nov 2026 05:40:02 +0000"])
    def test_times_are_beijing_time_like_the_rest_of_the_marketplace(self, settings, tmp_path: Path, header):
        """Django stamps a message in UTC ("-0000"); the mailbox shows it as the marketplace shows times."""
        settings.SIMULATOR = settings.SIMULATOR.model_copy(update={"mailbox_dir": str(tmp_path)})
        (tmp_path / "0001.eml").write_bytes(
            f"From: no-reply@kaitong.local\r\nTo: a@example.com\r\nSubject: code\r\nDate: {header}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n123456\r\n".encode()
        )
        page = Client().get("/mailbox/").content.decode()
        assert 'data-testid="mail-date">2026-11-30 13:40:02（北京时间）<' in page
        assert "05:40:02" not in page

    def test_a_date_it_cannot_read_is_shown_as_written(self, settings, tmp_path: Path):
        settings.SIMULATOR = settings.SIMULATOR.model_copy(update={"mailbox_dir": str(tmp_path)})
        (tmp_path / "0001.eml").write_bytes(
            b"From: x@example.com\r\nTo: a@example.com\r\nSubject: s\r\nDate: yesterday-ish\r\n\r\nbody\r\n"
        )
        response = Client().get("/mailbox/")
        assert response.status_code == 200 and 'data-testid="mail-date">yesterday-ish<' in response.content.decode()

    def test_reads_stored_messages(self, settings, tmp_path: Path):
        settings.SIMULATOR = settings.SIMULATOR.model_copy(update={"mailbox_dir": str(tmp_path)})
        (tmp_path / "0001.eml").write_bytes(
            "From: no-reply@kaitong.local\r\nTo: a@example.com\r\nSubject: =?utf-8?b?6aqM6K+B56CB?=\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n您的验证码是 123456\r\n".encode()
        )
        page = Client().get("/mailbox/?to=a@example.com").content.decode()
        assert "验证码" in page and "123456" in page
        assert "123456" not in Client().get("/mailbox/?to=b@example.com").content.decode()


def sms_file(folder: Path, name: str, **fields: str) -> None:
    """A message as the vendor's file sink writes it (the JSON contract in kaitong_sim/sms.py)."""
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(fields, ensure_ascii=False), encoding="utf-8")


class TestSmsInTheMailbox:
    @pytest.fixture
    def boxes(self, settings, tmp_path: Path) -> tuple[Path, Path]:
        mail, sms = tmp_path / "mail", tmp_path / "sms"
        mail.mkdir()
        settings.SIMULATOR = settings.SIMULATOR.model_copy(update={"mailbox_dir": str(mail), "sms_dir": str(sms)})
        (mail / "0001.eml").write_bytes(
            b"From: no-reply@kaitong.local\r\nTo: a@example.com\r\nSubject: code\r\n"
            b"Date: Mon, 30 Nov 2026 05:40:02 -0000\r\n\r\n123456\r\n"
        )
        sms_file(
            sms,
            "0001",
            to="+8613800138000",
            text="【观测云】工作空间「演示」已锁定。",
            sent_at="2026-11-30T05:41:00+00:00",
        )
        return mail, sms

    def test_sms_and_mail_in_one_list_newest_first_in_beijing_time(self, boxes):
        page = Client().get("/mailbox/").content.decode()
        assert page.index('data-testid="sms"') < page.index('data-testid="mail"')
        assert 'data-testid="sms-text">【观测云】工作空间「演示」已锁定。<' in page
        assert 'data-testid="sms-to">+8613800138000<' in page
        assert 'data-testid="sms-date">2026-11-30 13:41:00（北京时间）<' in page
        assert 'data-testid="sms-length">17<' in page

    def test_by_kind(self, boxes):
        sms_only = Client().get("/mailbox/?kind=sms").content.decode()
        assert 'data-testid="sms"' in sms_only and 'data-testid="mail"' not in sms_only
        mail_only = Client().get("/mailbox/?kind=mail").content.decode()
        assert 'data-testid="mail"' in mail_only and 'data-testid="sms"' not in mail_only
        assert 'data-testid="sms"' in Client().get("/mailbox/?kind=bogus").content.decode()

    @pytest.mark.parametrize(("to", "found"), [("138 0013 8000", True), ("+86138", True), ("13900000000", False)])
    def test_by_phone_number_as_typed(self, boxes, to, found):
        page = Client().get("/mailbox/?" + urlencode({"to": to})).content.decode()
        assert ('data-testid="sms"' in page) is found

    def test_a_message_it_cannot_read_does_not_break_the_page(self, boxes):
        _mail, sms = boxes
        (sms / "0002.json").write_text("{half a mess", encoding="utf-8")
        sms_file(sms, "0003", to="+86 139", text="x" * 71, sent_at="not a time")
        response = Client().get("/mailbox/")
        page = response.content.decode()
        assert response.status_code == 200 and "(unreadable message)" in page
        assert "超过一条短信 over one SMS" in page and "时间未知 unknown time" in page

    def test_partial_files_being_written_are_not_shown(self, boxes):
        _mail, sms = boxes
        (sms / ".0002.tmp").write_text('{"to": "+86", "text": "half"}', encoding="utf-8")
        assert Client().get("/mailbox/").content.decode().count('data-testid="sms"') == 1


class TestBill:
    def test_the_bill_shows_what_the_vendor_pushed(self, buyer_client, settings):
        instance = opened_instance(buyer_client)
        push_usage(settings, instance, 12345)
        page = buyer_client.get("/console/bill/").content.decode()
        assert "¥123.45" in page and instance.instance_id in page and "Frequency=12345" in page
        # Someone else's bill does not show it.
        other = Client()
        other.post("/signin/", {"create": "1", "name": "other", "kind": "main"})
        assert "¥0.00" in other.get("/console/bill/").content.decode()

    def test_a_free_trials_usage_is_on_the_bill_at_nothing(self, buyer_client, settings):
        """A trial is not billed: what the vendor pushes for it is listed, at ¥0.00, and marked as a trial."""
        trial = opened_instance(buyer_client, trial=True)
        push_usage(settings, trial, 12345)
        page = buyer_client.get("/console/bill/").content.decode()
        assert trial.instance_id in page and "Frequency=12345" in page
        assert "¥123.45" not in page and 'data-testid="bill-total">¥0.00<' in page
        assert "试用 不收费" in page
        paid = opened_instance(buyer_client)
        push_usage(settings, paid, 100)
        page = buyer_client.get("/console/bill/").content.decode()
        assert 'data-testid="bill-total">¥1.00<' in page and page.count("试用 不收费") == 1


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
