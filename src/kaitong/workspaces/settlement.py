"""The one door through which a workspace's settlement is set or changed, and the release fallback.

Every path goes through ``do_change_settlement``: a workspace created settled by its billing-center
account or by an instance (operator, demo, 创建工作空间, 注册观测云账号, 立即注册观测云商业版), an
existing one bound to an instance (绑定), and the fallback to the billing-center account when the
instance is released. The change and its audit row (``SettlementChange``) commit together; the rules
of which change is allowed are pure (``domain.settlement_changes``). Why this lives in workspaces and
not in billing: docs/decisions/2026-11-30-settlement-door.md.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from kaitong.accounts import actions as accounts
from kaitong.mail.actions import enqueue_email
from kaitong.marketplace.actions import on_instance_state_change
from kaitong.marketplace.domain import State
from kaitong.marketplace.models import MarketplaceInstance
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
    """
    # No savepoint of its own: every caller is an action whose transaction (or savepoint) this joins, and
    # a failure here undoes that action as a whole. It spares two statements per change.
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
        return True


@on_instance_state_change
def fall_back_on_release(
    instance: MarketplaceInstance, *, before_state: str, now: datetime, spi_call_id: int | None
) -> None:
    """A released instance settles nothing more: its workspaces fall back to their billing-center account.

    The docs disagree (fallback in aliyun-account.md, lock in workspace-management.md and faq.md); we
    take the fallback, which loses no data, and tell the account holder by email. Expiry changes
    nothing here: a renewal may follow. Runs in the SPI call's transaction, the instance row locked.
    """
    if instance.state != State.RELEASED:
        return
    workspaces = (
        Workspace.objects.filter(cloud_account__instance=instance).select_related("billing_account").order_by("id")
    )
    names_by_account: dict[int, tuple[str, str, list[str]]] = {}
    for workspace in workspaces:
        do_change_settlement(
            workspace=workspace,
            to=domain.BY_BILLING_ACCOUNT,
            reason=domain.Reason.INSTANCE_RELEASED,
            acting=(
                f"marketplace releaseInstance (SPI call #{spi_call_id})"
                if spi_call_id is not None
                else "marketplace reconciliation (DescribeInstanceForIsv: CLOSED)"
            ),
            now=now,
        )
        if workspace.billing_account is None:
            continue
        entry = names_by_account.setdefault(
            workspace.billing_account.pk, (workspace.billing_account.email, workspace.language, [])
        )
        entry[2].append(workspace.name)
    for email, language, names in names_by_account.values():
        enqueue_email(
            message_type="settlement_fallback",
            to=email,
            language="en" if language == "en" else "zh-hans",
            context={"instance_id": instance.instance_id, "workspaces": names},
            now=now,
        )
