"""The only writers of console accounts, billing-center accounts, cloud accounts and codes.

Every public function is keyword-only, takes ``now``, runs in one transaction and sends mail through
a task queued in it, so an email goes out only if the change it announces committed. Expected failures
are the exception classes below; views turn them into messages (activation/refusals.py).

An action that needs a proved mailbox calls ``consume_code`` first inside its own transaction, and is
decorated with ``counts_wrong_codes``; no callback carries the work.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from kaitong.accounts import domain
from kaitong.accounts.models import BillingAccount, CloudAccount, ConsoleAccount, Throttle, VerificationCode
from kaitong.config import metrics
from kaitong.mail.actions import enqueue_email
from kaitong.marketplace import queries as marketplace_queries

P = ParamSpec("P")
T = TypeVar("T")
Purpose = domain.Purpose


# -- expected failures -------------------------------------------------------------------------------


class CodeRefused(Exception):
    """The code cannot be accepted; ``verdict`` says why (domain.Verdict), ``tries_left`` how many remain."""

    def __init__(self, verdict: domain.Verdict, tries_left: int = 0) -> None:
        super().__init__(verdict.value)
        self.verdict = verdict
        self.tries_left = tries_left
        metrics.count_code_refused(verdict.value)  # each one raised is one code refused


class UsernameTaken(Exception):
    """Somebody already holds this username (console or billing-center)."""


class TooManyAttempts(Exception):
    """This client has had its share of a rate-limited answer this hour."""


class AccountMismatch(Exception):
    """The username and the verified email do not belong to one billing-center account."""


class InstanceNotActive(Exception):
    """The marketplace instance is expired or released (or unknown): it cannot settle anything."""


class InstanceBoundElsewhere(Exception):
    """The instance already settles for another billing-center account."""


class _WrongCode(Exception):
    def __init__(self, code_id: int) -> None:
        super().__init__("wrong code")
        self.code_id = code_id


# -- codes ---------------------------------------------------------------------------------------------


def _secret() -> str:
    return settings.SECRET_KEY


@metrics.counts_code_sends
def do_send_verification_code(*, email: str, purpose: Purpose, ip: str, language: str, now: datetime) -> None:
    """Issue a new code for (email, purpose) and queue its email, or raise domain.IssueRefused.

    The answer does not depend on whether an account uses this email (no enumeration): codes go to any
    syntactically valid address, and what the code unlocks is checked only after it is proved.
    """
    email = domain.normalise_email(email)
    with transaction.atomic():
        hour_ago = now - domain.HOUR
        to_email = list(
            VerificationCode.objects.filter(email=email, created_at__gt=hour_ago).values_list("created_at", flat=True)
        )
        last = (
            VerificationCode.objects.filter(email=email, purpose=purpose)
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        from_ip = list(
            VerificationCode.objects.filter(requested_ip=ip, created_at__gt=hour_ago).values_list(
                "created_at", flat=True
            )
        )
        domain.check_issue(now=now, last_sent_at=last, sent_to_email_last_hour=to_email, sent_from_ip_last_hour=from_ip)
        code = domain.new_code()
        VerificationCode.objects.create(
            email=email,
            purpose=purpose,
            code_hmac=domain.code_digest(code, key=_secret(), email=email, purpose=purpose),
            created_at=now,
            expires_at=now + domain.CODE_LIFETIME,
            requested_ip=ip[:64],
        )
        enqueue_email(
            message_type="verification_code",
            to=email,
            language=language,
            context={"minutes": int(domain.CODE_LIFETIME.total_seconds() // 60), "purpose": purpose},
            secret={"code": code},  # sealed in the task, dropped once mailed: never at rest in clear
            now=now,
        )


def _failures_last_hour(email: str, purpose: str, now: datetime) -> int:
    total = VerificationCode.objects.filter(
        email=email, purpose=purpose, created_at__gt=now - domain.HOUR - domain.CODE_LIFETIME
    ).aggregate(n=Sum("failures"))["n"]
    return int(total or 0)


# Wrong codes are counted after the caller's transaction has rolled back (a wrong code is a failure,
# and the failure undoes the caller's work), so the count must be written by something outside that
# transaction: the guard below, around every action that consumes a code. It is set per call stack,
# so an action called by another guarded action leaves the counting to the outermost one.
_counting_wrong_codes: ContextVar[bool] = ContextVar("counting_wrong_codes", default=False)


def counts_wrong_codes(action: Callable[P, T]) -> Callable[P, T]:
    """Decorate every action that calls ``consume_code``, around its transaction.

    A wrong code raises out of the action's transaction (which rolls back everything the action did)
    and is then counted here, in its own write, so the count survives: five wrong tries burn the code
    and ten an hour lock the (email, purpose), however the action fails. CodeRefused says how many
    tries are left. An action called inside a longer transaction has its count written in that one.
    """

    @functools.wraps(action)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
        if _counting_wrong_codes.get():
            return action(*args, **kwargs)
        token = _counting_wrong_codes.set(True)
        try:
            return action(*args, **kwargs)
        except _WrongCode as wrong:
            VerificationCode.objects.filter(pk=wrong.code_id).update(failures=F("failures") + 1)
            failures = VerificationCode.objects.filter(pk=wrong.code_id).values_list("failures", flat=True).get()
            left = domain.tries_left(failures)
            raise CodeRefused(domain.Verdict.WRONG if left else domain.Verdict.BURNED, left) from None
        finally:
            _counting_wrong_codes.reset(token)

    return guarded


def consume_code(*, email: str, purpose: Purpose, code: str, now: datetime) -> str:
    """Mark the newest code for (email, purpose) used, inside the caller's transaction; return the
    normalised email it proves. CodeRefused when it cannot be used.

    The caller's work follows in the same transaction: if the work fails, the consumption rolls back
    with it and the code stays usable. Only an action decorated with ``counts_wrong_codes`` may call
    this (a wrong code would otherwise go uncounted), and it must run inside a transaction.
    """
    if not _counting_wrong_codes.get():
        raise RuntimeError("consume_code needs an action decorated with @counts_wrong_codes")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("consume_code runs inside the transaction of the work it proves")
    email = domain.normalise_email(email)
    row = (
        VerificationCode.objects.select_for_update()
        .filter(email=email, purpose=purpose)
        .order_by("-created_at", "-id")
        .first()
    )
    stored = domain.StoredCode(row.code_hmac, row.expires_at, row.used_at, row.failures) if row is not None else None
    verdict = domain.judge_code(
        stored=stored,
        given=code,
        key=_secret(),
        email=email,
        purpose=purpose,
        now=now,
        failures_last_hour=_failures_last_hour(email, purpose, now),
    )
    if verdict is domain.Verdict.WRONG:
        assert row is not None
        raise _WrongCode(row.pk)
    if verdict is not domain.Verdict.OK:
        raise CodeRefused(verdict)
    assert row is not None
    # Conditional update: of two racing submissions of one code, only one marks it used.
    if not VerificationCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now):
        raise CodeRefused(domain.Verdict.USED)
    return email


@counts_wrong_codes
def do_verify_email(*, email: str, purpose: Purpose, code: str, now: datetime) -> str:
    """Consume a code on its own (a multi-step form proves the mailbox first); return the email."""
    with transaction.atomic():
        return consume_code(email=email, purpose=purpose, code=code, now=now)


# -- rate limit on revealing answers ---------------------------------------------------------------


def _window(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def _throttle_key(key: str) -> str:
    # Counting and checking must agree on the key, so it is cut to the column's size in one place.
    return key[: Throttle._meta.get_field("key").max_length]


def _throttled(*, key: str, limit: int, now: datetime) -> bool:
    key = _throttle_key(key)
    hits = Throttle.objects.filter(key=key, window_start=_window(now)).values_list("hits", flat=True).first()
    return hits is not None and hits >= limit


def _do_count_hit(*, key: str, now: datetime) -> None:
    """One more hit on ``key`` in this hour's window (atomic increment, one row per key and hour)."""
    key, window = _throttle_key(key), _window(now)
    with transaction.atomic():
        Throttle.objects.bulk_create([Throttle(key=key, window_start=window, hits=0)], ignore_conflicts=True)
        Throttle.objects.filter(key=key, window_start=window).update(hits=F("hits") + 1)
        Throttle.objects.filter(window_start__lt=window - timedelta(hours=2)).delete()


