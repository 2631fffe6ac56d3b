"""The buyer's Alibaba account pages in-process: the second product, RAM users and AccessKeys, SLS
activation and projects, the cross-account authorisation page and its refusals, and routing by Host."""

from __future__ import annotations

import re
from datetime import timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from alibabacloud_gateway_sls.client import Client as SlsGateway
from django.conf import settings
from django.test import Client
from django.utils import timezone

from kaitong_sim import actions, cloud, openapi, queries, signer
from kaitong_sim.cloud_domain import SlsError
from kaitong_sim.models import AccessKey, Account, Delivery, Instance, RoleGrant

pytestmark = [pytest.mark.django_db, pytest.mark.urls("kaitong_sim.site_urls")]

UID = "1234567890123456"
RETURN = "http://vendor.example/activate/aliyun/returned/?step=2"


@pytest.fixture
def buyer() -> Client:
    actions.do_create_account(name="张三", uid=UID, is_ram=False, main_uid="", now=timezone.now())
    client = Client()
    client.post("/signin/", {"uid": UID})
    return client


def link(**overrides: str) -> str:
    config = settings.SIMULATOR
    params = {
        "role": config.sls_role,
        "aliyunuid": UID,
        "returnurl": RETURN,
        "token": signer.role_link_token(config.sls_role, config.isv_key),
        **overrides,
    }
    return "/authorize/?" + urlencode(params)


class TestSecondProduct:
    def test_the_product_page_offers_both_editions(self, buyer):
        page = buyer.get("/").content.decode()
        assert "观测云 商业版" in page and "观测云 专属版（SLS）" in page
        exclusive = buyer.get("/?product=" + settings.SIMULATOR.exclusive_product_code).content.decode()
        assert f"商品编码 {settings.SIMULATOR.exclusive_product_code}" in exclusive
        assert settings.SIMULATOR.exclusive_metering_assit in exclusive
        assert re.search(
            r'data-testid="open-now" href="/buy/\?product=' + settings.SIMULATOR.exclusive_product_code, exclusive
        )

    def test_buying_the_exclusive_edition_tells_the_vendor_its_product_code(self, buyer):
        code = settings.SIMULATOR.exclusive_product_code
        assert "观测云 专属版（SLS）" in buyer.get(f"/buy/?product={code}").content.decode()
        response = buyer.post("/buy/", {"agree": "on", "product": code})
        assert response.status_code == 302
        instance = Instance.objects.get()
        assert (instance.product_code, instance.sku_id) == (code, f"{code}-postpay")
        params = Delivery.objects.get().params
        assert (params["productCode"], params["skuId"]) == (code, f"{code}-postpay")
        # 开通申请已提交 is said over the page of the product just bought, not the other one's.
        submitted = buyer.get(response["Location"]).content.decode()
        assert "开通申请已提交" in submitted and f"商品编码 {code}" in submitted

    def test_without_a_product_the_commercial_edition_is_bought(self, buyer):
        buyer.post("/buy/", {"agree": "on"})
        assert Instance.objects.get().product_code == settings.SIMULATOR.product_code


