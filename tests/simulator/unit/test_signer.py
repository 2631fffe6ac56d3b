"""The simulator's own signer against the protocol reference's worked examples (§1.2, §1.3, §2).

Every expected value below is copied from ``aliyun-marketplace-protocol.md``, not computed by code of
this project, so a wrong reading of the rule fails here whatever the vendor's verifier does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from kaitong_sim import signer

KEY = "test-isv-key-123"

# §1.2 worked example: createInstance with an extra billing item and a package_version, as on the wire.
CREATE_ON_THE_WIRE = (
    "action=createInstance&aliUid=1234567890123456&orderBizId=100001&orderId=200001000000001"
    "&productCode=cmapi00012345&skuId=yuncode1234500001&trial=false&expiredOn=2025-12-31+23%3A59%3A59"
    "&package_version=yuncode1234500001&Count=2&token=54e9e363b550a6ca949794908863efec"
)
CREATE_STRING_TO_SIGN = (
    "Count=2&action=createInstance&aliUid=1234567890123456&expiredOn=2025-12-31 23:59:59&orderBizId=100001"
    "&orderId=200001000000001&package_version=yuncode1234500001&productCode=cmapi00012345"
    "&skuId=yuncode1234500001&trial=false&key=test-isv-key-123"
)


def decoded(query: str) -> dict[str, str]:
    return dict(parse_qsl(query, keep_blank_values=True, strict_parsing=True))


class TestToken:
    def test_create_instance_example(self):
        params = decoded(CREATE_ON_THE_WIRE)
        assert signer.string_to_sign(params, KEY) == CREATE_STRING_TO_SIGN
        assert signer.token(params, KEY) == "54e9e363b550a6ca949794908863efec" == params["token"]

    def test_renew_instance_example(self):
        params = {
            "action": "renewInstance",
            "expiredOn": "2026-12-31 23:59:59",
            "instanceId": "100001",
            "orderId": "200001000000002",
        }
        assert signer.token(params, KEY) == "3a580de5f930a262c54683b7c25b8347"

    def test_verify_example(self):
        params = {"action": "verify", "instanceId": "100001", "timeStamp": "2025-06-01 10:00:00"}
        assert signer.token(params, KEY) == "9fb1725ca9fedb191dc840cb396e1eb1"

    def test_peer_vector_keeps_empty_values_and_literal_spaces(self):
        # JD Cloud's published vector (§1.2 "Peer cross-check"): `mobile=` and `template=` stay in.
        string = (
            "accountNum=1&action=createInstance&email=bujiaban@jd.com&expiredOn=2018-06-30 23:59:59"
            "&jdPin=bujiaban&mobile=&orderBizId=444181&orderId=556596&serviceCode=FW_GOODS-500232"
            "&skuId=FW_GOODS-500232-1&template="
        )
        params = dict(pair.split("=", 1) for pair in string.split("&"))
        assert signer.string_to_sign(params, "qweqeqeqe123123123131") == string + "&key=qweqeqeqe123123123131"
        assert signer.token(params, "qweqeqeqe123123123131") == "9512df22a941f172a9f28068b758ee3e"

    def test_names_sort_in_byte_order_upper_case_first(self):
        text = signer.string_to_sign({"orderId": "2", "action": "x", "orderBizId": "1", "Count": "3"}, "k")
        assert text == "Count=3&action=x&orderBizId=1&orderId=2&key=k"

    def test_a_different_key_or_value_gives_a_different_token(self):
        params = decoded(CREATE_ON_THE_WIRE)
        assert signer.token(params, "another-key-entirely") != params["token"]
        assert signer.token({**params, "Count": "3"}, KEY) != params["token"]


class TestSign:
    def test_adds_the_token_and_replaces_a_stale_one(self):
        params = {k: v for k, v in decoded(CREATE_ON_THE_WIRE).items() if k != "token"}
        sent = signer.sign({**params, "token": "stale"}, KEY)
        assert sent == {**params, "token": "54e9e363b550a6ca949794908863efec"}


class TestTimes:
    def test_beijing_wall_clock_without_offset(self):
        assert signer.beijing_time(datetime(2025, 6, 1, 2, 0, tzinfo=UTC)) == "2025-06-01 10:00:00"
        assert signer.beijing_time(datetime(2025, 12, 31, 15, 59, 59, tzinfo=UTC)) == "2025-12-31 23:59:59"

    def test_a_naive_time_is_refused(self):
        with pytest.raises(ValueError):
            signer.beijing_time(datetime(2025, 6, 1, 10, 0))


class TestLoginFreeUrl:
    def test_verify_example_as_a_link(self):
        url = signer.login_free_url(
            auth_url="https://isv.example.com/sso/aliyun",
            instance_id="100001",
            isv_key=KEY,
            now=datetime(2025, 6, 1, 2, 0, tzinfo=UTC),
        )
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc, parts.path) == ("https", "isv.example.com", "/sso/aliyun")
        assert decoded(parts.query) == {
            "action": "verify",
            "instanceId": "100001",
            "timeStamp": "2025-06-01 10:00:00",
            "token": "9fb1725ca9fedb191dc840cb396e1eb1",
        }

    def test_an_auth_url_with_a_query_gets_the_rest_after_an_ampersand(self):
        url = signer.login_free_url(
            auth_url="https://isv.example.com/sso?site=cn1", instance_id="1", isv_key=KEY, now=datetime.now(UTC)
        )
        assert url.startswith("https://isv.example.com/sso?site=cn1&") and url.count("?") == 1
