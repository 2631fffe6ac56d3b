"""The only writers of workspaces: create one, and the activation paths that create or bind one.

Keyword-only, ``now`` passed in, one transaction each. How a workspace settles is set and changed only
through ``settlement.do_change_settlement``, which writes the audit row. Binding to an instance needs
the instance to be active (DESIGN.md, Settlement) and proof of the mailbox (an email code) for the
account concerned: each such action runs in ``accounts.submitting``, which judges the code first inside
the action's one transaction, so a failure after it rolls the consumption back and leaves the code
usable. The activation forms pass their ``form_token``: a repeat of the same submission changes
nothing and raises ``accounts.AlreadySubmitted`` with the first one's outcome.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.hashers import make_password
from django.db import transaction

from kaitong.accounts import actions as accounts
from kaitong.accounts import domain as account_rules
from kaitong.accounts.models import BillingAccount
from kaitong.marketplace import queries as marketplace_queries
from kaitong.sls import actions as sls
from kaitong.workspaces import domain
from kaitong.workspaces.models import Workspace
from kaitong.workspaces.settlement import do_change_settlement, storage_for


class WorkspaceNotFound(Exception):
    """Missing, or not under this billing-center account: the same answer for both."""


class EmailMismatch(Exception):
    """The verified email is not the one of the account this needs."""


class NotTheWorkspaceEmail(EmailMismatch):
    """Binding needs the email of the workspace's billing-center account or of its owner."""


class NotTheConsoleEmail(EmailMismatch):
    """Creating needs the email the console account registered with (and a console account)."""


class NoConsoleAccount(Exception):
    """The billing-center account has no console account to own a new workspace."""


def do_create_workspace(
    *,
    billing_account_id: int,
    name: str,
    language: str,
    settled_by: domain.Settlement,
    reason: domain.Reason,
    acting: str,
    now: datetime,
) -> int:
    """Create a workspace of the billing-center account, owned by its console account and settled as
    ``settled_by`` from the start (its first audit row says ``acting`` and ``reason``); return its id.

    WorkspaceNameError, NoConsoleAccount; settled by an instance also InstanceNotActive and
    InstanceBoundElsewhere (see ``do_change_settlement``). Settled by an exclusive-edition instance, the
    workspace stores its data in the buyer's SLS and its project is queued for creation in the same
    transaction: then also SiteWithoutSls, GrantNeeded and GrantRevoked (``sls.start_sls_storage``).
    """
    name = domain.clean_name(name)
    if language not in Workspace.Language.values:
        raise ValueError(f"unknown workspace language {language!r}")
    with transaction.atomic():
        account = BillingAccount.objects.get(pk=billing_account_id)
        if account.console_account_id is None:
            raise NoConsoleAccount
        workspace = Workspace(
            name=name,
            language=language,
            token=domain.new_token(),
            owner_id=account.console_account_id,
            billing_account=account,
            storage=storage_for(settled_by),
            created_at=now,
        )
        do_change_settlement(workspace=workspace, to=settled_by, reason=reason, acting=acting, now=now)
        if workspace.storage == Workspace.Storage.SLS:
            ali_uid = marketplace_queries.ali_uid_of(settled_by.instance_id) or ""
            sls.start_sls_storage(workspace_id=workspace.pk, ali_uid=ali_uid, now=now)
        return workspace.pk


