"""Email codes end to end: hashed, bound, 10 minutes, 5 tries, cooldown, caps, mail in the page's language."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from kaitong.accounts import actions, domain
from kaitong.accounts.models import VerificationCode
from tests.support.activation import code_sent_to, confirming, deliver_mail, enter, submit

pytestmark = pytest.mark.django_db
EMAIL = "dev@code.example"
REG = domain.Purpose.REGISTER


def send(now, *, email=EMAIL, ip="10.0.0.1", purpose=REG, language="zh-hans"):  # type: ignore[no-untyped-def]
    actions.do_send_verification_code(email=email, purpose=purpose, ip=ip, language=language, now=now)


def check(code, now, *, email=EMAIL, purpose=REG):  # type: ignore[no-untyped-def]
    return actions.do_verify_email(email=email, purpose=purpose, code=code, now=now)


def test_code_is_stored_as_hmac_and_never_in_a_log(caplog, settings):
    caplog.set_level(logging.DEBUG)  # production logs INFO; the test settings alone would hide it
    now = timezone.now()
    send(now)
    code = code_sent_to(EMAIL)
    row = VerificationCode.objects.get()
    assert row.code_hmac == domain.code_digest(code, key=settings.SECRET_KEY, email=EMAIL, purpose=REG)
    assert code not in caplog.text


def test_valid_for_ten_minutes():
    now = timezone.now()
    send(now)
    code = code_sent_to(EMAIL)
    with pytest.raises(actions.CodeRefused) as caught:
        check(code, now + timedelta(minutes=10, seconds=1))
    assert caught.value.verdict is domain.Verdict.EXPIRED
    assert check(code, now + timedelta(minutes=9, seconds=59)) == EMAIL


def test_single_use():
    now = timezone.now()
    send(now)
    code = code_sent_to(EMAIL)
    check(code, now)
    with pytest.raises(actions.CodeRefused) as caught:
        check(code, now)
    assert caught.value.verdict is domain.Verdict.USED


def test_five_wrong_tries_burn_the_code():
    now = timezone.now()
    send(now)
    code = code_sent_to(EMAIL)
    wrong = "000000" if code != "000000" else "111111"
    lefts = []
    for _ in range(5):
        with pytest.raises(actions.CodeRefused) as caught:
            check(wrong, now)
        lefts.append(caught.value.tries_left)
    assert lefts == [4, 3, 2, 1, 0]
    assert caught.value.verdict is domain.Verdict.BURNED
    with pytest.raises(actions.CodeRefused) as caught:
        check(code, now)  # the 6th try fails even with the right code
    assert caught.value.verdict is domain.Verdict.BURNED


def _ten_wrong_tries_over_three_codes(start):  # type: ignore[no-untyped-def]
    """4 + 4 + 2 wrong tries on three codes sent 2 minutes apart from ``start``; the newest code."""
    wrong_tries = 0
    for round_ in range(3):
        at = start + timedelta(minutes=2 * round_)
        send(at)
        code = code_sent_to(EMAIL, at=at)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(4 if round_ < 2 else 2):
            with pytest.raises(actions.CodeRefused):
                check(wrong, at)
            wrong_tries += 1
    assert wrong_tries == domain.FAILURES_PER_HOUR
    return code


def test_a_new_code_does_not_reset_the_failure_count():
    now = timezone.now()
    code = _ten_wrong_tries_over_three_codes(now)
    # Ten wrong tries over three codes: the newest code, though fresh and right, is locked until the
    # first code's four tries stop counting (its creation + 1 hour + its 10 minutes of life).
    with pytest.raises(actions.CodeRefused) as caught:
        check(code, now + timedelta(minutes=4))
    assert caught.value.verdict is domain.Verdict.LOCKED
    assert caught.value.retry_after == (70 - 4) * 60
    with pytest.raises(actions.CodeRefused) as caught:
        check(code, now + timedelta(minutes=70, seconds=1))
    assert caught.value.verdict is domain.Verdict.EXPIRED  # no longer locked (the code itself is old)


def test_a_locked_mailbox_is_answered_429_with_retry_after_and_says_how_long(client):
    enter(client, "800003")
    start = timezone.now() - timedelta(minutes=8)
    code = _ten_wrong_tries_over_three_codes(start)
    form = {"username": "newco", "password1": "Kaitong-Strong-Pass-2026", "password2": "Kaitong-Strong-Pass-2026"}
    response = submit(client, "/activate/register/", confirming({**form, "email": EMAIL, "code": code}))
    wait = int(response["Retry-After"])
    assert response.status_code == 429 and (70 - 8 - 1) * 60 < wait <= (70 - 8) * 60
    body = response.content.decode()
    assert f"验证码错误次数过多，请 {(wait + 59) // 60} 分钟后再试" in body
    assert 'name="code"' in body  # the form is still there


def test_only_the_newest_code_counts():
    now = timezone.now()
    send(now)
    first = code_sent_to(EMAIL)
    send(now + timedelta(seconds=61))
    second = code_sent_to(EMAIL, at=now + timedelta(seconds=61))
    if first != second:
        with pytest.raises(actions.CodeRefused):
            check(first, now + timedelta(seconds=62))
    assert check(second, now + timedelta(seconds=62)) == EMAIL


def test_bound_to_purpose():
    now = timezone.now()
    send(now, purpose=domain.Purpose.BIND_WORKSPACE)
    code = code_sent_to(EMAIL)
    with pytest.raises(actions.CodeRefused) as caught:
        check(code, now)
    assert caught.value.verdict is domain.Verdict.MISSING


def test_resend_cooldown_and_hourly_caps():
    now = timezone.now()
    send(now)
    with pytest.raises(domain.IssueRefused) as caught:
        send(now + timedelta(seconds=59))
    assert caught.value.reason == "cooldown"
    for i in range(1, domain.CODES_PER_EMAIL_PER_HOUR):
        send(now + timedelta(minutes=2 * i))
    with pytest.raises(domain.IssueRefused) as caught:
        send(now + timedelta(minutes=20))
    assert caught.value.reason == "email_cap"
    assert VerificationCode.objects.count() == domain.CODES_PER_EMAIL_PER_HOUR
    for i in range(domain.CODES_PER_IP_PER_HOUR - domain.CODES_PER_EMAIL_PER_HOUR):
        send(now, email=f"user{i}@ip.example")
    with pytest.raises(domain.IssueRefused) as caught:
        send(now, email="one-more@ip.example")
    assert caught.value.reason == "ip_cap"


def test_page_says_cooldown_and_bad_email_clearly(client):
    """A second 获取验证码 within the cooldown keeps the notice of the code sent and says when to ask
    again (issue 11, item 5); the page's GET after the redirect answers 429 with Retry-After."""
    enter(client, "800001")
    path = "/activate/workspaces/register/"
    first = submit(client, path, {"op": "send_code", "email": EMAIL})
    assert "验证码已发送至 dev@code.example" in first.content.decode()
    second = submit(client, path, {"op": "send_code", "email": EMAIL})
    wait = int(second["Retry-After"])
    assert second.status_code == 429 and 0 < wait <= 60
    body = second.content.decode()
    assert "验证码已发送至 dev@code.example，10 分钟内有效" in body and f"如未收到，请 {wait} 秒后重新获取" in body
    assert "验证码发送过于频繁" not in body
    assert 'name="email"' in body and f'data-wait="{wait}"' in body  # the form, its button counting down
    bad = submit(client, path, {"op": "send_code", "email": "nope"})
    assert bad.status_code == 400 and "请输入有效的邮箱地址" in bad.content.decode()
    assert VerificationCode.objects.count() == 1


def test_email_goes_out_through_a_task_in_the_page_language(client):
    client.cookies["django_language"] = "en"
    enter(client, "800002")
    submit(client, "/activate/workspaces/register/", {"op": "send_code", "email": EMAIL})
    assert len(mail.outbox) == 0  # queued, not sent inline
    assert DBTaskResult.objects.filter(task_path="kaitong.mail.tasks.send_email", status="READY").count() == 1
    deliver_mail()
    message = mail.outbox[-1]
    assert message.to == [EMAIL]
    assert message.subject.startswith("Guance Cloud verification code")
    assert "valid for 10 minutes" in message.body
