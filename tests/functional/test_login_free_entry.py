"""The login-free entry (免登): token, ±tolerance, one use, instance state, fresh session, clean URL."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from kaitong.activation.session import BuyerSession
from kaitong.marketplace.aliyun.spi import format_time
from kaitong.marketplace.aliyun.token import signed
from kaitong.marketplace.sso_models import LoginFreeUse
from tests.support.activation import SSO_PATH, open_instance, verify_params, verify_url
from tests.support.marketplace import call_spi

pytestmark = pytest.mark.django_db


def test_good_entry_opens_a_fresh_session_and_redirects_to_a_clean_url(client):
    open_instance(client, "300001", ali_uid="1111222233334444")
    client.get("/")  # an earlier anonymous session
    before = client.cookies["sessionid"].value if "sessionid" in client.cookies else None
    response = client.get(verify_url("300001"))
    assert response.status_code == 302
    assert response["Location"] == "/activate/"
    assert response["Referrer-Policy"] == "no-referrer"
    cookie = client.cookies["sessionid"]
    assert cookie.value != before and len(cookie.value) >= 32
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    buyer = BuyerSession(client.session)
    assert (buyer.instance_id, buyer.ali_uid) == ("300001", "1111222233334444")
    page = client.get("/activate/")
    assert "立即注册观测云商业版" in page.content.decode() and "已有企业账号，去绑定" in page.content.decode()
    assert "token=" not in page.content.decode()


def test_second_use_of_the_same_url_is_refused(client):
    open_instance(client, "300002")
    url = verify_url("300002")
    assert client.get(url).status_code == 302
    again = client.get(url)
    assert again.status_code == 401
    assert "免登链接已使用" in again.content.decode()
    assert again["Referrer-Policy"] == "no-referrer"
    assert LoginFreeUse.objects.count() == 1


@pytest.mark.parametrize("skew", [301, -301])
def test_time_stamp_outside_tolerance_is_refused(client, skew):
    open_instance(client, "300003")
    response = client.get(verify_url("300003", at=timezone.now() + timedelta(seconds=skew)))
    assert response.status_code == 401
    assert "免登链接已过期" in response.content.decode()
    assert not BuyerSession(client.session).entered


@pytest.mark.parametrize("skew", [295, -295])
def test_time_stamp_inside_tolerance_is_accepted(client, skew):
    open_instance(client, "300004")
    response = client.get(verify_url("300004", at=timezone.now() + timedelta(seconds=skew)))
    assert response.status_code == 302 and response["Location"].endswith("/activate/")
    assert BuyerSession(client.session).instance_id == "300004"


def test_tolerance_is_configurable(client, settings):
    settings.ENV = settings.ENV.model_copy(update={"verify_tolerance_seconds": 60})
    open_instance(client, "300005")
    assert client.get(verify_url("300005", at=timezone.now() - timedelta(seconds=90))).status_code == 401


def test_bad_token_is_refused_and_stores_nothing(client):
    open_instance(client, "300006")
    params = verify_params("300006")
    params["token"] = "0" * 32
    response = client.get(SSO_PATH + "?" + urlencode(params))
    assert response.status_code == 401
    assert "免登链接无效" in response.content.decode()
    assert LoginFreeUse.objects.count() == 0


@pytest.mark.parametrize(
    "params",
    [
        {"action": "verify", "instanceId": "300007"},  # no timeStamp
        {"action": "verify", "instanceId": "300007", "timeStamp": "2026/01/01 10:00"},
        {"action": "createInstance", "instanceId": "300007", "timeStamp": "NOW"},
    ],
)
def test_malformed_entries_are_refused(client, params):
    open_instance(client, "300007")
    if params.get("timeStamp") == "NOW":
        params["timeStamp"] = format_time(timezone.now())
    from tests.support.marketplace import isv_key

    response = client.get(SSO_PATH + "?" + urlencode(signed(params, isv_key())))
    assert response.status_code == 400


def test_unknown_instance(client):
    response = client.get(verify_url("999999"))
    assert response.status_code == 404
    assert "未找到该实例" in response.content.decode()


def test_released_and_expired_instances_are_refused(client):
    open_instance(client, "300008")
    open_instance(client, "300009")
    call_spi(client, {"action": "releaseInstance", "instanceId": "300008", "isRefund": "false"})
    call_spi(client, {"action": "expiredInstance", "instanceId": "300009"})
    released = client.get(verify_url("300008"))
    assert released.status_code == 403 and "实例已释放" in released.content.decode()
    expired = client.get(verify_url("300009"))
    assert expired.status_code == 403 and "实例已到期" in expired.content.decode()


def test_refusal_page_in_english(client):
    client.cookies["django_language"] = "en"
    response = client.get(verify_url("999998"))
    assert "Instance not found" in response.content.decode()


def test_activation_pages_need_an_entry(client):
    response = client.get("/activate/")
    assert response.status_code == 403
    assert "请从阿里云市场免登进入" in response.content.decode()


def test_a_new_entry_drops_the_previous_instance_state(client):
    open_instance(client, "300010", ali_uid="1000000000000001")
    open_instance(client, "300011", ali_uid="1000000000000002")
    client.get(verify_url("300010"))
    session = client.session
    BuyerSession(session).billing_account_id = 42
    session.save()
    client.get(verify_url("300011"))
    buyer = BuyerSession(client.session)
    assert buyer.instance_id == "300011"
    assert buyer.billing_account_id is None


def test_expiry_after_entry_ends_what_the_session_can_do(client):
    open_instance(client, "300012")
    client.get(verify_url("300012"))
    assert client.get("/activate/").status_code == 200
    call_spi(client, {"action": "expiredInstance", "instanceId": "300012"})
    response = client.get("/activate/")
    assert response.status_code == 409 and "云市场实例已不可用" in response.content.decode()