def do_bind_workspace(
    *,
    workspace_id: int,
    billing_account_id: int,
    instance_id: str,
    email: str,
    code: str,
    now: datetime,
    form_token: str | None = None,
) -> None:
    """Settle an existing workspace of this billing-center account by the marketplace instance.

    The email must be the billing-center account's or the workspace owner's, proved by a code.
    Binding a workspace already settled by this instance changes nothing (double submit, back button).
    A repeat of the same form: AlreadySubmitted with ``{"workspace": id}``.
    """
    proof = accounts.CodeProof(email, account_rules.Purpose.BIND_WORKSPACE, code)
    with accounts.submitting(form_token=form_token, proof=proof, now=now) as submission:
        workspace = (
            Workspace.objects.select_related("owner", "billing_account")
            .filter(pk=workspace_id, billing_account_id=billing_account_id, dissolution__isnull=True)
            .first()
        )
        if workspace is None or workspace.billing_account is None:
            raise WorkspaceNotFound
        if submission.email not in {
            workspace.billing_account.email,
            account_rules.normalise_email(workspace.owner.email),
        }:
            raise NotTheWorkspaceEmail
        do_change_settlement(
            workspace=workspace,
            to=domain.by_instance(instance_id),
            reason=domain.Reason.BOUND,
            acting=f"buyer {submission.email}",
            now=now,
        )
        submission.outcome = {"workspace": workspace.pk}


def do_create_bound_workspace(
    *,
    billing_account_id: int,
    instance_id: str,
    name: str,
    language: str,
    email: str,
    code: str,
    now: datetime,
    form_token: str | None = None,
) -> int:
    """Create a workspace owned by the account's console account, settled by the instance; return its id
    (a repeat of the same form: AlreadySubmitted with ``{"workspace": id}``).

    The email is the one the console account registered with, proved by a code.
    """
    name = domain.clean_name(name)
    proof = accounts.CodeProof(email, account_rules.Purpose.CREATE_WORKSPACE, code)
    with accounts.submitting(form_token=form_token, proof=proof, now=now) as submission:
        email = submission.email
        account = BillingAccount.objects.select_related("console_account").get(pk=billing_account_id)
        if account.console_account is None or account_rules.normalise_email(account.console_account.email) != email:
            raise NotTheConsoleEmail
        workspace_id = do_create_workspace(
            billing_account_id=account.pk,
            name=name,
            language=language,
            settled_by=domain.by_instance(instance_id),
            reason=domain.Reason.CREATED_BOUND,
            acting=f"buyer {email}",
            now=now,
        )
        submission.outcome = {"workspace": workspace_id}
        return workspace_id


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
    form_token: str | None = None,
) -> tuple[int, int]:
    """Register console + same-named billing-center account and create the first workspace, settled by
    the instance, all in one transaction. Return (billing account id, workspace id); a repeat of the
    same form: AlreadySubmitted with ``{"account": id, "workspace": id}``."""
    name = domain.clean_name(name)
    password_hash = make_password(password)  # before the transaction: Argon2 must not hold the write lock
    proof = accounts.CodeProof(email, account_rules.Purpose.REGISTER, code)
    with accounts.submitting(form_token=form_token, proof=proof, now=now) as submission:
        email = submission.email
        account = accounts.do_register_verified_console_account(
            username=username,
            password_hash=password_hash,
            email=email,
            phone=phone,
            enterprise_name="",
            language=page_language,
            now=now,
        )
        workspace_id = do_create_workspace(
            billing_account_id=account.pk,
            name=name,
            language=language,
            settled_by=domain.by_instance(instance_id),
            reason=domain.Reason.REGISTERED,
            acting=f"buyer {email}",
            now=now,
        )
        submission.outcome = {"account": account.pk, "workspace": workspace_id}
        return account.pk, workspace_id


def do_open_commercial_workspace(
    *, billing_account_id: int, instance_id: str, name: str, language: str, now: datetime, form_token: str | None = None
) -> int:
    """Last step of the commercial registration: the account registered in this session opens its
    first workspace, settled by the instance (open method 阿里云账号结算). Return the workspace id (a
    repeat of the same form: AlreadySubmitted with ``{"workspace": id}``)."""
    with accounts.submitting(form_token=form_token, now=now) as submission:
        username = BillingAccount.objects.values_list("username", flat=True).get(pk=billing_account_id)
        workspace_id = do_create_workspace(
            billing_account_id=billing_account_id,
            name=name,
            language=language,
            settled_by=domain.by_instance(instance_id),
            reason=domain.Reason.COMMERCIAL_OPENED,
            acting=f"buyer {username}",
            now=now,
        )
        submission.outcome = {"workspace": workspace_id}
        return workspace_id
