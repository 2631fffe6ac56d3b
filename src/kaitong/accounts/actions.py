"""The only writers of console accounts, billing-center accounts, cloud accounts and codes.

Every public function is keyword-only, takes ``now``, runs in one transaction and sends mail through
a task queued in it, so an email goes out only if the change it announces committed. Expected failures
are the exception classes below; views turn them into messages (activation/refusals.py).

The change a form makes runs in ``submitting``: its transaction records the form's token first (a
repeat of the same submission gets the first one's outcome, AlreadySubmitted), then judges the email
code of a form that has one, under a lock on that mailbox's codes (a wrong code is counted and
committed before anyone else's guess is judged), and then holds the action's work.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.db.models import F

from kaitong.accounts import domain
from kaitong.accounts.models import (
    BillingAccount,
    CloudAccount,
    ConsoleAccount,
    FormSubmission,
    Throttle,
    VerificationCode,
)
from kaitong.config import metrics
from kaitong.mail.actions import enqueue_email
from kaitong.marketplace import queries as marketplace_queries

Purpose = domain.Purpose


# -- expected failures -------------------------------------------------------------------------------


class CodeRefused(Exception):
    """The code cannot be accepted; ``verdict`` says why (domain.Verdict), ``tries_left`` how many remain,
    ``retry_after`` (LOCKED) in how many seconds the mailbox takes codes again."""

    def __init__(self, verdict: domain.Verdict, tries_left: int = 0, retry_after: int = 0) -> None:
        super().__init__(verdict.value)
        self.verdict = verdict
        self.tries_left = tries_left
        self.retry_after = retry_after
        metrics.count_code_refused(verdict.value)  # each one raised is one code refused


class AlreadySubmitted(Exception):
    """This form was submitted before (a double click, a retried request) and its change is made:
    ``outcome`` is what that submission recorded, for the page that answers the repeat."""

    def __init__(self, outcome: dict[str, Any]) -> None:
        super().__init__("already submitted")
        self.outcome = outcome


class UsernameTaken(Exception):
    """Somebody already holds this username (console or billing-center)."""


class TooManyAttempts(Exception):
    """This client has had its share of a rate-limited answer this hour; ``retry_after`` is the
    seconds until the hour's window closes."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many attempts")
        self.retry_after = retry_after


class AccountMismatch(Exception):
    """The username and the verified email do not belong to one billing-center account."""


class InstanceNotActive(Exception):
    """The marketplace instance is expired or released (or unknown): it cannot settle anything."""


class InstanceBoundElsewhere(Exception):
    """The instance already settles for another billing-center account."""


# -- codes ---------------------------------------------------------------------------------------------


def _secret() -> str:
    return settings.SECRET_KEY


# -- forms submitted once, and email codes judged under a lock ----------------------------------------


@dataclass(frozen=True)
class CodeProof:
    """An email code offered as proof of a mailbox, for a purpose."""

    email: str
    purpose: Purpose
    code: str


@dataclass
class Submission:
    """The body of a ``submitting`` block reads the email its code proved and sets the outcome that a
    repeat of the same form is answered with (plain JSON values: ids, the proved email)."""

    email: str = ""
    outcome: dict[str, Any] = field(default_factory=dict)


def _record_submission(*, form_token: str, now: datetime) -> FormSubmission:
    """Record the form's token, inside the transaction of its change; AlreadySubmitted if it was.

    The UNIQUE constraint decides between racing repeats: PostgreSQL makes the second insert wait
    until the first transaction ends (and refuses it if that one committed); SQLite's IMMEDIATE
    transactions run one after the other. Either way the repeat reads the first one's outcome."""
    digest = domain.submission_digest(form_token)
    try:
        with transaction.atomic():
            submission = FormSubmission.objects.create(token_digest=digest, created_at=now)
    except IntegrityError:
        outcome = FormSubmission.objects.filter(token_digest=digest).values_list("outcome", flat=True).first() or {}
        if outcome.get("refused"):
            # The first submission was a wrong code, counted and answered: answer the repeat the same.
            raise CodeRefused(domain.Verdict(outcome["refused"]), int(outcome["tries_left"])) from None
        raise AlreadySubmitted(outcome) from None
    FormSubmission.objects.filter(created_at__lt=now - domain.SUBMISSION_MEMORY).delete()
    return submission


