"""The one door through which a workspace's settlement is set or changed.

Every path goes through ``do_change_settlement``: a workspace created settled by its billing-center
account or by an instance (operator, demo, 创建工作空间, 注册观测云账号, 立即注册观测云商业版), and an
existing one bound to an instance (绑定) or moved. The change and its audit row (``SettlementChange``)
commit together; the rules of which change is allowed are pure (``domain.settlement_changes``). Why this
lives in workspaces and not in billing: docs/decisions/2026-11-30-settlement-door.md.

A released instance no longer moves its workspaces back to the billing-center account: its release
starts their lock countdown (issue 12; ``kaitong.countdown``, docs/decisions/2026-11-30-lock-countdown.md).
Capabilities that react to a move (the countdown lifts when the workspace leaves the failed cause)
register with ``on_settlement_change``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from django.db import transaction

from kaitong.accounts import actions as accounts
from kaitong.marketplace import queries as marketplace_queries
from kaitong.notices.actions import do_send_workspace_notice
from kaitong.notices.domain import Notice
from kaitong.workspaces import domain, queries
from kaitong.workspaces.models import SettlementChange, Workspace


def do_change_settlement(
    *, workspace: Workspace, to: domain.Settlement, reason: domain.Reason, acting: str, now: datetime
) -> bool:
    """Settle ``workspace`` as ``to`` and write the audit row, in one transaction (the caller's, if any).

    A workspace not yet saved is inserted here, settled so from the start (its first audit row has no
    "from"); an existing one is re-read under a row lock, so two changes of one workspace serialise.
    ``acting`` says who asked, ``reason`` why. Return False, writing nothing, when it already settles so.

    Settling by an instance registers it as a cloud account of the workspace's billing-center account
    and locks the instance row first (the same order as an SPI call that releases it): raises
    InstanceNotActive, InstanceBoundElsewhere (accounts) or AlreadyBoundElsewhere (domain).

    A buyer's move (a reason in ``domain.MOVE_REASONS``: 绑定, 更改结算方式) is judged under the
    workspace's row lock, so two moves of one workspace cannot both pass the once-a-month rule: raises
    MoveRefused (domain). Its owner is told, in the workspace's language (notices).

    Every path, creation included, keeps the workspace's storage with its edition: StorageMismatch
    (domain) when ``to`` is not the settlement of ``workspace.storage`` (see ``storage_for``).
    """
    # No savepoint of its own: every caller is an action whose transaction (or savepoint) this joins, and
    # a failure here undoes that action as a whole. It spares two statements per change.
    if workspace.storage != storage_for(to):
        raise domain.StorageMismatch
    with transaction.atomic(savepoint=False):
        cloud_account_id = None
        if to.method is domain.Method.ALIYUN:
            if workspace.billing_account is None:
                raise ValueError("only a workspace under a billing-center account can settle by an instance")
            cloud_account_id = accounts.ensure_cloud_account(
                billing_account=workspace.billing_account, instance_id=to.instance_id, now=now
            ).pk
        current = None
        if workspace.pk is not None:
            locked = (
                Workspace.objects.select_for_update(of=("self",))
                .select_related("cloud_account__instance")
                .get(pk=workspace.pk)
            )
            current = queries.settlement_of(locked)
        if not domain.settlement_changes(current=current, to=to, reason=reason):
            return False
        if current is not None and reason in domain.MOVE_REASONS:
            domain.check_move(queries.move_facts(workspace_id=locked.pk, current=current), now=now)
        if workspace.pk is None:
            workspace.settlement = to.method
            workspace.cloud_account_id = cloud_account_id
            workspace.save(force_insert=True)
        else:
            Workspace.objects.filter(pk=workspace.pk).update(settlement=to.method, cloud_account_id=cloud_account_id)
        SettlementChange.objects.create(
            workspace=workspace,
            at=now,
            acting=acting[: SettlementChange._meta.get_field("acting").max_length],
            reason=reason,
            from_method=current.method if current else "",
            from_instance_id=current.instance_id if current else "",
            to_method=to.method,
            to_instance_id=to.instance_id,
        )
        if current is not None and reason in domain.MOVE_REASONS:
            do_send_workspace_notice(
                workspace_id=workspace.pk,
                notice=Notice.SETTLEMENT_CHANGED,
                context={
                    "from_settlement": current.method.value,
                    "to_settlement": to.method.value,
                    # The instance the change is about: the new one, or the one the workspace left.
                    "instance_id": to.instance_id or current.instance_id,
                },
                now=now,
            )
        if current is not None:
            for receiver in _settlement_change_receivers:
                receiver(workspace_id=workspace.pk, before=current, after=to, acting=acting, now=now)
        return True


def storage_for(settled_by: domain.Settlement) -> str:
    """Where the data of a workspace settled so lives: in the buyer's SLS when an exclusive-edition
    instance settles it, else with Guance. A new workspace takes it; an existing one must match it."""
    if settled_by.method is domain.Method.ALIYUN and marketplace_queries.is_exclusive(settled_by.instance_id):
        return Workspace.Storage.SLS
    return Workspace.Storage.GUANCE


# Other capabilities react to a workspace's settlement having changed (the lock countdown lifts when the
# workspace leaves the failed cause). Receivers run inside the door's transaction, the workspace row
# locked, so what they write commits or rolls back with the change and its audit row.
class SettlementChangeReceiver(Protocol):
    def __call__(
        self, *, workspace_id: int, before: domain.Settlement, after: domain.Settlement, acting: str, now: datetime
    ) -> None:
        """React to an existing workspace moving from ``before`` to ``after`` (``acting`` asked for it)."""


_settlement_change_receivers: list[SettlementChangeReceiver] = []


def on_settlement_change(receiver: SettlementChangeReceiver) -> SettlementChangeReceiver:
    """Register ``receiver``, called inside the door's transaction after every change of an existing workspace."""
    _settlement_change_receivers.append(receiver)
    return receiver
