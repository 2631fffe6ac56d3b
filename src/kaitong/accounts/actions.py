"""The only writers of console accounts, billing-center accounts, cloud accounts and codes.

Every public function is keyword-only, takes ``now``, runs in one transaction and sends mail through
a task queued in it, so an email goes out only if the change it announces committed. Expected failures
are the exception classes below; views turn them into messages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from kaitong.accounts import domain
from kaitong.accounts.models import BillingAccount, CloudAccount, ConsoleAccount, Throttle, VerificationCode
from kaitong.mail.actions import enqueue_email
from kaitong.marketplace.domain import State
from kaitong.marketplace.models import MarketplaceInstance

T = TypeVar("T")
Purpose = domain.Purpose


# -- expected failures -------------------------------------------------------------------------------


class CodeRefused(Exception):
    """The code cannot be accepted; ``verdict`` says why (domain.Verdict), ``tries_left`` how many remain."""

    def __init__(self, verdict: domain.Verdict, tries_left: int = 0) -> None:
        super().__init__(verdict.value)
        self.verdict = verdict
        self.tries_left = tries_left


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


def with_code(*, email: str, purpose: Purpose, code: str, now: datetime, work: Callable[[], T]) -> T:
    """Consume the code for (email, purpose) and run ``work`` in the same transaction.

    Either both happen or neither: if ``work`` fails, the code stays usable. A wrong code is counted in
    its own transaction after the rollback, so the count survives the failed attempt.
    """
    email = domain.normalise_email(email)
    try:
        with transaction.atomic():
            row = (
                VerificationCode.objects.select_for_update()
                .filter(email=email, purpose=purpose)
                .order_by("-created_at", "-id")
                .first()
            )
            stored = (
                domain.StoredCode(row.code_hmac, row.expires_at, row.used_at, row.failures) if row is not None else None
            )
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
            return work()
    except _WrongCode as wrong:
        VerificationCode.objects.filter(pk=wrong.code_id).update(failures=F("failures") + 1)
        failures = VerificationCode.objects.filter(pk=wrong.code_id).values_list("failures", flat=True).get()
        left = domain.tries_left(failures)
        raise CodeRefused(domain.Verdict.WRONG if left else domain.Verdict.BURNED, left) from None


def do_verify_email(*, email: str, purpose: Purpose, code: str, now: datetime) -> str:
    """Consume a code on its own (a multi-step form proves the mailbox first); return the email."""
    return with_code(email=email, purpose=purpose, code=code, now=now, work=lambda: domain.normalise_email(email))


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


def active_instance_for_update(instance_id: str) -> MarketplaceInstance:
    """Lock the instance row for the rest of the transaction; InstanceNotActive unless it is active."""
    instance = MarketplaceInstance.objects.select_for_update().filter(instance_id=instance_id).first()
    if instance is None or instance.state != State.ACTIVE:
        raise InstanceNotActive
    return instance


def ensure_cloud_account(*, billing_account: BillingAccount, instance_id: str, now: datetime) -> CloudAccount:
    """The instance as a cloud account of ``billing_account`` (created once; never moved to another)."""
    instance = active_instance_for_update(instance_id)
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


def do_bind_billing_account(*, username: str, email: str, code: str, instance_id: str, now: datetime) -> int:
    """Bind the instance to the billing-center account ``username`` after proving its email.

    Return the account's id. AccountMismatch when the username is unknown or its email is another one
    (said only after the mailbox was proved, so nobody learns which usernames exist from outside).
    """
    try:
        canonical = domain.canonical_username(username)
    except domain.UsernameError:
        canonical = ""

    def work() -> int:
        account = BillingAccount.objects.filter(username=canonical).first()
        if account is None or account.email != domain.normalise_email(email):
            raise AccountMismatch
        ensure_cloud_account(billing_account=account, instance_id=instance_id, now=now)
        return account.pk

    return with_code(email=email, purpose=Purpose.BIND_BILLING_ACCOUNT, code=code, now=now, work=work)
