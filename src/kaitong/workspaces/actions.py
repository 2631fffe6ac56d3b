"""The only writers of workspaces: create, bind to a marketplace instance, fall back on release.

Keyword-only, ``now`` passed in, one transaction each. Binding to an instance needs the instance to be
active (DESIGN.md, Settlement) and proof of the mailbox (an email code) for the account concerned.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.hashers import make_password
from django.db import transaction

from kaitong.accounts import actions as accounts
from kaitong.accounts import domain as account_rules
from kaitong.accounts.models import BillingAccount
from kaitong.mail.actions import enqueue_email
from kaitong.marketplace.actions import on_instance_state_change
from kaitong.marketplace.domain import State
from kaitong.marketplace.models import MarketplaceInstance
from kaitong.workspaces import domain
from kaitong.workspaces.models import Workspace

Settlement = Workspace.Settlement


class WorkspaceNotFound(Exception):
    """Missing, or not under this billing-center account: the same answer for both."""


class AlreadyBoundElsewhere(Exception):
    """The workspace is settled by another marketplace instance."""


class EmailMismatch(Exception):
    """The verified email is not the one of the account this needs."""


class NoConsoleAccount(Exception):
    """The billing-center account has no console account to own a new workspace."""


def _create(*, name: str, language: str, billing_account: BillingAccount, instance_id: str, now: datetime) -> int:
    """A workspace owned by the account's console account and settled by the instance; its id."""
    if language not in Workspace.Language.values:
        raise ValueError(f"unknown workspace language {language!r}")
    if billing_account.console_account_id is None:
        raise NoConsoleAccount
    cloud_account_id = _settle_by_instance(billing_account, instance_id, now)
    return Workspace.objects.create(
        name=domain.clean_name(name),
        language=language,
        token=domain.new_token(),
        owner_id=billing_account.console_account_id,
        billing_account=billing_account,
        settlement=Settlement.ALIYUN,
        cloud_account_id=cloud_account_id,
        created_at=now,
    ).pk


def _settle_by_instance(billing_account: BillingAccount, instance_id: str, now: datetime) -> int:
    return accounts.ensure_cloud_account(billing_account=billing_account, instance_id=instance_id, now=now).pk


def do_bind_workspace(
    *, workspace_id: int, billing_account_id: int, instance_id: str, email: str, code: str, now: datetime
) -> None:
    """Settle an existing workspace of this billing-center account by the marketplace instance.

    The email must be the billing-center account's or the workspace owner's, proved by a code.
    Binding a workspace already settled by this instance changes nothing (double submit, back button).
    """

    def work() -> None:
        workspace = (
            Workspace.objects.select_for_update(of=("self",))
            .select_related("owner", "billing_account", "cloud_account")
            .filter(pk=workspace_id, billing_account_id=billing_account_id)
            .first()
        )
        if workspace is None or workspace.billing_account is None:
            raise WorkspaceNotFound
        wanted = {workspace.billing_account.email, account_rules.normalise_email(workspace.owner.email)}
        if account_rules.normalise_email(email) not in wanted:
            raise EmailMismatch
        cloud_id = _settle_by_instance(workspace.billing_account, instance_id, now)
        if workspace.cloud_account_id == cloud_id:
            return
        if workspace.cloud_account_id is not None:
            raise AlreadyBoundElsewhere
        Workspace.objects.filter(pk=workspace.pk).update(settlement=Settlement.ALIYUN, cloud_account_id=cloud_id)

    accounts.with_code(email=email, purpose=account_rules.Purpose.BIND_WORKSPACE, code=code, now=now, work=work)


def do_create_bound_workspace(
    *, billing_account_id: int, instance_id: str, name: str, language: str, email: str, code: str, now: datetime
) -> int:
    """Create a workspace owned by the account's console account, settled by the instance; return its id.

    The email is the one the console account registered with, proved by a code.
    """
    name = domain.clean_name(name)

    def work() -> int:
        account = BillingAccount.objects.select_related("console_account").get(pk=billing_account_id)
        if account.console_account is None:
            raise NoConsoleAccount
        if account_rules.normalise_email(account.console_account.email) != account_rules.normalise_email(email):
            raise EmailMismatch
        return _create(name=name, language=language, billing_account=account, instance_id=instance_id, now=now)

    return accounts.with_code(
        email=email, purpose=account_rules.Purpose.CREATE_WORKSPACE, code=code, now=now, work=work
    )


def do_register_and_create_workspace(
    *,
    instance_id: str,
    name: str,
    language: str,
    username: str,
    password: str,
    email: str,
    code: str,
    phone: str = "",
    page_language: str = "zh-hans",
    now: datetime,
) -> tuple[int, int]:
    """Register console + same-named billing-center account and create the first workspace, settled by
    the instance, all in one transaction. Return (billing account id, workspace id)."""
    name = domain.clean_name(name)
    password_hash = make_password(password)  # before the transaction: Argon2 must not hold the write lock

    def work() -> tuple[int, int]:
        account = accounts.do_register_verified_console_account(
            username=username,
            password_hash=password_hash,
            email=email,
            phone=phone,
            enterprise_name="",
            language=page_language,
            now=now,
        )
        workspace_id = _create(name=name, language=language, billing_account=account, instance_id=instance_id, now=now)
        return account.pk, workspace_id

    return accounts.with_code(email=email, purpose=account_rules.Purpose.REGISTER, code=code, now=now, work=work)


def do_open_commercial_workspace(
    *, billing_account_id: int, instance_id: str, name: str, language: str, now: datetime
) -> int:
    """Last step of the commercial registration: the account registered in this session opens its
    first workspace, settled by the instance (open method 阿里云账号结算). Return the workspace id."""
    with transaction.atomic():
        account = BillingAccount.objects.get(pk=billing_account_id)
        return _create(name=name, language=language, billing_account=account, instance_id=instance_id, now=now)


@on_instance_state_change
def fall_back_on_release(instance: MarketplaceInstance, *, before_state: str, now: datetime) -> None:
    """A released instance settles nothing more: its workspaces fall back to their billing-center account.

    The docs disagree (fallback in aliyun-account.md, lock in workspace-management.md and faq.md); we
    take the fallback, which loses no data, and tell the account holder by email. Expiry changes
    nothing here: a renewal may follow.
    """
    if instance.state != State.RELEASED:
        return
    workspaces = Workspace.objects.filter(cloud_account__instance=instance).select_related("billing_account")
    names_by_account: dict[int, tuple[str, str, list[str]]] = {}
    for workspace in workspaces:
        if workspace.billing_account is None:
            continue
        entry = names_by_account.setdefault(
            workspace.billing_account.pk, (workspace.billing_account.email, workspace.language, [])
        )
        entry[2].append(workspace.name)
    workspaces.update(settlement=Settlement.BILLING_ACCOUNT, cloud_account=None)
    for email, language, names in names_by_account.values():
        enqueue_email(
            message_type="settlement_fallback",
            to=email,
            language="en" if language == "en" else "zh-hans",
            context={"instance_id": instance.instance_id, "workspaces": names},
            now=now,
        )
