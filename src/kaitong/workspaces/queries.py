"""Read-only workspace questions, answered with plain values."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from kaitong.workspaces import domain
from kaitong.workspaces.models import Workspace


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


def bindable_workspaces(*, billing_account_id: int, instance_id: str) -> list[WorkspaceRow]:
    """Workspaces under the billing-center account, for the 绑定观测云工作空间 list."""
    rows = []
    for workspace in (
        # A dissolved workspace (解散) is gone: never bound again.
        Workspace.objects.filter(billing_account_id=billing_account_id, dissolution__isnull=True)
        .select_related("cloud_account__instance")
        .order_by("created_at", "id")
    ):
        cloud = workspace.cloud_account
        here = cloud is not None and cloud.instance.instance_id == instance_id
        rows.append(
            WorkspaceRow(
                id=workspace.pk,
                name=workspace.name,
                language=workspace.language,
                language_label=str(workspace.get_language_display()),
                settlement=workspace.settlement,
                bound_here=here,
                bound_elsewhere=cloud is not None and not here,
            )
        )
    return rows


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


def names_of(workspace_ids: list[int]) -> list[str]:
    by_id = dict(Workspace.objects.filter(pk__in=workspace_ids).values_list("id", "name"))
    return [by_id[i] for i in workspace_ids if i in by_id]
