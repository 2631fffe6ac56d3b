"""SLS's request signing as the simulator checks it, against the official SDK gateway's own computation;
the cross-account link's token; names and ARNs."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from alibabacloud_gateway_sls.client import Client as SlsGateway

from kaitong_sim import catalogue, cloud_domain, signer
from kaitong_sim.cloud_domain import SlsError

HEADERS = {
    "accept": "application/json",
    "host": "guance-wksp-1.cn-hangzhou.log.aliyuncs.com",
    "user-agent": "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2",
    "x-log-apiversion": "0.6.0",
    "content-type": "application/json",
    "x-log-bodyrawsize": "59",
    "x-log-signaturemethod": "hmac-sha256",
    "x-acs-security-token": "CAIS-token",
    "date": "Mon, 30 Nov 2026 12:08:15 GMT",
    "content-md5": "B58F0D459A00C734E25A38F464C8D88F",
}


def test_string_to_sign_is_the_documented_layout():
    text = cloud_domain.sls_string_to_sign(
        method="GET", path="/", query={"size": "500", "offset": "0"}, headers={**HEADERS, "content-md5": ""}
    )
    assert text == (
        "GET\n\napplication/json\nMon, 30 Nov 2026 12:08:15 GMT\n"
        "x-acs-security-token:CAIS-token\nx-log-apiversion:0.6.0\nx-log-bodyrawsize:59\n"
        "x-log-signaturemethod:hmac-sha256\n/?offset=0&size=500"
    )


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [("POST", "/logstores", {}), ("GET", "/", {"offset": "0", "size": "100", "projectName": "guance wksp"})],
)
def test_signature_equals_the_official_gateway(method, path, query):
    secret = "s3cret-of-thirty-characters-00"
    ours = cloud_domain.sls_signature(
        secret=secret,
        string_to_sign=cloud_domain.sls_string_to_sign(method=method, path=path, query=query, headers=HEADERS),
    )
    assert ours == SlsGateway().get_signature(path, method, query, dict(HEADERS), secret)


def test_older_sdks_sign_with_hmac_sha1():
    text = cloud_domain.sls_string_to_sign(method="GET", path="/", query={}, headers={"date": "d"})
    expected = base64.b64encode(hmac.new(b"k", text.encode(), hashlib.sha1).digest()).decode()
    assert cloud_domain.sls_signature(secret="k", string_to_sign=text, method="hmac-sha1") == expected


def test_authorization_header():
    assert cloud_domain.parse_sls_authorization("LOG LTAIabc:c2ln=") == ("LTAIabc", "c2ln=")
    for bad in ("", "LOG LTAIabc", "ACS3-HMAC-SHA256 Credential=x", "LOG :sig"):
        with pytest.raises(SlsError) as caught:
            cloud_domain.parse_sls_authorization(bad)
        assert caught.value.code == "Unauthorized"


def test_date_window():
    now = datetime(2026, 11, 30, 12, 8, 15, tzinfo=UTC)
    cloud_domain.check_sls_date("Mon, 30 Nov 2026 12:08:15 GMT", now=now + timedelta(minutes=14))
    for value in ("Mon, 30 Nov 2026 12:08:15 GMT", "yesterday"):
        with pytest.raises(SlsError):
            cloud_domain.check_sls_date(value, now=now + timedelta(minutes=16) if "GMT" in value else now)


def test_content_md5_is_upper_hex_and_empty_without_a_body():
    assert cloud_domain.content_md5(b"") == ""
    assert cloud_domain.content_md5(b'{"name":"m","shardCount":2,"ttl":30}') == "DF85A2FC3B78EF31FCBD44012D524AD9"


def test_role_link_token_is_md5_of_role_and_key():
    assert (
        signer.role_link_token("AliyunMarketGuanceSLSRole", "k")
        == hashlib.md5(b"role=AliyunMarketGuanceSLSRole&key=k", usedforsecurity=False).hexdigest()
    )


def test_role_arns():
    assert cloud_domain.role_arn("1234567890123456", "AliyunMarketGuanceSLSRole") == (
        "acs:ram::1234567890123456:role/aliyunmarketguanceslsrole"
    )
    assert cloud_domain.parse_role_arn("acs:ram::1234567890123456:role/aliyunmarketguanceslsrole") == (
        "1234567890123456",
        "aliyunmarketguanceslsrole",
    )
    assert cloud_domain.parse_role_arn("acs:ram::12:role/x") is None
    assert cloud_domain.parse_role_arn("acs:ram::1234567890123456:user/x") is None


@pytest.mark.parametrize("name", ["guance-wksp-42", "abc", "a" * 63])
def test_project_names_allowed(name):
    cloud_domain.check_project_name(name)


@pytest.mark.parametrize("name", ["ab", "-abc", "abc-", "Guance", "a_b_c", "a" * 64])
def test_project_names_refused(name):
    with pytest.raises(SlsError):
        cloud_domain.check_project_name(name)


def test_new_keys_have_alibabas_shape():
    akid, secret = cloud_domain.new_access_key_id(), cloud_domain.new_secret()
    assert akid.startswith("LTAI") and len(akid) == 24 and akid[4:].isalnum() and len(secret) == 30


class Codes:
    product_code = "c1"
    metering_assit = "c1-F"
    exclusive_product_code = "c2"
    exclusive_metering_assit = "c2-F"


def test_the_catalogue_follows_the_configuration():
    products = catalogue.products(Codes())
    assert [(p.code, p.edition, p.metering_assit, p.postpay_sku) for p in products.values()] == [
        ("c1", "commercial", "c1-F", "c1-postpay"),
        ("c2", "exclusive", "c2-F", "c2-postpay"),
    ]
