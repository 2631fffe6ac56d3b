"""Drive the seed page the way a buyer does: SPI create, signed login-free URL, codes from email."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlencode

from django.core import mail
from django.utils import timezone

from kaitong.marketplace.aliyun.spi import format_time
from kaitong.marketplace.aliyun.token import signed
from tests.support.jobs import run_jobs
from tests.support.marketplace import call_spi, create_params, isv_key

SSO_PATH = "/marketplace/aliyun/sso"
STRONG_PASSWORD = "Kaitong-Strong-Pass-2026"


def verify_params(instance_id: str, *, at: datetime | None = None) -> dict[str, str]:
    stamp = format_time(at or timezone.now())
    return signed({"action": "verify", "instanceId": instance_id, "timeStamp": stamp}, isv_key())


def verify_url(instance_id: str, *, at: datetime | None = None, base: str = "") -> str:
    return base + SSO_PATH + "?" + urlencode(verify_params(instance_id, at=at))


def open_instance(client, instance_id: str = "100001", *, ali_uid: str = "1234567890123456", **extra: str) -> None:  # type: ignore[no-untyped-def]
    call_spi(client, create_params(instance_id, ali_uid=ali_uid, **extra))


def enter(client, instance_id: str = "100001", *, ali_uid: str = "1234567890123456", **extra: str):  # type: ignore[no-untyped-def]
    """Create the instance through the SPI endpoint (``extra``: more createInstance parameters, e.g.
    ``productCode``), then come in through its login-free URL."""
    open_instance(client, instance_id, ali_uid=ali_uid, **extra)
    response = client.get(verify_url(instance_id))
    assert response.status_code == 302, response.content
    return response


def deliver_mail(at: datetime | None = None) -> None:
    """Run queued tasks the way ``kaitong worker`` does."""
    run_jobs(now=at)


def code_sent_to(email: str, *, at: datetime | None = None) -> str:
    """Deliver pending mail and return the newest code in the locmem outbox for ``email``."""
    deliver_mail(at)
    for message in reversed(mail.outbox):
        if email in message.to:
            found = re.search(r"\b(\d{6})\b", message.body)
            assert found, message.body
            return found.group(1)
    raise AssertionError(f"no email to {email}")


_FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def form_token(client, path: str) -> str:  # type: ignore[no-untyped-def]
    """The token of the form on ``path``, as the browser gets it with the page ("" if none is shown)."""
    found = _FORM_TOKEN.search(client.get(path).content.decode())
    return found.group(1) if found else ""


def submit(client, path: str, data: dict[str, str], *, token: str | None = None):  # type: ignore[no-untyped-def]
    """Post the form of ``path`` as a browser does: load the page, then send its fields with the page's
    form token (or ``token``: the same token again is a repeat of one submission).

    A POST answers with a redirect (Post/Redirect/Get). One back to the form's own page is followed as
    the browser follows it, and that page is returned: the form as posted, its errors and the refusal's
    status (400, 409, 429 with Retry-After). A redirect elsewhere (the next step) is returned as it is."""
    response = client.post(path, {**data, "form_token": form_token(client, path) if token is None else token})
    if response.status_code == 302 and response["Location"] == path:
        return client.get(path)
    return response


IN_PAGE = {"HTTP_HX_REQUEST": "true"}  # what htmx sends: the request of 获取验证码 with JavaScript


def send_code_in_page(client, path: str, email: str, *, token: str | None = None, **fields: str):  # type: ignore[no-untyped-def]
    """获取验证码 as the page's script sends it (htmx): the answer is the button and the line under it."""
    data = {"op": "send_code", "email": email, "form_token": form_token(client, path) if token is None else token}
    return client.post(path, {**data, **fields}, **IN_PAGE)


def confirming(data: dict[str, str]) -> dict[str, str]:
    """A registration form as a buyer sends it after ticking 用户名将注册为 …: the checkbox carries the
    canonical name the page showed ("" when the typed name is invalid). ``data`` may set its own."""
    from kaitong.accounts import domain

    try:
        name = domain.canonical_username(data.get("username", ""))
    except domain.UsernameError:
        name = ""
    return {"confirm_username": name, **data}


def request_code(client, path: str, email: str, **fields: str) -> str:  # type: ignore[no-untyped-def]
    response = submit(client, path, {"op": "send_code", "email": email, **fields})
    assert response.status_code == 200, response.content
    return code_sent_to(email)


def bind_account(client, username: str = "acme", email: str = "ops@acme.example"):  # type: ignore[no-untyped-def]
    """已有企业账号，去绑定: the code sent to ``email``, then the bind form posted with it."""
    code = request_code(client, "/activate/bind/", email, username=username)
    return submit(client, "/activate/bind/", {"username": username, "email": email, "code": code})


def bind_workspace(client, workspace_id: int, email: str):  # type: ignore[no-untyped-def]
    """Bind an existing workspace to the instance: the code sent to ``email``, then the form posted."""
    path = f"/activate/workspaces/{workspace_id}/bind/"
    code = request_code(client, path, email)
    return submit(client, path, {"email": email, "code": code})


def existing_account(username: str = "acme", email: str = "ops@acme.example", workspaces: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    """A console account + same-named billing-center account registered earlier, with workspaces
    settled by the billing-center account (as the direct commercial registration leaves them), all
    made through the actions."""
    from django.contrib.auth.hashers import make_password

    from kaitong.accounts import actions as accounts
    from kaitong.workspaces import actions as workspace_actions
    from kaitong.workspaces import domain as workspace_rules

    now = timezone.now()
    account = accounts.do_register_verified_console_account(
        username=username, password_hash=make_password(STRONG_PASSWORD), email=email, enterprise_name="", now=now
    )
    for name in workspaces:
        workspace_actions.do_create_workspace(
            billing_account_id=account.pk,
            name=name,
            language="zh",
            settled_by=workspace_rules.BY_BILLING_ACCOUNT,
            reason=workspace_rules.Reason.CREATED,
            acting="test",
            now=now,
        )
    return account
