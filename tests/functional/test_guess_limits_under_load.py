"""Guess limits hold under 40 guesses sent at the same moment, on SQLite and PostgreSQL: 5 wrong tries
burn a code, 10 wrong passwords lock a username for the hour, and never one evaluation more.

Real parallel requests (one thread and one database connection each), so the test database must
commit: ``transaction=True``. Counting that was not atomic let 8 guesses through on PostgreSQL and 6
on SQLite against one code, and 17 wrong passwords against one username.
"""

from __future__ import annotations

import pytest

from kaitong.accounts import domain
from kaitong.accounts.models import FormSubmission, Throttle, VerificationCode
from tests.support.activation import STRONG_PASSWORD, code_sent_to, enter, existing_account, form_token, request_code
from tests.support.concurrency import from_one_browser_at_once, patient_hashing, patient_sqlite_writers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _patient_writers():  # type: ignore[no-untyped-def]
    with patient_sqlite_writers(), patient_hashing():
        yield


GUESSES = 40
EMAIL = "ops@acme.example"
BIND = "/activate/bind/"


def _wrong_codes(right: str) -> list[str]:
    return [code for code in (f"{n:06d}" for n in range(GUESSES + 1)) if code != right][:GUESSES]


def test_forty_wrong_codes_at_once_get_five_evaluations(client):
    existing_account("acme", EMAIL)
    enter(client, "930001")
    request_code(client, BIND, EMAIL, username="acme")
    wrong = _wrong_codes(code_sent_to(EMAIL))

    # Each guess a submission of its own (a script takes a fresh page, and so a fresh form token, each time).
    tokens = [form_token(client, BIND) for _ in range(GUESSES)]
    answers = from_one_browser_at_once(
        client,
        GUESSES,
        lambda browser, n: browser.post(
            BIND, {"username": "acme", "email": EMAIL, "code": wrong[n], "form_token": tokens[n]}
        ),
    )

    # Every guess is answered by a redirect back to the form (Post/Redirect/Get); what each was told is
    # what its submission recorded, and what the form's page says next is one of those.
    assert [(answer.status_code, answer["Location"]) for answer in answers] == [(302, BIND)] * GUESSES
    # Four guesses were told how many tries are left (4, 3, 2, 1); the fifth wrong try burns the code,
    # and every other guess is refused without being compared: the code is burned.
    told = [outcome for outcome in FormSubmission.objects.values_list("outcome", flat=True) if outcome]
    assert sorted(outcome["tries_left"] for outcome in told if outcome["refused"] == "wrong") == [1, 2, 3, 4]
    assert [outcome["refused"] for outcome in told].count("burned") == 1
    assert VerificationCode.objects.get().failures == domain.CODE_MAX_TRIES
    page = client.get(BIND)
    assert page.status_code == 400
    assert "验证码错误次数过多，已失效" in page.content.decode() or "验证码错误，还可尝试" in page.content.decode()


def test_forty_wrong_passwords_at_once_get_ten_evaluations(client):
    existing_account("acme", EMAIL)

    answers = from_one_browser_at_once(
        client,
        GUESSES,
        lambda browser, n: browser.post("/console/login/", {"username": "acme", "password": f"wrong-password-{n}"}),
    )

    bodies = [answer.content.decode() for answer in answers]
    assert sum("用户名或密码错误" in body for body in bodies) == domain.SIGN_IN_FAILURES_PER_USERNAME_PER_HOUR
    locked_out = [answer for answer in answers if "登录失败次数过多" in answer.content.decode()]
    assert len(locked_out) == GUESSES - domain.SIGN_IN_FAILURES_PER_USERNAME_PER_HOUR
    assert Throttle.objects.get(key="sign-in:user:acme").hits == domain.SIGN_IN_FAILURES_PER_USERNAME_PER_HOUR
    # And the right password is refused now too, until the hour is over.
    right = client.post("/console/login/", {"username": "acme", "password": STRONG_PASSWORD})
    assert "登录失败次数过多" in right.content.decode()
