"""获取验证码 and the forms around it (issue 11, items 3–6).

With JavaScript, 获取验证码 is an in-page request answered by the button (its countdown), the line under
it and a new form token; without, a POST answered by a redirect to the same page, which shows the same
line. Every POST answers with a redirect (Post/Redirect/Get): a refused form's page shows what was
typed, the errors and the refusal's status once, by a GET, so Back never offers to send it again. A
page for something done already says so. A code goes only to an address the form's check on submit
accepts, and an anonymous visitor cannot tell from the answer, its limits or its work whether it did.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kaitong.accounts import actions, domain
from kaitong.accounts.models import VerificationCode
from kaitong.workspaces.models import Workspace
from tests.support.activation import (
    STRONG_PASSWORD,
    bind_account,
    bind_workspace,
    code_sent_to,
    confirming,
    deliver_mail,
    enter,
    existing_account,
    form_token,
    open_instance,
    request_code,
    send_code_in_page,
    submit,
    verify_url,
)

pytestmark = pytest.mark.django_db
BASIC = "/activate/register/"
BIND = "/activate/bind/"
CREATE = "/activate/workspaces/create/"
REGISTER = "/activate/workspaces/register/"
EMAIL = "ops@acme.example"
NEW_TOKEN = re.compile(r'name="form_token" value="([^"]+)" id="form-token" hx-swap-oob="true"')


def mailed() -> list[list[str]]:
    """Who got a verification code so far (the worker run first), in order; other mail (a binding's
    settlement-changed notice to the workspace's owner) is not what these tests are about."""
    deliver_mail()
    return [message.to for message in mail.outbox if "验证码" in message.subject or "verification" in message.subject]


def _alike(body: str, *emails: str) -> str:
    """An answer with its addresses and its one-time tokens blanked, to compare two answers."""
    for email in emails:
        body = body.replace(email, "EMAIL")
    return re.sub(r'name="(csrfmiddlewaretoken|form_token)" value="[^"]+"', "", body)


# -- 获取验证码 in the page (item 3) ----------------------------------------------------------------------


def test_in_page_send_answers_the_button_the_notice_and_a_new_token(client):
    enter(client, "960001")
    token = form_token(client, BASIC)
    answer = send_code_in_page(client, BASIC, "boss@initech.example", token=token, username="initech")
    body = answer.content.decode()
    assert answer.status_code == 200 and "<form" not in body and "<html" not in body
    assert 'id="send-code"' in body and 'data-wait="60"' in body and 'hx-post="/activate/register/"' in body
    assert re.search(r'id="code-notice"[^>]*hx-swap-oob="true"', body)
    assert "验证码已发送至 boss@initech.example，10 分钟内有效" in body
    found = NEW_TOKEN.search(body)
    assert found and found.group(1) != token
    assert mailed() == [["boss@initech.example"]]
    # Nothing is kept for a later page: the form's page, loaded again, is a fresh one.
    assert "验证码已发送" not in client.get(BASIC).content.decode()


def test_the_form_sent_with_the_token_its_code_was_asked_with_is_its_own_submission(client):
    """If the new token never reached the page, the submit with the page's first token still counts."""
    enter(client, "960002")
    token = form_token(client, BASIC)
    send_code_in_page(client, BASIC, "boss@initech.example", token=token)
    data = confirming(
        {
            "username": "initech",
            "password1": STRONG_PASSWORD,
            "password2": STRONG_PASSWORD,
            "email": "boss@initech.example",
            "code": code_sent_to("boss@initech.example"),
        }
    )
    response = submit(client, BASIC, data, token=token)
    assert response.status_code == 302 and response["Location"] == "/activate/register/enterprise/"


def test_in_page_second_click_within_the_cooldown_keeps_the_notice_and_counts_the_rest(client):
    """Item 5: not "验证码发送过于频繁": the notice of the code sent stays, with when to ask again."""
    enter(client, "960003")
    first = send_code_in_page(client, REGISTER, "admin@newco.example")
    token = NEW_TOKEN.search(first.content.decode()).group(1)  # type: ignore[union-attr]
    second = send_code_in_page(client, REGISTER, "admin@newco.example", token=token)
    wait = int(second["Retry-After"])
    body = second.content.decode()
    assert second.status_code == 429 and 0 < wait <= 60
    assert "验证码已发送至 admin@newco.example，10 分钟内有效" in body
    assert f"如未收到，请 {wait} 秒后重新获取" in body and "过于频繁" not in body
    assert f'data-wait="{wait}"' in body and "data-refused" not in body
    assert VerificationCode.objects.count() == 1 and mailed() == [["admin@newco.example"]]


def test_in_page_refusals_say_why_beside_the_button(client):
    enter(client, "960004")
    bad = send_code_in_page(client, REGISTER, "not-an-email")
    assert bad.status_code == 400 and "请输入有效的邮箱地址" in bad.content.decode()
    assert 'data-refused="true"' in bad.content.decode() and 'data-wait="0"' in bad.content.decode()
    no_name = send_code_in_page(client, BIND, EMAIL, username="")
    assert no_name.status_code == 400 and "请填写用户名" in no_name.content.decode()
    assert not VerificationCode.objects.exists()


# -- Post/Redirect/Get (item 4) ---------------------------------------------------------------------------


def test_every_post_answers_with_a_redirect_and_the_page_shows_what_happened_once(client):
    existing_account("acme", EMAIL)
    enter(client, "960010")
    bind_account(client)
    form = {"name": "acme-new", "language": "en", "email": EMAIL, "agree": "on"}

    def post(data: dict[str, str], token: str | None = "page") -> tuple[int, str]:
        sent = {**data, "form_token": form_token(client, CREATE)} if token else data
        response = client.post(CREATE, sent)
        return response.status_code, response.get("Location", "")

    back = (302, CREATE)
    assert post(form | {"code": "1"}, token=None) == back  # no page token
    assert client.get(CREATE).status_code == 400
    assert post(form | {"name": " ", "code": "123456"}) == back  # invalid
    page = client.get(CREATE)
    assert page.status_code == 400 and "请填写工作空间名称" in page.content.decode()
    assert 'value="en" id="id_language_1" required checked' in page.content.decode()  # what was typed is kept
    again = client.get(CREATE)  # shown once: a reload is a fresh form
    assert again.status_code == 200 and "请填写工作空间名称" not in again.content.decode()
    assert post(form | {"op": "send_code"}) == back  # 获取验证码 without JavaScript
    assert "验证码已发送至 ops@acme.example" in client.get(CREATE).content.decode()
    code = code_sent_to(EMAIL)
    assert post(form | {"code": "000000" if code != "000000" else "111111"}) == back  # a wrong code: a try counted
    page = client.get(CREATE)
    assert page.status_code == 400 and "验证码错误，还可尝试 4 次" in page.content.decode()
    assert VerificationCode.objects.get(purpose="create_workspace").failures == 1
    assert post(form | {"code": code}) == (302, "/activate/workspaces/")
    assert Workspace.objects.filter(name="acme-new").count() == 1


def test_a_refused_registration_never_echoes_a_password_or_a_code(client):
    enter(client, "960011")
    code = request_code(client, REGISTER, "admin@newco.example")
    data = {
        "name": "newco",
        "language": "zh",
        "username": "newco",
        "password1": STRONG_PASSWORD,
        "password2": STRONG_PASSWORD + "-not-the-same",
        "email": "admin@newco.example",
        "code": code,
        "agree": "on",
    }
    page = submit(client, REGISTER, data)
    body = page.content.decode()
    assert page.status_code == 400 and "两次输入的密码不一致" in body
    assert STRONG_PASSWORD not in body and code not in body
    assert 'value="newco"' in body and 'value="admin@newco.example"' in body


def test_what_a_form_showed_is_for_its_own_page_only(client):
    existing_account("acme", EMAIL)
    enter(client, "960012")
    bind_account(client)
    client.post(CREATE, {"name": " ", "form_token": form_token(client, CREATE)})
    client.get("/activate/workspaces/")  # another page first: what was kept is dropped
    page = client.get(CREATE)
    assert page.status_code == 200 and "请填写工作空间名称" not in page.content.decode()


def test_a_post_after_the_instance_is_gone_is_sent_to_the_page_that_says_so(client):
    from tests.support.marketplace import call_spi

    enter(client, "960013")
    call_spi(client, {"action": "releaseInstance", "instanceId": "960013", "isRefund": "true"})
    response = client.post(REGISTER, {"op": "send_code", "email": "a@b.example"})
    assert response.status_code == 302 and response["Location"] == REGISTER
    assert client.get(REGISTER).status_code == 409
    in_page = client.post(REGISTER, {"op": "send_code", "email": "a@b.example"}, HTTP_HX_REQUEST="true")
    assert in_page["HX-Redirect"] == REGISTER  # htmx loads the page instead of swapping it into the button
    assert not VerificationCode.objects.exists()


# -- a page for something done already says so (item 4) ----------------------------------------------------


def test_the_bind_url_of_a_bound_workspace_says_bound_never_the_dialog(client):
    existing_account("acme", EMAIL, workspaces=("acme-prod",))
    enter(client, "960020")
    bind_account(client)
    prod = Workspace.objects.get()
    path = f"/activate/workspaces/{prod.pk}/bind/"
    assert bind_workspace(client, prod.pk, EMAIL).status_code == 302
    client.get("/activate/workspaces/")  # the success page, its message read
    for visit in (lambda: client.get(path), lambda: client.post(path, {"email": EMAIL, "code": "123456"})):
        response = visit()
        assert response.status_code == 302 and response["Location"] == "/activate/workspaces/"
        listing = client.get("/activate/workspaces/").content.decode()
        assert "工作空间「acme-prod」已绑定" in listing and 'data-testid="bind-dialog"' not in listing
        assert listing.count('data-testid="bound"') == 1
    assert VerificationCode.objects.get(purpose="bind_workspace").failures == 0  # the POST judged no code


def test_a_workspace_another_instance_settles_has_no_bind_dialog(client):
    existing_account("acme", EMAIL, workspaces=("acme-prod",))
    enter(client, "960021", ali_uid="5000000000000021")
    bind_account(client)
    prod = Workspace.objects.get()
    assert bind_workspace(client, prod.pk, EMAIL).status_code == 302
    # The same account, from another instance of the same Alibaba account.
    open_instance(client, "960022", ali_uid="5000000000000021")
    client.get(verify_url("960022"))
    client.get("/activate/")  # the Alibaba account is known: straight to its billing-center account
    response = client.get(f"/activate/workspaces/{prod.pk}/bind/")
    assert response.status_code == 302 and response["Location"] == "/activate/workspaces/"
    assert "该工作空间已由其他云市场实例结算，无法绑定。" in client.get("/activate/workspaces/").content.decode()


def test_the_bind_account_page_after_binding_is_the_workspace_list(client):
    existing_account("acme", EMAIL)
    enter(client, "960023")
    bind_account(client)
    response = client.get(BIND)
    assert response.status_code == 302 and response["Location"] == "/activate/workspaces/"
    assert "费用中心账号已绑定" in client.get("/activate/workspaces/").content.decode()


# -- only an address that can use the code gets one (item 6) ----------------------------------------------


def test_a_bind_code_goes_only_to_the_accounts_address_and_the_answers_do_not_tell(client):
    existing_account("acme", EMAIL)
    enter(client, "960030")
    answers = {
        "matching": send_code_in_page(client, BIND, EMAIL, username="acme"),
        "unknown username": send_code_in_page(client, BIND, "else@acme.example", username="nobody"),
        "outsider": send_code_in_page(client, BIND, "intruder@evil.example", username="acme"),
    }
    assert mailed() == [[EMAIL]]
    assert {answer.status_code for answer in answers.values()} == {200}
    bodies = {
        name: _alike(answer.content.decode(), EMAIL, "else@acme.example", "intruder@evil.example")
        for name, answer in answers.items()
    }
    assert len(set(bodies.values())) == 1, bodies
    assert "若用户名与邮箱匹配，验证码已发送至 EMAIL，10 分钟内有效" in bodies["outsider"]


def test_a_withheld_code_costs_the_same_work_and_the_same_limits(client):
    """The request for an address that gets no mail writes what a sent one writes (the code, the task),
    so its time says nothing; and it counts toward the cooldown and the hourly caps like a sent one."""
    existing_account("acme", EMAIL)
    enter(client, "960031")

    def statements(email: str) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            assert send_code_in_page(client, BIND, email, username="acme").status_code == 200
        # The statements' shapes: values, ids and times differ, the work does not.
        return [re.sub(r"'[^']*'|\w*\d\w*", "?", query["sql"]) for query in captured.captured_queries]

    assert statements(EMAIL) == statements("intruder@evil.example")
    assert mailed() == [[EMAIL]]
    # The outsider's cooldown answer reads as the account's does.
    account = send_code_in_page(client, BIND, EMAIL, username="acme")
    outsider = send_code_in_page(client, BIND, "intruder@evil.example", username="acme")
    assert account.status_code == outsider.status_code == 429
    assert _alike(account.content.decode(), EMAIL) == _alike(outsider.content.decode(), "intruder@evil.example")
    # And the hourly cap counts withheld codes: the fifth is the last this hour.
    start = timezone.now()
    for minutes in range(2, 2 + 2 * (domain.CODES_PER_EMAIL_PER_HOUR - 1), 2):
        actions.do_send_verification_code(
            email="intruder@evil.example",
            purpose=domain.Purpose.BIND_BILLING_ACCOUNT,
            ip="10.0.0.9",
            language="zh-hans",
            now=start + timedelta(minutes=minutes),
            mail_only_to=frozenset({EMAIL}),
        )
    with pytest.raises(domain.IssueRefused) as capped:
        actions.do_send_verification_code(
            email="intruder@evil.example",
            purpose=domain.Purpose.BIND_BILLING_ACCOUNT,
            ip="10.0.0.9",
            language="zh-hans",
            now=start + timedelta(minutes=20),
            mail_only_to=frozenset({EMAIL}),
        )
    assert capped.value.reason is domain.IssueLimit.EMAIL_CAP
    assert mailed() == [[EMAIL]]


def test_a_withheld_code_is_judged_like_any_other(client):
    """An outsider who asked for a code and guesses is told "wrong", a try counted, as anyone is."""
    existing_account("acme", EMAIL)
    enter(client, "960032")
    send_code_in_page(client, BIND, "intruder@evil.example", username="acme")
    page = submit(client, BIND, {"username": "acme", "email": "intruder@evil.example", "code": "123456"})
    assert page.status_code == 400 and "验证码错误，还可尝试 4 次" in page.content.decode()
    assert VerificationCode.objects.get().failures == 1


def test_create_and_bind_workspace_codes_go_only_to_the_address_their_check_expects(client):
    """The session holds the account: a stranger's address is refused at once, with the words the
    check on submit uses, and mailed nothing; the expected address is mailed and then accepted."""
    existing_account("acme", EMAIL, workspaces=("acme-prod",))
    enter(client, "960033")
    bind_account(client)
    mail.outbox.clear()
    prod = Workspace.objects.get()
    bind_path = f"/activate/workspaces/{prod.pk}/bind/"
    for path, message in (
        (CREATE, "请输入注册观测云账号时使用的邮箱"),
        (bind_path, "请输入该工作空间所属费用中心账号或拥有者的邮箱"),
    ):
        refused = send_code_in_page(client, path, "stranger@else.example")
        assert refused.status_code == 400 and message in refused.content.decode()
        assert "验证码已发送" not in refused.content.decode()
    assert mailed() == []
    assert bind_workspace(client, prod.pk, EMAIL).status_code == 302
    code = request_code(client, CREATE, EMAIL)
    data = {"name": "acme-new", "language": "zh", "email": EMAIL, "code": code, "agree": "on"}
    assert submit(client, CREATE, data).status_code == 302
    assert mailed() == [[EMAIL], [EMAIL]]


def test_a_kept_form_survives_the_session_store_and_is_taken_once():
    from django.contrib.sessions.backends.signed_cookies import SessionStore

    from kaitong.activation.session import BuyerSession, CodeNotice, FormEcho

    store = SessionStore()
    echo = FormEcho(
        path=CREATE,
        typed={"name": "acme-new"},
        errors={"code": ["验证码错误，还可尝试 4 次"]},
        status=429,
        retry_after=42,
        notice=CodeNotice("验证码已发送至 a@b.example", later="如未收到，请 42 秒后重新获取", ready_at=1.5),
    )
    BuyerSession(store).keep_echo(echo)
    store.save()  # JSON, as every session store serialises
    again = BuyerSession(SessionStore(session_key=store.session_key))
    assert again.take_echo("/activate/elsewhere/") is None  # another page's GET drops it
    BuyerSession(store).keep_echo(echo)
    store.save()
    again = BuyerSession(SessionStore(session_key=store.session_key))
    assert again.take_echo(CREATE) == echo
    assert again.take_echo(CREATE) is None