class TestRamPage:
    def test_create_a_user_and_a_key_whose_secret_is_shown_once(self, buyer):
        assert buyer.post("/account/ram/users/", {"name": "guance", "sls_policy": "on"}).status_code == 302
        user = buyer.get("/account/ram/").content.decode()
        assert 'data-testid="ram-user-guance"' in user and "已授权 Attached" in user
        user_id = queries.ram_users(UID)[1]["id"]
        response = buyer.post("/account/ram/keys/", {"ram_user": str(user_id)})
        page = response.content.decode()
        key = AccessKey.objects.get()
        assert key.ram_user_id == user_id and key.secret in page and key.access_key_id in page
        assert response["Cache-Control"] == "no-store"
        again = buyer.get("/account/ram/").content.decode()
        assert key.access_key_id in again and key.secret not in again

    def test_a_user_without_the_policy(self, buyer):
        buyer.post("/account/ram/users/", {"name": "readonly"})
        assert "未授权 None" in buyer.get("/account/ram/").content.decode()

    def test_revoke_a_key(self, buyer):
        buyer.post("/account/ram/keys/", {})  # the main account's own key
        key = AccessKey.objects.get()
        assert key.ram_user is None
        assert buyer.post(f"/account/ram/keys/{key.access_key_id}/revoke/").status_code == 302
        key.refresh_from_db()
        assert key.state == "revoked"

    def test_another_buyers_key_cannot_be_revoked(self, buyer):
        actions.do_create_account(name="other", uid="2234567890123456", is_ram=False, main_uid="", now=timezone.now())
        key = actions.do_create_access_key(main_uid="2234567890123456", now=timezone.now())
        assert buyer.post(f"/account/ram/keys/{key.access_key_id}/revoke/").status_code == 404
        key.refresh_from_db()
        assert key.state == "active"

    def test_bad_user_name(self, buyer):
        assert buyer.post("/account/ram/users/", {"name": "有 空格"}).status_code == 400


class TestSlsPage:
    def test_activation_toggles(self, buyer):
        assert "未开通 Not activated" in buyer.get("/account/sls/").content.decode()
        buyer.post("/account/sls/activation/", {"active": "1"})
        assert Account.objects.get(uid=UID).sls_active
        assert "已开通 Activated" in buyer.get("/account/sls/").content.decode()
        buyer.post("/account/sls/activation/", {"active": "0"})
        assert not Account.objects.get(uid=UID).sls_active

    def test_projects_and_stores_are_listed(self, buyer):
        project = actions.do_create_sls_project(
            owner_uid=UID, region="cn-hangzhou", name="guance-wksp-7", description="", now=timezone.now()
        )
        actions.do_create_sls_store(
            project_id=project.id,
            name="metrics",
            kind="metricstore",
            mode="standard",
            ttl=30,
            shard_count=2,
            now=timezone.now(),
        )
        page = buyer.get("/account/sls/").content.decode()
        assert "guance-wksp-7" in page and "metrics" in page and "metricstore" in page


class TestAuthorisationPage:
    def test_shows_the_isv_and_the_role(self, buyer):
        response = buyer.get(link())
        page = response.content.decode()
        assert response.status_code == 200
        assert settings.SIMULATOR.isv_uid in page and "同意授权" in page and "取消" in page
        assert f"acs:ram::{UID}:role/{settings.SIMULATOR.sls_role.lower()}" in page

    def test_agree_creates_the_grant_and_returns_with_a_token(self, buyer):
        response = buyer.post("/authorize/", {**parse_qs_once(link()), "decision": "agree"})
        assert response.status_code == 302
        target = urlsplit(response["Location"])
        query = parse_qs(target.query)
        assert target.netloc == "vendor.example" and query["step"] == ["2"] and len(query["token"][0]) == 32
        grant = RoleGrant.objects.get()
        assert (grant.buyer_uid, grant.trusted_uid, grant.external_id, grant.state) == (
            UID,
            settings.SIMULATOR.isv_uid,
            settings.SIMULATOR.sls_role_external_id,
            "active",
        )
        assert "撤销授权" in buyer.get("/account/ram/").content.decode()

    def test_cancel_returns_without_a_token_or_a_grant(self, buyer):
        response = buyer.post("/authorize/", {**parse_qs_once(link()), "decision": "cancel"})
        assert response.status_code == 302 and response["Location"] == RETURN
        assert not RoleGrant.objects.exists()

    def test_revoke_from_the_grants_list(self, buyer):
        buyer.post("/authorize/", {**parse_qs_once(link()), "decision": "agree"})
        grant = RoleGrant.objects.get()
        buyer.post(f"/account/ram/grants/{grant.id}/revoke/")
        grant.refresh_from_db()
        assert grant.state == "revoked"

    @pytest.mark.parametrize(
        ("overrides", "status", "words"),
        [
            ({"token": "0" * 32}, 400, "token 不正确"),
            ({"role": "OtherRole"}, 400, "token 不正确"),  # the token covers the role
            ({"aliyunuid": "9999999999999999"}, 403, "与当前登录账号不一致"),
            ({"returnurl": "javascript:alert(1)"}, 400, "returnurl"),
            ({"returnurl": ""}, 400, "缺少参数"),
        ],
    )
    def test_refusals(self, buyer, overrides, status, words):
        response = buyer.get(link(**overrides))
        assert response.status_code == status and words in response.content.decode()
        refused = buyer.post("/authorize/", {**parse_qs_once(link(**overrides)), "decision": "agree"})
        assert refused.status_code == status and not RoleGrant.objects.exists()

    def test_a_role_the_isv_does_not_have(self, buyer):
        token = signer.role_link_token("OtherRole", settings.SIMULATOR.isv_key)
        response = buyer.get(link(role="OtherRole", token=token))
        assert response.status_code == 400 and "角色模板" in response.content.decode()

    def test_signed_out_buyers_sign_in_first(self):
        response = Client().get(link())
        assert response.status_code == 302 and response["Location"].startswith("/signin/?next=")


