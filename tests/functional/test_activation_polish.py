"""Rough edges a reviewer found walking the demo: the cooldown after a refused submit, Back to 基本信息."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.db.models import F

from kaitong.accounts.models import VerificationCode
from tests.support.activation import STRONG_PASSWORD, confirming, enter, request_code, submit

pytestmark = pytest.mark.django_db
BASIC, ENTERPRISE = "/activate/register/", "/activate/register/enterprise/"


def _basic(code: str, **overrides: str) -> dict[str, str]:
    data = {
        "username": "Initech",
        "password1": STRONG_PASSWORD,
        "password2": STRONG_PASSWORD,
        "email": "boss@initech.example",
        "code": code,
        "phone": "+86 138 0000 0000",
    }
    return confirming({**data, **overrides})


def _send_code_button(page: str) -> str:
    found = re.search(r'<button[^>]*data-testid="send-code"[^>]*>([^<]*)</button>', page)
    assert found, page
    return found.group(0)


def test_a_refused_submit_shows_the_cooldown_of_the_email_still_running(client):
    enter(client, "720001", ali_uid="5000000000000021")
    code = request_code(client, BASIC, "boss@initech.example")
    wrong = "000000" if code != "000000" else "111111"
    page = submit(client, BASIC, _basic(wrong))
    assert page.status_code == 400
    button = _send_code_button(page.content.decode())
    wait = int(re.search(r'data-wait="(\d+)"', button).group(1))
    assert 50 <= wait <= 60
    assert re.search(rf">{wait} 秒后可重新获取</button>", button)  # without JavaScript: the words say when
    # Another address typed in the form: its own cooldown, none here.
    page = submit(client, BASIC, _basic(wrong, email="other@initech.example")).content.decode()
    assert 'data-wait="0"' in _send_code_button(page) and ">获取验证码</button>" in _send_code_button(page)


def test_past_the_cooldown_a_refused_submit_offers_a_new_code(client):
    enter(client, "720002", ali_uid="5000000000000022")
    request_code(client, BASIC, "boss@initech.example")
    VerificationCode.objects.update(created_at=F("created_at") - timedelta(seconds=61))
    page = submit(client, BASIC, _basic("")).content.decode()  # missing code
    button = _send_code_button(page)
    assert 'data-wait="0"' in button and ">获取验证码</button>" in button


def test_the_cooldown_in_english(client):
    enter(client, "720003", ali_uid="5000000000000023")
    request_code(client, BASIC, "boss@initech.example")
    client.post(BASIC, {**_basic("000001"), "form_token": "x" * 32}, HTTP_ACCEPT_LANGUAGE="en")
    page = client.get(BASIC, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert re.search(r">\d+ s until you can request again</button>", _send_code_button(page))


def test_back_to_basic_info_says_the_email_is_verified_and_leads_on(client):
    enter(client, "720004", ali_uid="5000000000000024")
    code = request_code(client, BASIC, "boss@initech.example")
    assert submit(client, BASIC, _basic(code))["Location"] == ENTERPRISE
    page = client.get(BASIC).content.decode()
    notice = page[page.index('data-testid="verified-draft"') :]
    notice = notice[: notice.index("</div>")]
    assert "已验证邮箱 boss@initech.example，" in unescape(notice) and "继续填写企业信息" in notice
    assert f'href="{ENTERPRISE}"' in notice
    assert 'name="username" value="initech"' in page and 'value="boss@initech.example"' in page
    assert STRONG_PASSWORD not in page
    # The step it leads to still holds the draft.
    assert "boss@initech.example" in client.get(ENTERPRISE).content.decode()


def test_basic_info_without_a_draft_has_no_verified_notice(client):
    enter(client, "720005", ali_uid="5000000000000025")
    assert 'data-testid="verified-draft"' not in client.get(BASIC).content.decode()