def check_taken_answers(*, ip: str, now: datetime) -> None:
    """Raise TooManyAttempts if ``ip`` already had its hourly share of username-taken answers."""
    if _throttled(key=f"taken:{ip}", limit=domain.TAKEN_ANSWERS_PER_IP_PER_HOUR, now=now):
        raise TooManyAttempts


def do_count_taken_answer(*, ip: str, now: datetime) -> None:
    """Record one username-taken answer given to ``ip``."""
    _do_count_hit(key=f"taken:{ip}", now=now)


def check_sign_in_allowed(*, username: str, ip: str, now: datetime) -> None:
    """Raise TooManyAttempts when this username or this address failed to sign in too often this hour."""
    if _throttled(
        key=f"sign-in:user:{username}", limit=domain.SIGN_IN_FAILURES_PER_USERNAME_PER_HOUR, now=now
    ) or _throttled(key=f"sign-in:ip:{ip}", limit=domain.SIGN_IN_FAILURES_PER_IP_PER_HOUR, now=now):
        raise TooManyAttempts


def do_count_failed_sign_in(*, username: str, ip: str, now: datetime) -> None:
    _do_count_hit(key=f"sign-in:user:{username}", now=now)
    _do_count_hit(key=f"sign-in:ip:{ip}", now=now)