def parse_qs_once(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


class TestHostRouting:
    @pytest.fixture(autouse=True)
    def middleware(self, settings):
        settings.MIDDLEWARE = ["kaitong_sim.cloud.CloudHostMiddleware", *settings.MIDDLEWARE]

    def test_sts_host_answers_pop_errors(self):
        response = Client().post("/", HTTP_HOST="sts.aliyuncs.com")
        assert response.status_code == 400 and response.json()["Code"] == "MissingSignature"

    def test_sls_hosts_answer_sls_errors(self):
        response = Client().get("/", HTTP_HOST="cn-hangzhou.log.aliyuncs.com")
        assert response.status_code == 401 and response.json()["errorCode"] == "Unauthorized"
        assert response["x-log-requestid"]
        response = Client().post("/logstores", HTTP_HOST="p1.cn-zhangjiakou.log.aliyuncs.com")
        assert response.json()["errorCode"] == "Unauthorized"

    def test_other_hosts_are_the_marketplace(self):
        assert Client().get("/healthz", HTTP_HOST="127.0.0.1:8100").content == b"ok"


class TestTemporaryCredentials:
    """Expiry needs a clock the test controls: the SLS handler in-process, signed as the SDK signs."""

    def signed(self, akid: str, secret: str, token: str, *, at) -> openapi.RawRequest:
        headers = {
            "content-type": "application/json",
            "x-log-apiversion": "0.6.0",
            "x-log-bodyrawsize": "0",
            "x-log-signaturemethod": "hmac-sha256",
            "x-acs-security-token": token,
            "date": format_datetime(at, usegmt=True),
            "content-md5": "",
        }
        signature = SlsGateway().get_signature("/", "GET", {}, dict(headers), secret)
        return openapi.RawRequest(
            method="GET",
            path="/",
            query_string="",
            body=b"",
            content_type="application/json",
            headers={**headers, "authorization": f"LOG {akid}:{signature}"},
        )

    def test_they_expire(self):
        now = timezone.now()
        actions.do_create_account(name="b", uid=UID, is_ram=False, main_uid="", now=now, sls_active=True)
        grant = actions.do_grant_role(buyer_uid=UID, role_name="R", trusted_uid="1", external_id="e", now=now)
        temp = actions.do_issue_sts_credential(grant_id=grant.id, session_name="s1", seconds=900, now=now)
        isv = cloud.Isv("isv", "isv-secret", "1")
        raw = self.signed(temp.access_key_id, temp.secret, temp.security_token, at=now)
        status, body = cloud.handle_sls(raw, region="cn-hangzhou", project="", now=now, stamped_now=now, isv=isv)
        assert status == 200 and body["total"] == 0
        later = now + timedelta(minutes=16)
        raw = self.signed(temp.access_key_id, temp.secret, temp.security_token, at=later)
        with pytest.raises(SlsError) as caught:
            cloud.handle_sls(raw, region="cn-hangzhou", project="", now=later, stamped_now=later, isv=isv)
        assert caught.value.code == "Unauthorized" and "expired" in caught.value.message
