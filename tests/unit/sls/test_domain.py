"""The exclusive edition's pure rules: the role authorisation link, names, stores, what cloud errors mean."""

import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from kaitong.sls import domain
from kaitong.sls.domain import Problem


def test_role_link_token_is_md5_of_role_and_isv_key():
    expected = hashlib.md5(b"role=AliyunMarketGuanceSLSRole&key=isv-key-0123456789", usedforsecurity=False).hexdigest()
    assert domain.role_link_token(role="AliyunMarketGuanceSLSRole", isv_key="isv-key-0123456789") == expected
    assert len(expected) == 32


def test_role_link_carries_role_uid_returnurl_and_token():
    link = domain.role_link(
        base_url="http://sim.example/authorize/",
        role="AliyunMarketGuanceSLSRole",
        ali_uid="1234567890123456",
        return_url="https://kaitong.example/activate/aliyun/returned/?a=1&b=2",
        isv_key="k" * 20,
    )
    parts = urlsplit(link)
    assert parts.path == "/authorize/"
    params = {key: values for key, values in parse_qs(parts.query).items()}
    assert params == {
        "role": ["AliyunMarketGuanceSLSRole"],
        "aliyunuid": ["1234567890123456"],
        "returnurl": ["https://kaitong.example/activate/aliyun/returned/?a=1&b=2"],
        "token": [domain.role_link_token(role="AliyunMarketGuanceSLSRole", isv_key="k" * 20)],
    }


def test_role_link_follows_the_marketplace_fragment_route():
    link = domain.role_link(
        base_url="https://market.console.aliyun.com/imageconsole/index.htm#/roleAuth",
        role="R",
        ali_uid="1",
        return_url="https://x.example/",
        isv_key="k",
    )
    assert link.startswith("https://market.console.aliyun.com/imageconsole/index.htm#/roleAuth?role=R&aliyunuid=1&")


def test_names_and_arn():
    assert domain.project_name(42) == "guance-wksp-42"
    assert domain.role_arn("1999", "AliyunMarketGuanceSLSRole") == "acs:ram::1999:role/AliyunMarketGuanceSLSRole"
    assert domain.region_of_site("cn1") == "cn-hangzhou"
    assert domain.region_of_site("cn3") == "cn-zhangjiakou"
    assert domain.region_of_site("cn2") is None
    assert domain.secret_context("1999") == "sls.grant:1999"


def test_stores_of_a_workspace():
    by_name = {store.name: store for store in domain.STORES}
    assert len(by_name) == len(domain.STORES)
    assert [s.name for s in domain.STORES if s.kind is domain.StoreKind.METRICSTORE] == ["metrics"]
    standard = domain.StoreKind.LOGSTORE, domain.StoreMode.STANDARD
    assert {s.name for s in domain.STORES if (s.kind, s.mode) == standard} == {
        "logging",
        "event",
        "dialtesting",
        "cicd",
        "security",
    }
    assert by_name["backup_log"].mode is domain.StoreMode.QUERY


def test_masked_key_id_shows_only_its_ends():
    assert domain.mask_key_id("LTAI1234567890abcdefWXYZ") == "LTAI****WXYZ"
    assert domain.mask_key_id("short") == "****"


@pytest.mark.parametrize(
    ("code", "status", "problem"),
    [
        ("SignatureDoesNotMatch", 400, Problem.INVALID_KEY),
        ("InvalidAccessKeyId.NotFound", 404, Problem.INVALID_KEY),
        ("InvalidAccessKeyId.Inactive", 400, Problem.INVALID_KEY),
        ("Throttling.User", 400, Problem.UNAVAILABLE),
        ("InternalError", 500, Problem.UNAVAILABLE),
        (domain.UNREACHABLE, 0, Problem.UNAVAILABLE),
    ],
)
def test_sts_errors_of_the_buyers_key(code, status, problem):
    assert domain.classify_sts_for_key(code, status) is problem


@pytest.mark.parametrize(
    ("code", "status", "problem"),
    [
        ("NoPermission", 403, Problem.ROLE_NOT_AUTHORISED),
        ("EntityNotExist.Role", 404, Problem.ROLE_NOT_AUTHORISED),
        ("InvalidParameter.ExternalId", 400, Problem.ROLE_NOT_AUTHORISED),
        # The vendor's own key refused: not the buyer's fault.
        ("SignatureDoesNotMatch", 400, Problem.UNAVAILABLE),
        ("InvalidAccessKeyId.NotFound", 404, Problem.UNAVAILABLE),
        ("ServiceUnavailable", 503, Problem.UNAVAILABLE),
    ],
)
def test_assume_role_errors(code, status, problem):
    assert domain.classify_assume_role(code, status) is problem


@pytest.mark.parametrize(
    ("code", "status", "problem"),
    [
        ("Unauthorized", 401, Problem.NO_SLS_PERMISSION),
        ("Unauthorized", 403, Problem.NO_SLS_PERMISSION),
        ("ServiceNotEnabled", 403, Problem.SLS_NOT_ACTIVATED),
        ("SignatureNotMatch", 401, Problem.INVALID_KEY),
        ("InternalServerError", 500, Problem.UNAVAILABLE),
        (domain.UNREACHABLE, 0, Problem.UNAVAILABLE),
    ],
)
def test_sls_errors(code, status, problem):
    assert domain.classify_sls(code, status) is problem


def test_every_problem_has_its_refusal():
    assert set(domain.REFUSAL_OF) == set(Problem)
    for problem, refusal in domain.REFUSAL_OF.items():
        assert refusal.problem is problem
