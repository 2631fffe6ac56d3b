"""Read-only workspace questions, answered with plain values."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet

from kaitong.accounts import domain as account_rules
from kaitong.accounts.models import CloudAccount
from kaitong.marketplace import queries as marketplace_queries
from kaitong.marketplace.domain import State
from kaitong.marketplace.models import STATE_LABELS
from kaitong.workspaces import domain
from kaitong.workspaces.models import REASON_LABELS, SettlementChange, UnlockLink, Workspace


def language_choices() -> list[tuple[str, str]]:
    """The languages a workspace can be created in (value, label): chosen once, never changed."""
    return list(Workspace.Language.choices)


@dataclass(frozen=True)
class WorkspaceRow:
    id: int
    name: str
    language: str
    language_label: str
    settlement: str
    bound_here: bool  # settled by the instance of this session
    bound_elsewhere: bool  # settled by another instance
    # Bound elsewhere: the Alibaba Cloud account that settles it, masked (1673****0301); else "".
    settled_by: str = ""
    # Bound elsewhere by another instance of this session's own aliUid: that instance's id (the buyer
    # owns it and sees the aliUid in full in the header, so masking it would only confuse); else "".
    settled_by_own_instance: str = ""


def bindable_workspaces(
    *, billing_account_id: int, instance_id: str, ali_uid: str = "", storage: str | None = None
) -> list[WorkspaceRow]:
    """Workspaces under the billing-center account, for the 绑定观测云工作空间 list; ``ali_uid`` is the
    buyer's own, whose other instances are named rather than masked; ``storage`` ("guance" | "sls"), if
    given, keeps only the workspaces of that edition (a workspace's storage never changes)."""
    rows = []
    workspaces = Workspace.objects.filter(billing_account_id=billing_account_id, dissolution__isnull=True)
    if storage is not None:
        workspaces = workspaces.filter(storage=storage)
    for workspace in (
        # A dissolved workspace (解散) is gone: never bound again.
        workspaces.select_related("cloud_account__instance").order_by("created_at", "id")
    ):
        cloud = workspace.cloud_account
        here = cloud is not None and cloud.instance.instance_id == instance_id
        settled_by = own_instance = ""
        if cloud is not None and not here:
            settled_by = account_rules.masked_ali_uid(cloud.ali_uid)
            own_instance = cloud.instance.instance_id if ali_uid and cloud.ali_uid == ali_uid else ""
        rows.append(
            WorkspaceRow(
                id=workspace.pk,
                name=workspace.name,
                language=workspace.language,
                language_label=str(workspace.get_language_display()),
                settlement=workspace.settlement,
                bound_here=here,
                bound_elsewhere=cloud is not None and not here,
                settled_by=settled_by,
                settled_by_own_instance=own_instance,
            )
        )
    return rows


def emails_to_bind(*, workspace_id: int, billing_account_id: int) -> frozenset[str]:
    """The addresses a code to bind this workspace may be mailed to: its billing-center account's and
    its owner's, as ``actions.do_bind_workspace`` checks them on submit (empty: no such workspace here)."""
    found = (
        Workspace.objects.filter(pk=workspace_id, billing_account_id=billing_account_id)
        .values_list("billing_account__email", "owner__email")
        .first()
    )
    return frozenset(account_rules.normalise_email(email) for email in found or () if email)


@dataclass(frozen=True)
class WorkspaceHome:
    id: int
    name: str
    language_label: str
    token: str
    settlement_label: str
    ali_uid: str
    instance_id: str
    linux_command: str
    windows_command: str
    dataway_url: str


def has_workspaces(*, billing_account_id: int) -> bool:
    return Workspace.objects.filter(billing_account_id=billing_account_id).exists()


def workspaces_of(owner_id: int) -> list[tuple[int, str]]:
    """The owner's workspaces, oldest first; a dissolved one (解散) is gone from the console."""
    owned = Workspace.objects.filter(owner_id=owner_id, dissolution__isnull=True)
    return list(owned.order_by("created_at", "id").values_list("id", "name"))


def workspace_home(*, workspace_id: int, owner_id: int) -> WorkspaceHome | None:
    """The workspace if ``owner_id`` owns it; None for missing, dissolved and not-yours alike."""
    workspace = (
        Workspace.objects.select_related("cloud_account__instance")
        .filter(pk=workspace_id, owner_id=owner_id, dissolution__isnull=True)
        .first()
    )
    if workspace is None:
        return None
    env = settings.ENV
    commands = domain.datakit_commands(
        dataway_url=env.dataway_url, token=workspace.token, install_host=env.datakit_install_host
    )
    cloud = workspace.cloud_account
    return WorkspaceHome(
        id=workspace.pk,
        name=workspace.name,
        language_label=str(workspace.get_language_display()),
        token=workspace.token,
        settlement_label=str(workspace.get_settlement_display()),
        ali_uid=cloud.ali_uid if cloud else "",
        instance_id=cloud.instance.instance_id if cloud else "",
        linux_command=commands.linux,
        windows_command=commands.windows,
        dataway_url=env.dataway_url,
    )


@dataclass(frozen=True)
class SettledWorkspace:
    """A workspace as the buyer of the instance that settles it sees it: enough to enter it."""

    id: int
    name: str
    language_label: str
    owner_username: str  # the console account that signs in to it


def _settled(workspace: Workspace) -> SettledWorkspace:
    return SettledWorkspace(
        workspace.pk, workspace.name, str(workspace.get_language_display()), workspace.owner.username
    )


def settled_by_instance(instance_id: str) -> list[SettledWorkspace]:
    """The workspaces the marketplace instance settles, oldest first (the returning buyer's page)."""
    return [
        _settled(w)
        for w in Workspace.objects.filter(cloud_account__instance__instance_id=instance_id)
        .select_related("owner")
        .order_by("created_at", "id")
    ]


def instance_settles_workspaces(instance_id: str) -> bool:
    return Workspace.objects.filter(cloud_account__instance__instance_id=instance_id).exists()


def entries_of(workspace_ids: list[int]) -> list[SettledWorkspace]:
    """The workspaces named by ``workspace_ids``, in that order (those that exist), with their owners."""
    by_id = {w.pk: _settled(w) for w in Workspace.objects.filter(pk__in=workspace_ids).select_related("owner")}
    return [by_id[i] for i in workspace_ids if i in by_id]


def settlement_of(workspace: Workspace) -> domain.Settlement:
    """The workspace's settlement as the pure value the rules compare (reads its cloud account's instance)."""
    cloud = workspace.cloud_account
    return domain.BY_BILLING_ACCOUNT if cloud is None else domain.by_instance(cloud.instance.instance_id)


def move_facts(*, workspace_id: int, current: domain.Settlement) -> domain.MoveFacts:
    """What the move rules need of a workspace settled as ``current``, read from its audit rows and its
    instance. The settlement door reads them under the workspace's row lock; the pages read them to say
    beforehand whether a move is possible."""
    return _move_facts({workspace_id: current})[workspace_id]


def _move_facts(settled: dict[int, domain.Settlement]) -> dict[int, domain.MoveFacts]:
    """``move_facts`` of many workspaces (id → current settlement) in two statements."""
    moves: dict[int, tuple[datetime, int]] = {}
    releases: dict[int, list[tuple[datetime, int]]] = {}
    rows = (
        SettlementChange.objects.filter(workspace_id__in=list(settled))
        .filter(reason__in=[*domain.MOVE_REASONS, domain.Reason.INSTANCE_RELEASED])
        .values_list("workspace_id", "reason", "at", "id")
    )
    for workspace_id, reason, at, row_id in rows:
        if reason == domain.Reason.INSTANCE_RELEASED:
            releases.setdefault(workspace_id, []).append((at, row_id))
        elif (at, row_id) > moves.get(workspace_id, (at, -1)):
            moves[workspace_id] = (at, row_id)
    instances = {s.instance_id for s in settled.values() if s.instance_id}
    active = set(
        marketplace_queries.active_instances().filter(instance_id__in=instances).values_list("instance_id", flat=True)
    )
    facts = {}
    for workspace_id, current in settled.items():
        last = moves.get(workspace_id)
        facts[workspace_id] = domain.MoveFacts(
            current=current,
            instance_subscribed=(current.instance_id in active) if current.instance_id else None,
            last_move_at=last[0] if last else None,
            fell_back_since_last_move=last is not None
            and any(release > last for release in releases.get(workspace_id, [])),
        )
    return facts


# -- the billing center: 工作空间管理, 更改结算方式, 云账号 ------------------------------------------------


def _managed_by(user_id: int) -> QuerySet[Workspace]:
    """Workspaces a console account manages in the billing center: those it owns, and those under its
    billing-center account. Only workspaces under a billing-center account can settle at all."""
    # A dissolved workspace (解散, kaitong.countdown) is gone for everyone but the books.
    return Workspace.objects.filter(
        Q(owner_id=user_id) | Q(billing_account__console_account_id=user_id),
        billing_account__isnull=False,
        dissolution__isnull=True,
    )


def may_manage(*, user_id: int, workspace_id: int) -> bool:
    return _managed_by(user_id).filter(pk=workspace_id).exists()


@dataclass(frozen=True)
class ManagedWorkspace:
    """A workspace as 工作空间管理 and 更改结算方式 show it, with whether it may move now."""

    id: int
    name: str
    language_label: str
    method: str
    method_label: str
    instance_id: str
    ali_uid_masked: str
    instance_state: str  # "" when the billing-center account settles it
    instance_state_label: str
    instance_expires_at: datetime | None
    move_refused: domain.MoveRule | None
    next_move_from: datetime | None  # ONCE_A_MONTH: when it may move again
    last_move_at: datetime | None
    lapsed: bool  # its instance expired or was released since its last move: one move is allowed

    @property
    def may_move(self) -> bool:
        return self.move_refused is None


def _managed_rows(workspaces: Iterable[Workspace], *, now: datetime) -> list[ManagedWorkspace]:
    listed = list(workspaces)
    facts = _move_facts({w.pk: settlement_of(w) for w in listed})
    rows = []
    for workspace in listed:
        cloud = workspace.cloud_account
        fact = facts[workspace.pk]
        refused: domain.MoveRefused | None = None
        try:
            domain.check_move(fact, now=now)
        except domain.MoveRefused as exc:
            refused = exc
        state = State(cloud.instance.state) if cloud else None
        rows.append(
            ManagedWorkspace(
                id=workspace.pk,
                name=workspace.name,
                language_label=str(workspace.get_language_display()),
                method=workspace.settlement,
                method_label=str(workspace.get_settlement_display()),
                instance_id=cloud.instance.instance_id if cloud else "",
                ali_uid_masked=account_rules.masked_ali_uid(cloud.ali_uid) if cloud else "",
                instance_state=state.value if state else "",
                instance_state_label=str(STATE_LABELS[state]) if state else "",
                instance_expires_at=cloud.instance.expires_at if cloud else None,
                move_refused=refused.rule if refused else None,
                next_move_from=refused.next_move_from if refused else None,
                last_move_at=fact.last_move_at,
                lapsed=domain.lapsed(fact),
            )
        )
    return rows


def managed_workspaces(*, user_id: int, now: datetime) -> list[ManagedWorkspace]:
    """工作空间管理: the workspaces this console account manages, oldest first (four statements)."""
    workspaces = _managed_by(user_id).select_related("cloud_account__instance").order_by("created_at", "id")
    return _managed_rows(workspaces, now=now)


def managed_workspace(*, workspace_id: int, now: datetime) -> ManagedWorkspace | None:
    """One workspace for its 更改结算方式 page (the caller decided who may see it); None if it is
    missing or under no billing-center account."""
    workspace = (
        Workspace.objects.filter(pk=workspace_id, billing_account__isnull=False)
        .select_related("cloud_account__instance")
        .first()
    )
    return _managed_rows([workspace], now=now)[0] if workspace else None


@dataclass(frozen=True)
class CloudAccountRow:
    """账户管理 > 云账号: one marketplace subscription of the billing-center account."""

    ali_uid_masked: str
    instance_id: str
    state: str
    state_label: str
    expires_at: datetime | None
    registered_at: datetime
    workspaces: tuple[tuple[int, str], ...]  # (id, name) of the workspaces it settles now


def cloud_accounts_of(*, user_id: int) -> list[CloudAccountRow]:
    """The cloud accounts of the console account's billing-center account, newest first, with the
    workspaces each settles (two statements)."""
    clouds = list(
        CloudAccount.objects.filter(billing_account__console_account_id=user_id)
        .select_related("instance")
        .order_by("-created_at", "-id")
    )
    settled: dict[int, list[tuple[int, str]]] = {}
    for cloud_id, workspace_id, name in (
        Workspace.objects.filter(cloud_account__in=clouds, dissolution__isnull=True)
        .order_by("created_at", "id")
        .values_list("cloud_account_id", "id", "name")
    ):
        settled.setdefault(cloud_id, []).append((workspace_id, name))
    return [
        CloudAccountRow(
            ali_uid_masked=account_rules.masked_ali_uid(cloud.ali_uid),
            instance_id=cloud.instance.instance_id,
            state=cloud.instance.state,
            state_label=str(STATE_LABELS[State(cloud.instance.state)]),
            expires_at=cloud.instance.expires_at,
            registered_at=cloud.created_at,
            workspaces=tuple(settled.get(cloud.pk, [])),
        )
        for cloud in clouds
    ]


@dataclass(frozen=True)
class HistoryRow:
    """One change of a workspace's settlement, as its owner reads it."""

    at: datetime
    workspace_id: int
    workspace_name: str
    from_label: str  # "" for the first settlement of a workspace
    from_instance_id: str
    to_label: str
    to_instance_id: str
    reason_label: str


HISTORY_SHOWN = 100


def settlement_history(*, user_id: int, limit: int = HISTORY_SHOWN) -> list[HistoryRow]:
    """The latest changes of settlement of the workspaces this console account manages, newest first."""
    labels = dict(Workspace.Settlement.choices)
    rows = (
        SettlementChange.objects.filter(workspace__in=_managed_by(user_id))
        .select_related("workspace")
        .order_by("-at", "-id")[:limit]
    )
    return [
        HistoryRow(
            at=row.at,
            workspace_id=row.workspace_id,
            workspace_name=row.workspace.name,
            from_label=str(labels.get(row.from_method, "")),
            from_instance_id=row.from_instance_id,
            to_label=str(labels[row.to_method]),
            to_instance_id=row.to_instance_id,
            reason_label=str(REASON_LABELS.get(domain.Reason(row.reason), row.reason)),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class UnlockLinkView:
    """What the page of an unlock link shows before it is followed."""

    state: domain.UnlockLinkState
    workspace_name: str = ""


def unlock_link(*, token: str, now: datetime) -> UnlockLinkView:
    """The state of the link with ``token`` (looked up by its digest) and the workspace it opens."""
    if not domain.UNLOCK_TOKEN_RE.fullmatch(token):
        return UnlockLinkView(domain.UnlockLinkState.UNKNOWN)
    link = UnlockLink.objects.filter(token_digest=domain.unlock_token_digest(token)).select_related("workspace").first()
    if link is None:
        return UnlockLinkView(domain.UnlockLinkState.UNKNOWN)
    state = domain.unlock_link_state(expires_at=link.expires_at, used_at=link.used_at, now=now)
    return UnlockLinkView(state, link.workspace.name)