def _judge_code(proof: CodeProof, *, now: datetime) -> tuple[VerificationCode | None, domain.Verdict, int]:
    """Lock the codes of (email, purpose) and judge ``proof`` against the newest; return it, the
    verdict and, when LOCKED, the seconds until the mailbox takes codes again.

    Every code that still counts toward the hourly limit is locked, in id order, then the newest, so
    two judgements of one mailbox never overlap on PostgreSQL (SQLite's IMMEDIATE transactions
    already run one at a time): each one sees every wrong try counted before it, and no guess is
    compared past the limits (reliability C.11)."""
    codes = VerificationCode.objects.filter(email=proof.email, purpose=proof.purpose)
    since = domain.counting_since(now)
    list(codes.filter(created_at__gt=since).order_by("pk").select_for_update().values_list("pk", flat=True))
    row = codes.order_by("-created_at", "-id").select_for_update().first()
    counting = list(codes.filter(created_at__gt=since).values_list("created_at", "failures"))
    stored = domain.StoredCode(row.code_hmac, row.expires_at, row.used_at, row.failures) if row is not None else None
    verdict = domain.judge_code(
        stored=stored,
        given=proof.code,
        key=_secret(),
        email=proof.email,
        purpose=proof.purpose,
        now=now,
        failures_last_hour=sum(failures for _, failures in counting),
    )
    locked_for = domain.locked_for(counting=counting, now=now) if verdict is domain.Verdict.LOCKED else 0
    return row, verdict, locked_for


@contextmanager
def submitting(*, form_token: str | None = None, proof: CodeProof | None = None, now: datetime) -> Iterator[Submission]:
    """The one transaction of the change a form makes.

    First the form's token is recorded (AlreadySubmitted with the first outcome if this form was
    submitted before); then, for a form with an email code, the code is judged under a lock on the
    mailbox's codes: a wrong one is counted and committed at once with the token (nothing else has
    happened yet) and CodeRefused raised; any other refusal raises CodeRefused and changes nothing;
    a right one is marked used and the block's work follows in the same transaction, so a failure of
    the work rolls the consumption back and leaves the code usable. Inside a longer transaction the
    count of a wrong code is written in that one.
    """
    wrong: CodeRefused | None = None
    with transaction.atomic():
        record = _record_submission(form_token=form_token, now=now) if form_token else None
        submission = Submission()
        if proof is not None:
            proof = CodeProof(domain.normalise_email(proof.email), proof.purpose, proof.code)
            row, verdict, locked_for = _judge_code(proof, now=now)
            if verdict is domain.Verdict.WRONG:
                assert row is not None
                VerificationCode.objects.filter(pk=row.pk).update(failures=F("failures") + 1)
                left = domain.tries_left(row.failures + 1)
                wrong = CodeRefused(domain.Verdict.WRONG if left else domain.Verdict.BURNED, left)
                if record is not None:
                    FormSubmission.objects.filter(pk=record.pk).update(
                        outcome={"refused": wrong.verdict.value, "tries_left": left}
                    )
            elif verdict is not domain.Verdict.OK:
                raise CodeRefused(verdict, retry_after=locked_for)
            else:
                assert row is not None
                VerificationCode.objects.filter(pk=row.pk).update(used_at=now)
                submission.email = proof.email
        if wrong is None:
            yield submission
            if record is not None:
                FormSubmission.objects.filter(pk=record.pk).update(outcome=submission.outcome)
    if wrong is not None:
        raise wrong