# -- accounts ------------------------------------------------------------------------------------------


def do_register_verified_console_account(
    *,
    username: str,
    password_hash: str,
    email: str,
    phone: str = "",
    enterprise_name: str,
    language: str = "zh-hans",
    now: datetime,
) -> BillingAccount:
    """Register a console account and its same-named billing-center account, for a caller that consumes
    (or already consumed) a REGISTER code for ``email``; ``password_hash`` is hashed outside the
    transaction, since Argon2 is slow on purpose and must not hold the write lock.
    UsernameTaken if either name exists: the UNIQUE constraints decide, also between racing requests."""
    username = domain.canonical_username(username)
    try:
        with transaction.atomic():
            console = ConsoleAccount.objects.create(
                username=username,
                password=password_hash,
                email=domain.normalise_email(email),
                phone=phone,
                language=language,
                date_joined=now,
            )
            return BillingAccount.objects.create(
                username=username,
                email=domain.normalise_email(email),
                phone=phone,
                enterprise_name=enterprise_name,
                console_account=console,
                created_at=now,
            )
    except IntegrityError:
        raise UsernameTaken from None


def do_create_operator(*, username: str, email: str, password_hash: str, now: datetime) -> int:
    """An operator of the operator console (/ops/): a console account with staff and superuser rights.
    UsernameTaken if the name exists. Return its id."""
    try:
        with transaction.atomic():
            return ConsoleAccount.objects.create(
                username=username.strip().lower(),
                email=domain.normalise_email(email),
                password=password_hash,
                is_staff=True,
                is_superuser=True,
                date_joined=now,
            ).pk
    except IntegrityError:
        raise UsernameTaken from None


def ensure_cloud_account(*, billing_account: BillingAccount, instance_id: str, now: datetime) -> CloudAccount:
    """The instance as a cloud account of ``billing_account`` (created once; never moved to another),
    inside the caller's transaction, with the instance row locked until it ends.

    InstanceNotActive if the instance is expired, released or unknown; InstanceBoundElsewhere if it
    already is a cloud account of another billing-center account.
    """
    instance = marketplace_queries.lock_active_instance(instance_id)
    if instance is None:
        raise InstanceNotActive
    CloudAccount.objects.bulk_create(
        [
            CloudAccount(
                billing_account=billing_account,
                provider="aliyun",
                ali_uid=instance.ali_uid,
                instance=instance,
                created_at=now,
            )
        ],
        ignore_conflicts=True,
    )
    cloud = CloudAccount.objects.get(instance=instance)
    if cloud.billing_account_id != billing_account.pk:
        raise InstanceBoundElsewhere
    return cloud


@counts_wrong_codes
def do_bind_billing_account(*, username: str, email: str, code: str, instance_id: str, now: datetime) -> int:
    """Bind the instance to the billing-center account ``username`` after proving its email.

    Return the account's id. AccountMismatch when the username is unknown or its email is another one
    (said only after the mailbox was proved, so nobody learns which usernames exist from outside).
    """
    try:
        canonical = domain.canonical_username(username)
    except domain.UsernameError:
        canonical = ""
    with transaction.atomic():
        email = consume_code(email=email, purpose=Purpose.BIND_BILLING_ACCOUNT, code=code, now=now)
        account = BillingAccount.objects.filter(username=canonical).first()
        if account is None or account.email != email:
            raise AccountMismatch
        ensure_cloud_account(billing_account=account, instance_id=instance_id, now=now)
        return account.pk
