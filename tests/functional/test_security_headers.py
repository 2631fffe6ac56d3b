"""Every kind of page carries a Content-Security-Policy without inline script, and HSTS when the public
URL is https behind a TLS-terminating proxy (issue 10, item 13)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.support import accounts
from tests.support.activation import STRONG_PASSWORD, enter, existing_account, open_instance, verify_url
from tests.support.billing_simulator import ROOT
from tests.support.marketplace import create_params, spi_query

pytestmark = pytest.mark.django_db

PROXY_SAYS_HTTPS = {"HTTP_X_FORWARDED_PROTO": "https"}


def _signed_in(client: Client) -> Client:
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod",))
    assert client.post("/console/login/", {"username": "acme", "password": STRONG_PASSWORD}).status_code == 302
    return client


def _operator(client: Client) -> Client:
    client.force_login(accounts.operator())
    return client


def _login_free_entry(client: Client, **headers: str):  # type: ignore[no-untyped-def]
    open_instance(client, "100001")
    return client.get(verify_url("100001"), **headers)


def _activation(client: Client, **headers: str):  # type: ignore[no-untyped-def]
    enter(client)
    return client.get("/activate/", **headers)


def _usage(client: Client, **headers: str):  # type: ignore[no-untyped-def]
    token = settings.ENV.usage_api_token
    return client.post(
        "/api/v1/usage/samples", "[]", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}", **headers
    )


# Every kind of answer kaitong gives: (name, request). A request sets up what it needs first.
PAGES: list[tuple[str, Callable[..., Any]]] = [
    ("public home", lambda c, **h: c.get("/", **h)),
    ("login-free entry refused", lambda c, **h: c.get("/marketplace/aliyun/sso?token=bad", **h)),
    ("login-free entry", _login_free_entry),
    ("activation chooser", _activation),
    ("activation without entry", lambda c, **h: c.get("/activate/", **h)),
    ("console sign-in", lambda c, **h: c.get("/console/login/", **h)),
    ("console workspace", lambda c, **h: _signed_in(c).get("/console/", follow=True, **h)),
    ("billing center", lambda c, **h: _signed_in(c).get("/billing/", **h)),
    ("operator sign-in", lambda c, **h: c.get("/ops/login/", **h)),
    ("operator list", lambda c, **h: _operator(c).get("/ops/marketplace/spicall/", **h)),
    ("not found", lambda c, **h: c.get("/no-such-page/", **h)),
    ("SPI JSON", lambda c, **h: c.get(f"/marketplace/aliyun/spi?{spi_query(create_params('100002'))}", **h)),
    ("usage API", _usage),
    ("usage API docs", lambda c, **h: c.get("/api/v1/docs", **h)),
    ("static file", lambda c, **h: c.get("/static/kaitong/kaitong.css", **h)),
    ("liveness", lambda c, **h: c.get("/healthz", **h)),
]


def _directives(header: str) -> dict[str, list[str]]:
    parts = [part.split() for part in header.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


@pytest.mark.parametrize(("kind", "request_page"), PAGES, ids=[name for name, _ in PAGES])
def test_every_page_kind_has_a_strict_content_security_policy(client, kind, request_page):
    response = request_page(client)
    assert response.status_code < 500, (kind, response.status_code)
    policy = _directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Request-ID"]
    # Plain http (no proxy saying otherwise): no HSTS, which browsers would ignore anyway.
    assert "Strict-Transport-Security" not in response


@pytest.mark.parametrize(("kind", "request_page"), PAGES, ids=[name for name, _ in PAGES])
def test_behind_a_tls_proxy_every_page_kind_has_hsts(settings, kind, request_page):
    """What the settings hold for an https public URL (checked below): a year of HSTS, and the proxy's
    X-Forwarded-Proto trusted to say that the client used https."""
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    response = request_page(Client(), **PROXY_SAYS_HTTPS)
    assert response.status_code < 500, (kind, response.status_code)
    assert response["Strict-Transport-Security"] == "max-age=31536000"
    assert "Content-Security-Policy" in response


_SETTINGS_OF = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
answer = Client().get("/", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "hsts": settings.SECURE_HSTS_SECONDS,
    "proxy": getattr(settings, "SECURE_PROXY_SSL_HEADER", None),
    "header": answer.get("Strict-Transport-Security"),
}))
"""


def _settings_for(**environment: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAITONG_")}
    env.update({"KAITONG_ENV": "test", "DJANGO_SETTINGS_MODULE": "kaitong.config.settings", **environment})
    done = subprocess.run(
        [sys.executable, "-c", _SETTINGS_OF], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_https_public_url_turns_hsts_on_through_the_proxy_header():
    https = _settings_for(KAITONG_PUBLIC_URL="https://kaitong.example.com")
    assert https == {
        "hsts": 31536000,
        "proxy": ["HTTP_X_FORWARDED_PROTO", "https"],
        "header": "max-age=31536000",
    }
    plain = _settings_for(KAITONG_PUBLIC_URL="http://127.0.0.1:8000")
    assert plain == {"hsts": 0, "proxy": None, "header": None}


def test_the_operator_sets_hsts_and_the_proxy_header():
    chosen = _settings_for(
        KAITONG_PUBLIC_URL="https://kaitong.example.com",
        KAITONG_HSTS_SECONDS="600",
        KAITONG_PROXY_SSL_HEADER="X-Forwarded-Scheme",
    )
    assert chosen["hsts"] == 600 and chosen["proxy"] == ["HTTP_X_FORWARDED_SCHEME", "https"]
    # The default header is no longer trusted: this request does not count as https.
    assert chosen["header"] is None
