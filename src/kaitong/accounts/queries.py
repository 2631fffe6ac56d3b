"""Read-only questions about accounts, answered with plain values for views and templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kaitong.accounts import domain
from kaitong.accounts.models import BillingAccount, CloudAccount, ConsoleAccount, VerificationCode


@dataclass(frozen=True)
class BillingAccountView:
    id: int
    username: str
    email: str
    cloud_accounts: tuple[tuple[str, str], ...]  # (Alibaba UID, instance ID)


def billing_account(account_id: int | None) -> BillingAccountView | None:
    if account_id is None:
        return None
    account = BillingAccount.objects.filter(pk=account_id).first()
    if account is None:
        return None
    clouds = tuple(
        CloudAccount.objects.filter(billing_account=account)
        .order_by("created_at", "id")
        .values_list("ali_uid", "instance__instance_id")
    )
    return BillingAccountView(account.pk, account.username, account.email, clouds)


def billing_account_id_for_ali_uid(ali_uid: str) -> int | None:
    """The billing-center account an Alibaba account already settles with (its latest binding), if any."""
    return (
        CloudAccount.objects.filter(ali_uid=ali_uid)
        .order_by("-created_at", "-id")
        .values_list("billing_account_id", flat=True)
        .first()
    )


def billing_account_id_for_instance(instance_id: str) -> int | None:
    """The billing-center account a marketplace instance already settles for (it never moves), if any."""
    return (
        CloudAccount.objects.filter(instance__instance_id=instance_id)
        .values_list("billing_account_id", flat=True)
        .first()
    )


def billing_account_id_by_username(raw: str) -> int | None:
    try:
        name = domain.canonical_username(raw)
    except domain.UsernameError:
        return None
    return BillingAccount.objects.filter(username=name).values_list("pk", flat=True).first()


def username_is_taken(raw: str) -> bool:
    try:
        name = domain.canonical_username(raw)
    except domain.UsernameError:
        return False
    return (
        ConsoleAccount.objects.filter(username=name).exists() or BillingAccount.objects.filter(username=name).exists()
    )


def email_to_bind(raw_username: str) -> str | None:
    """The one address a code to bind the billing-center account ``raw_username`` may be mailed to: the
    account's email, as ``actions.do_bind_billing_account`` checks it on submit (None: no such account).

    One query whether or not the name is well-formed or taken, so its time says nothing about either."""
    try:
        name = domain.canonical_username(raw_username)
    except domain.UsernameError:
        name = ""
    return BillingAccount.objects.filter(username=name).values_list("email", flat=True).first()


def console_email(billing_account_id: int) -> str | None:
    """The email the billing-center account's console account registered with (None: it has none), the
    one a code to create a workspace may be mailed to, as ``do_create_bound_workspace`` checks it."""
    email = (
        BillingAccount.objects.filter(pk=billing_account_id).values_list("console_account__email", flat=True).first()
    )
    return domain.normalise_email(email) if email else None


def code_cooldown_left(*, email: str, purpose: domain.Purpose, now: datetime) -> int:
    """Whole seconds until ``email`` takes another code for ``purpose`` (0: now), by the last one sent, as
    ``actions.do_send_verification_code`` judges the cooldown. Codes to an address no account uses are
    recorded too, so the answer is the one 获取验证码 would give for any address typed."""
    last = (
        VerificationCode.objects.filter(email=domain.normalise_email(email), purpose=purpose)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if last is None:
        return 0
    try:
        domain.check_issue(now=now, last_sent_at=last, sent_to_email_last_hour=[], sent_from_ip_last_hour=[])
    except domain.IssueRefused as refused:
        return refused.retry_after
    return 0