@metrics.counts_code_sends
def do_send_verification_code(
    *,
    email: str,
    purpose: Purpose,
    ip: str,
    language: str,
    now: datetime,
    form_token: str | None = None,
    mail_only_to: Collection[str] | None = None,
) -> bool:
    """Issue a new code for (email, purpose) and queue its email, or raise domain.IssueRefused; return
    whether it was mailed.

    ``mail_only_to`` are the addresses the form's check on submit would accept (None: any address, as
    a registration proves a new mailbox). A code for another address is issued and recorded all the
    same, counted by the cooldown and the hourly caps like any other, and its email queued for a task
    that mails nobody: a request that cannot succeed costs what a real one costs, and its limits and
    the work done before the commit (the same rows written) are those of a real one, so neither the
    cooldown nor the time taken tell an outsider whether the address belongs to an account. Nobody can
    use such a code (nobody knows it); like any code it is judged on submit, a wrong try counted.
    """
    email = domain.normalise_email(email)
    mailed = mail_only_to is None or email in {domain.normalise_email(address) for address in mail_only_to}
    with submitting(form_token=form_token, now=now):
        hour_ago = now - domain.HOUR
        # The email's codes of the hour, locked in id order as judging locks them: two sends to one
        # address (two tabs) see each other, so the cooldown and the cap hold between them too.
        to_email = list(
            VerificationCode.objects.filter(email=email, created_at__gt=hour_ago)
            .order_by("pk")
            .select_for_update()
            .values_list("created_at", flat=True)
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
            deliver=mailed,  # withheld: queued all the same, for a task that mails nobody
        )
    return mailed


def do_verify_email(*, email: str, purpose: Purpose, code: str, now: datetime, form_token: str | None = None) -> str:
    """Consume a code on its own (a multi-step form proves the mailbox first); return the email.
    A repeat of the same form raises AlreadySubmitted with ``{"email": …}``."""
    with submitting(form_token=form_token, proof=CodeProof(email, purpose, code), now=now) as submission:
        submission.outcome = {"email": submission.email}
        return submission.email


# -- rate limit on revealing answers ---------------------------------------------------------------


def _window(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def _until_next_window(now: datetime) -> int:
    return max(1, int((_window(now) + domain.HOUR - now).total_seconds() + 0.999))


def _throttle_key(key: str) -> str:
    # Counting and checking must agree on the key, so it is cut to the column's size in one place.
    return key[: Throttle._meta.get_field("key").max_length]


def _throttled(*, key: str, limit: int, now: datetime) -> bool:
    key = _throttle_key(key)
    hits = Throttle.objects.filter(key=key, window_start=_window(now)).values_list("hits", flat=True).first()
    return hits is not None and hits >= limit


def _do_take_hits(*, limits: dict[str, int], now: datetime) -> None:
    """Take one of this hour's hits on each key of ``limits`` (key → limit), all or none, in one
    transaction; TooManyAttempts, and nothing taken, when a key has none left. One conditional UPDATE
    per key decides (PostgreSQL re-checks ``hits < limit`` on the row a racing update left; SQLite
    runs the transactions one at a time), so racing callers never take more than the limit."""
    window = _window(now)
    keys = {_throttle_key(key): limit for key, limit in limits.items()}
    with transaction.atomic():
        Throttle.objects.bulk_create(
            [Throttle(key=key, window_start=window, hits=0) for key in keys], ignore_conflicts=True
        )
        for key, limit in keys.items():
            if not Throttle.objects.filter(key=key, window_start=window, hits__lt=limit).update(hits=F("hits") + 1):
                raise TooManyAttempts(_until_next_window(now))
        Throttle.objects.filter(window_start__lt=window - timedelta(hours=2)).delete()


def _do_give_back_hits(*, keys: list[str], now: datetime) -> None:
    with transaction.atomic():
        for key in keys:
            Throttle.objects.filter(key=_throttle_key(key), window_start=_window(now), hits__gt=0).update(
                hits=F("hits") - 1
            )


def check_taken_answers(*, ip: str, now: datetime) -> None:
    """Raise TooManyAttempts if ``ip`` already had its hourly share of username-taken answers (asked
    before any work, so a client over the limit spends no code; ``do_take_taken_answer`` decides)."""
    if _throttled(key=f"taken:{ip}", limit=domain.TAKEN_ANSWERS_PER_IP_PER_HOUR, now=now):
        raise TooManyAttempts(_until_next_window(now))


def do_take_taken_answer(*, ip: str, now: datetime) -> None:
    """Count one username-taken answer to ``ip`` before it is given; TooManyAttempts (and no answer
    that reveals the name) when the hour's share is spent."""
    _do_take_hits(limits={f"taken:{ip}": domain.TAKEN_ANSWERS_PER_IP_PER_HOUR}, now=now)


def _sign_in_limits(username: str, ip: str) -> dict[str, int]:
    return {
        f"sign-in:user:{username}": domain.SIGN_IN_FAILURES_PER_USERNAME_PER_HOUR,
        f"sign-in:ip:{ip}": domain.SIGN_IN_FAILURES_PER_IP_PER_HOUR,
    }


def do_take_sign_in_attempt(*, username: str, ip: str, now: datetime) -> None:
    """Count a console sign-in as failed before its password is checked: one of this hour's tries of
    the username and of the client address, in one transaction. TooManyAttempts, and the password is
    not checked, when either is spent; ``do_give_back_sign_in_attempt`` returns both once the password
    proves right. Counting first is what keeps racing guesses within the limit (reliability C.11, C.18)."""
    _do_take_hits(limits=_sign_in_limits(username, ip), now=now)


def do_give_back_sign_in_attempt(*, username: str, ip: str, now: datetime) -> None:
    """The password was right: the attempt taken by ``do_take_sign_in_attempt`` was no failure."""
    _do_give_back_hits(keys=list(_sign_in_limits(username, ip)), now=now)


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
    form_token: str | None = None,
) -> BillingAccount:
    """Register a console account and its same-named billing-center account, for a caller that consumes
    (or already consumed) a REGISTER code for ``email``; ``password_hash`` is hashed outside the
    transaction, since Argon2 is slow on purpose and must not hold the write lock. Return the
    billing-center account (a repeat of the same form: AlreadySubmitted with ``{"account": id}``).
    UsernameTaken if either name exists: the UNIQUE constraints decide, also between racing requests."""
    username = domain.canonical_username(username)
    try:
        with submitting(form_token=form_token, now=now) as submission:
            console = ConsoleAccount.objects.create(
                username=username,
                password=password_hash,
                email=domain.normalise_email(email),
                phone=phone,
                language=language,
                date_joined=now,
            )
            account = BillingAccount.objects.create(
                username=username,
                email=domain.normalise_email(email),
                phone=phone,
                enterprise_name=enterprise_name,
                console_account=console,
                created_at=now,
            )
            submission.outcome = {"account": account.pk}
            return account
    except IntegrityError:
        raise UsernameTaken from None


