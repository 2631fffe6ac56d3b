"""After 开通成功: console sign-in, workspace home, DataKit commands carrying this workspace's token."""

from __future__ import annotations

import pytest

from kaitong.workspaces.models import Workspace
from tests.support.accounts import OPERATOR_PASSWORD, operator
from tests.support.activation import STRONG_PASSWORD, existing_account

pytestmark = pytest.mark.django_db


def test_sign_in_with_any_case_and_see_datakit_commands(client, settings):
    account = existing_account("acme", "ops@acme.example", workspaces=("acme-prod",))
    workspace = Workspace.objects.get()
    page = client.get("/console/login/")
    assert page.status_code == 200 and "登录观测云控制台" in page.content.decode()
    response = client.post("/console/login/", {"username": "ACME", "password": STRONG_PASSWORD})
    assert response.status_code == 302
    home = client.get("/console/", follow=True)
    body = home.content.decode()
    assert home.redirect_chain[-1][0] == f"/console/workspaces/{workspace.pk}/"
    assert "从安装 DataKit 开始" in body
    dataway = f"{settings.ENV.dataway_url}?token={workspace.token}"
    assert f"DK_DATAWAY=&quot;{dataway}&quot; bash -c" in body
    assert f"$env:DK_DATAWAY=&quot;{dataway}&quot;;" in body
    assert "install.ps1" in body and 'data-testid="copy-linux"' in body
    assert account.console_account.password.startswith("argon2")


def test_a_full_width_username_signs_in_as_it_was_registered(client):
    # Registration stores "ＡＣＭＥ" as "acme" (NFKC, then lower-case); Django's username field applies
    # NFKC on sign-in and the form lowers it, so the two agree.
    existing_account("acme", "ops@acme.example")
    response = client.post("/console/login/", {"username": "ＡＣＭＥ", "password": STRONG_PASSWORD})
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_wrong_password_is_a_clear_message(client):
    existing_account("acme", "ops@acme.example")
    response = client.post("/console/login/", {"username": "acme", "password": "wrong-password-1"})
    assert response.status_code == 200
    assert "用户名或密码错误" in response.content.decode()


def test_repeated_wrong_passwords_lock_the_username_for_an_hour(client):
    existing_account("acme", "ops@acme.example")
    for _ in range(10):
        client.post("/console/login/", {"username": "acme", "password": "wrong-password-1"})
    # Now even the right password is refused: 429 with Retry-After (until the hour's window closes),
    # and the page says why and for how long.
    response = client.post("/console/login/", {"username": "acme", "password": STRONG_PASSWORD})
    wait = int(response["Retry-After"])
    assert response.status_code == 429 and 0 < wait <= 3600
    assert f"登录失败次数过多，请 {(wait + 59) // 60} 分钟后再试" in response.content.decode()
    assert 'name="password"' in response.content.decode()  # the form is still there
    assert "_auth_user_id" not in client.session


def test_a_very_long_username_is_throttled_too(client):
    # Its throttle key is longer than the counter's column: counting and checking must still agree.
    name = "x" * 140
    for _ in range(10):
        client.post("/console/login/", {"username": name, "password": "wrong-password-1"})
    response = client.post("/console/login/", {"username": name, "password": "wrong-password-1"})
    assert response.status_code == 429 and "登录失败次数过多" in response.content.decode()


def test_another_owners_workspace_is_not_found(client):
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod",))
    existing_account("globex", "it@globex.example", workspaces=("globex-prod",))
    client.post("/console/login/", {"username": "acme", "password": STRONG_PASSWORD})
    other = Workspace.objects.get(name="globex-prod")
    response = client.get(f"/console/workspaces/{other.pk}/")
    assert response.status_code == 404 and other.token not in response.content.decode()


def test_console_needs_sign_in(client):
    response = client.get("/console/")
    assert response.status_code == 302 and response["Location"].startswith("/console/login/")


def test_the_stylesheet_is_served(client):
    page = client.get("/console/login/").content.decode()
    assert '/static/kaitong/kaitong.css"' in page
    css = client.get("/static/kaitong/kaitong.css")
    assert css.status_code == 200 and b".stepper" in b"".join(css.streaming_content)


def test_the_operator_console_sign_in_is_throttled_too(client):
    operator()
    for _ in range(10):
        wrong = client.post("/ops/login/", {"username": "ops", "password": "wrong-password-1"})
        assert wrong.status_code == 200
    response = client.post("/ops/login/", {"username": "ops", "password": OPERATOR_PASSWORD})
    assert response.status_code == 429 and 0 < int(response["Retry-After"]) <= 3600
    assert "登录失败次数过多" in response.content.decode() and "_auth_user_id" not in client.session
