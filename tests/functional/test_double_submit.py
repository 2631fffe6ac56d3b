"""A double click is one click: every state-changing form of the activation flow, submitted five times
at the same moment from one page (one form token), makes its change once, and every one of the five
answers is the page the first one leads to, never an error the buyer must understand.

Real parallel requests (one thread and one database connection each), so the test database must
commit: ``transaction=True``. Before forms were submitted once, five 开通 made five workspaces on
PostgreSQL and two on SQLite, and the repeats of a form with a code said "code already used".
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import HttpResponse
from django.utils import timezone

from kaitong.accounts import actions, domain
from kaitong.accounts.models import BillingAccount, CloudAccount, ConsoleAccount, VerificationCode
from kaitong.workspaces.models import SettlementChange, Workspace
from tests.support.activation import (
    IN_PAGE,
    STRONG_PASSWORD,
    bind_account,
    code_sent_to,
    confirming,
    enter,
    existing_account,
    form_token,
    request_code,
    submit,
)
from tests.support.concurrency import from_one_browser_at_once, patient_hashing, patient_sqlite_writers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _patient_writers():  # type: ignore[no-untyped-def]
    with patient_sqlite_writers(), patient_hashing():
        yield


CLICKS = 5
BASIC, ENTERPRISE, OPEN = "/activate/register/", "/activate/register/enterprise/", "/activate/register/open/"
EMAIL = "ops@acme.example"


def clicked(client, path: str, data: dict[str, str]) -> list[HttpResponse]:  # type: ignore[no-untyped-def]
    """The form of ``path`` loaded once and its submit button clicked five times at once."""
    token = form_token(client, path)
    assert token, f"{path} shows no form token"
    return from_one_browser_at_once(
        client, CLICKS, lambda browser, n: browser.post(path, {**data, "form_token": token})
    )


def all_lead_to(answers: list[HttpResponse], location: str) -> bool:
    return [(a.status_code, a.get("Location")) for a in answers] == [(302, location)] * CLICKS


def _registration(code: str) -> dict[str, str]:
    return {
        "username": "Initech",
        "password1": STRONG_PASSWORD,
        "password2": STRONG_PASSWORD,
        "email": "boss@initech.example",
        "code": code,
        "phone": "",
    }


def test_register_commercial_edition_each_step_clicked_five_times(client):
    enter(client, "940001")
    code = request_code(client, BASIC, "boss@initech.example")

    assert all_lead_to(clicked(client, BASIC, confirming(_registration(code))), ENTERPRISE)
    assert VerificationCode.objects.get().used_at is not None
    assert "企业名称" in client.get(ENTERPRISE).content.decode()  # the draft of step 1 is there

    assert all_lead_to(clicked(client, ENTERPRISE, {"enterprise_name": "Initech", "agree": "on"}), OPEN)
    assert BillingAccount.objects.count() == ConsoleAccount.objects.count() == 1

    assert all_lead_to(clicked(client, OPEN, {"name": "initech-prod", "language": "zh"}), "/activate/done/")
    assert Workspace.objects.count() == 1
    done = client.get("/activate/done/").content.decode()
    assert "开通成功" in done and done.count('data-testid="bound-row"') == 1 and 'data-name="initech-prod"' in done


def test_bind_account_then_workspace_each_clicked_five_times(client):
    existing_account("acme", EMAIL, workspaces=("acme-prod",))
    enter(client, "940002")
    code = request_code(client, "/activate/bind/", EMAIL, username="acme")
    answers = clicked(client, "/activate/bind/", {"username": "acme", "email": EMAIL, "code": code})
    assert all_lead_to(answers, "/activate/workspaces/")
    assert CloudAccount.objects.count() == 1

    workspace = Workspace.objects.get()
    path = f"/activate/workspaces/{workspace.pk}/bind/"
    code = request_code(client, path, EMAIL)
    assert all_lead_to(clicked(client, path, {"email": EMAIL, "code": code}), "/activate/workspaces/")
    assert SettlementChange.objects.filter(workspace=workspace).count() == 2  # created, then bound once
    assert client.get("/activate/workspaces/").content.decode().count('data-testid="bound"') == 1


def test_create_workspace_clicked_five_times(client):
    existing_account("acme", EMAIL)
    enter(client, "940003")
    bind_account(client)
    path = "/activate/workspaces/create/"
    code = request_code(client, path, EMAIL)
    data = {"name": "acme-new", "language": "en", "email": EMAIL, "code": code, "agree": "on"}
    assert all_lead_to(clicked(client, path, data), "/activate/workspaces/")
    assert Workspace.objects.count() == 1


def test_register_console_account_clicked_five_times(client):
    enter(client, "940004")
    path = "/activate/workspaces/register/"
    code = request_code(client, path, "admin@newco.example")
    data = confirming(
        {
            **_registration(code),
            "username": "NewCo",
            "email": "admin@newco.example",
            "name": "生产环境",
            "language": "en",
            "agree": "on",
        }
    )
    assert all_lead_to(clicked(client, path, data), "/activate/done/")
    assert (ConsoleAccount.objects.count(), BillingAccount.objects.count(), Workspace.objects.count()) == (1, 1, 1)
    assert "生产环境" in client.get("/activate/done/").content.decode()


def test_send_code_clicked_five_times_sends_one_code(client):
    """Without JavaScript: five redirects back to the form, which says the code was sent."""
    enter(client, "940005")
    path = "/activate/workspaces/register/"
    answers = clicked(client, path, {"op": "send_code", "email": "admin@newco.example"})
    assert all_lead_to(answers, path)
    assert "验证码已发送至 admin@newco.example" in client.get(path).content.decode()
    assert VerificationCode.objects.count() == 1


def test_send_code_clicked_five_times_in_the_page_sends_one_code(client):
    """With JavaScript (htmx): five answers in the page, each the sent notice and its countdown."""
    enter(client, "940008")
    path = "/activate/workspaces/register/"
    token = form_token(client, path)
    answers = from_one_browser_at_once(
        client,
        CLICKS,
        lambda browser, n: browser.post(
            path, {"op": "send_code", "email": "admin@newco.example", "form_token": token}, **IN_PAGE
        ),
    )
    assert [answer.status_code for answer in answers] == [200] * CLICKS
    for answer in answers:
        body = answer.content.decode()
        assert "验证码已发送至 admin@newco.example" in body and 'data-wait="60"' in body
    assert VerificationCode.objects.count() == 1


def test_a_new_page_is_a_new_submission(client):
    """The token is of one page: the same form loaded again and sent again is a second submission."""
    existing_account("acme", EMAIL)
    enter(client, "940006")
    bind_account(client)
    path = "/activate/workspaces/create/"
    # The first code as if sent two minutes ago, so that the second is past the resend cooldown.
    actions.do_send_verification_code(
        email=EMAIL,
        purpose=domain.Purpose.CREATE_WORKSPACE,
        ip="10.0.0.1",
        language="zh-hans",
        now=timezone.now() - timedelta(minutes=2),
    )
    codes = [code_sent_to(EMAIL), None]
    for name, code in zip(("first", "second"), codes, strict=True):
        data = {
            "name": name,
            "language": "en",
            "email": EMAIL,
            "code": code or request_code(client, path, EMAIL),
            "agree": "on",
        }
        assert submit(client, path, data).status_code == 302
    assert sorted(Workspace.objects.values_list("name", flat=True)) == ["first", "second"]


def test_a_form_without_its_token_is_shown_again_and_changes_nothing(client):
    existing_account("acme", EMAIL)
    enter(client, "940007")
    bind_account(client)
    path = "/activate/workspaces/create/"
    response = client.post(path, {"name": "x", "language": "en"})
    assert response.status_code == 302 and response["Location"] == path
    page = client.get(path)
    assert page.status_code == 400 and "页面已过期，请检查后重新提交" in page.content.decode()
    assert 'value="x"' in page.content.decode() and 'name="form_token"' in page.content.decode()
    assert not Workspace.objects.exists()


def test_register_enterprise_account_clicked_five_times(client):
    """尚无企业账号 → 注册 (issue 11, item 8): one account, its instance bound once, five answers to the list."""
    enter(client, "940009")
    path = "/activate/bind/register/"
    code = request_code(client, path, "boss@initech.example")
    data = confirming({**_registration(code), "enterprise_name": "Initech", "agree": "on"})
    assert all_lead_to(clicked(client, path, data), "/activate/workspaces/")
    assert (ConsoleAccount.objects.count(), BillingAccount.objects.count(), CloudAccount.objects.count()) == (1, 1, 1)
    assert Workspace.objects.count() == 0