def do_register_billing_account(
    *,
    username: str,
    password: str,
    email: str,
    code: str,
    phone: str = "",
    enterprise_name: str,
    instance_id: str,
    language: str = "zh-hans",
    now: datetime,
    form_token: str | None = None,
) -> int:
    """尚无企业账号 → 注册: register an enterprise (billing-center) account and its same-named console
    account, the email proved by a REGISTER code, and bind the instance to it as binding an existing
    account does, all in one transaction; its workspaces are bound or created afterwards. Return the
    billing-center account's id (a repeat of the same form: AlreadySubmitted with ``{"account": id}``).

    UsernameTaken; InstanceNotActive or InstanceBoundElsewhere (nothing registered, the code unspent).
    """
    password_hash = make_password(password)  # before the transaction: Argon2 must not hold the write lock
    proof = CodeProof(email, Purpose.REGISTER, code)
    with submitting(form_token=form_token, proof=proof, now=now) as submission:
        account = do_register_verified_console_account(
            username=username,
            password_hash=password_hash,
            email=submission.email,
            phone=phone,
            enterprise_name=enterprise_name,
            language=language,
            now=now,
        )
        ensure_cloud_account(billing_account=account, instance_id=instance_id, now=now)
        submission.outcome = {"account": account.pk}
        return account.pk


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


def do_bind_billing_account(
    *, username: str, email: str, code: str, instance_id: str, now: datetime, form_token: str | None = None
) -> int:
    """Bind the instance to the billing-center account ``username`` after proving its email.

    Return the account's id (a repeat of the same form: AlreadySubmitted with ``{"account": id}``).
    AccountMismatch when the username is unknown or its email is another one (said only after the
    mailbox was proved, so nobody learns which usernames exist from outside).
    """
    try:
        canonical = domain.canonical_username(username)
    except domain.UsernameError:
        canonical = ""
    proof = CodeProof(email, Purpose.BIND_BILLING_ACCOUNT, code)
    with submitting(form_token=form_token, proof=proof, now=now) as submission:
        account = BillingAccount.objects.filter(username=canonical).first()
        if account is None or account.email != submission.email:
            raise AccountMismatch
        ensure_cloud_account(billing_account=account, instance_id=instance_id, now=now)
        submission.outcome = {"account": account.pk}
        return account.pk
