"""The writers behind the billing center's 工作空间管理: 更改结算方式, and the one-time links of 立即解锁.

A move goes through the one settlement door (``settlement.do_change_settlement``, reason MOVED), which
judges the move rules under the workspace's row lock and writes the audit row and the owner's notice.
What is checked here first is what the buyer typed: moving to Alibaba settlement names an Alibaba
account ID (aliUid) and an instance ID, and the instance must be that account's (the same check as the
seed's 开通方式 step). Each form posts a token: a repeat of the same submission changes nothing and
raises ``accounts.AlreadySubmitted`` with the first one's outcome.

Why these live apart from ``actions``: their refusals are the billing center's, not the activation
pages' (``activation/refusals.py`` answers every exception ``actions`` can raise).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from kaitong.accounts import actions as accounts
from kaitong.marketplace import queries as marketplace_queries
from kaitong.workspaces import domain
from kaitong.workspaces.models import UnlockLink, Workspace
from kaitong.workspaces.settlement import do_change_settlement

# Links this long past their expiry are deleted when a new one is issued: the page of an expired link
# still says "expired" (not "unknown") for a day, which is what a reader of an old email needs.
UNLOCK_LINK_KEPT = domain.UNLOCK_LINK_LIFETIME * 48


class InstanceNotOfAccount(Exception):
    """No such instance, or it is not this Alibaba account's: the same answer for both."""


class UnlockLinkRefused(Exception):
    """The link cannot be followed: ``state`` says whether it was used, expired or never existed."""

    def __init__(self, state: domain.UnlockLinkState) -> None:
        super().__init__(state.value)
        self.state = state


def do_move_settlement(
    *,
    workspace_id: int,
    to_method: domain.Method,
    ali_uid: str = "",
    instance_id: str = "",
    acting: str,
    now: datetime,
    form_token: str | None = None,
) -> bool:
    """更改结算方式: settle the workspace by its billing-center account, or by the instance ``instance_id``
    of the Alibaba account ``ali_uid``. Return whether anything changed (False: it already settles so).

    The caller has decided that ``acting`` may manage the workspace. Raises InstanceNotOfAccount,
    accounts.InstanceNotActive, accounts.InstanceBoundElsewhere, domain.MoveRefused,
    domain.StorageMismatch; a repeat of the
    same form: accounts.AlreadySubmitted with ``{"workspace": id, "changed": bool}``.
    """
    to = domain.BY_BILLING_ACCOUNT
    if to_method is domain.Method.ALIYUN:
        ali_uid, instance_id = ali_uid.strip(), instance_id.strip()
        # Unknown and another account's look the same: the form does not tell which instances exist.
        if not instance_id or marketplace_queries.ali_uid_of(instance_id) != ali_uid:
            raise InstanceNotOfAccount
        to = domain.by_instance(instance_id)
    with accounts.submitting(form_token=form_token, now=now) as submission:
        workspace = Workspace.objects.select_related("billing_account").get(pk=workspace_id)
        changed = do_change_settlement(workspace=workspace, to=to, reason=domain.Reason.MOVED, acting=acting, now=now)
        submission.outcome = {"workspace": workspace_id, "changed": changed}
        return changed


def issue_unlock_link(workspace_id: int, now: datetime) -> str:
    """A new one-time link that opens the workspace's 更改结算方式 page for its owner without signing
    in (立即解锁), usable once within ``domain.UNLOCK_LINK_LIFETIME``: the absolute URL, built from
    ``KAITONG_PUBLIC_URL``. Joins the caller's transaction (a locked-workspace notice that mails it).

    Only the token's digest is stored: the URL returned here is the only copy of the token.
    """
    token = domain.new_unlock_token()
    with transaction.atomic():
        UnlockLink.objects.create(
            workspace_id=workspace_id,
            token_digest=domain.unlock_token_digest(token),
            created_at=now,
            expires_at=now + domain.UNLOCK_LINK_LIFETIME,
        )
        UnlockLink.objects.filter(expires_at__lt=now - UNLOCK_LINK_KEPT).delete()
    path = reverse("billing:unlock", kwargs={"token": token})
    return settings.ENV.public_url.rstrip("/") + path


def do_follow_unlock_link(*, token: str, now: datetime) -> int:
    """Use the link once: return the id of the workspace it opens. UnlockLinkRefused when it was used
    before, has expired, or never existed (a mistyped or made-up token)."""
    if not domain.UNLOCK_TOKEN_RE.fullmatch(token):
        raise UnlockLinkRefused(domain.UnlockLinkState.UNKNOWN)
    with transaction.atomic():
        link = UnlockLink.objects.select_for_update().filter(token_digest=domain.unlock_token_digest(token)).first()
        state = domain.unlock_link_state(
            expires_at=link.expires_at if link else None, used_at=link.used_at if link else None, now=now
        )
        if link is None or state is not domain.UnlockLinkState.USABLE:
            raise UnlockLinkRefused(state)
        link.used_at = now
        link.save(update_fields=["used_at"])
        return link.workspace_id
