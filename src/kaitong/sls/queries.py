"""Read-only questions about the exclusive edition's grants and storage, for pages and the console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kaitong.sls.domain import mask_key_id
from kaitong.sls.models import AliyunGrant, SlsStorage


@dataclass(frozen=True)
class GrantView:
    method: str  # "role" | "access_key": the one used (the role when both exist)
    masked_key_id: str  # "" for the role
    state: str  # "ok" | "revoked"
    state_label: str
    problem: str  # a kaitong.sls.domain.Problem value when revoked
    verified_at: datetime | None

    @property
    def working(self) -> bool:
        """Not revoked: exclusive workspaces may be created and written (the gate, the page, the console)."""
        return self.state == AliyunGrant.State.OK


@dataclass(frozen=True)
class StorageView:
    region: str
    project: str
    state: str  # pending | ready | failed
    state_label: str
    adopted: bool


def grant_of(ali_uid: str) -> GrantView | None:
    """The account's verified grant as pages may show it (never the secret); None before any 验证."""
    grant = AliyunGrant.objects.filter(ali_uid=ali_uid, verified_at__isnull=False).first()
    if grant is None:
        return None
    return GrantView(
        method=grant.method,
        masked_key_id=mask_key_id(grant.access_key_id) if grant.access_key_id else "",
        state=grant.state,
        state_label=str(grant.get_state_display()),
        problem=grant.problem,
        verified_at=grant.verified_at,
    )


def storage_of(workspace_id: int) -> StorageView | None:
    """Where an exclusive workspace's data lives; None for a workspace stored by Guance."""
    storage = SlsStorage.objects.filter(workspace_id=workspace_id).first()
    if storage is None:
        return None
    return StorageView(
        region=storage.region,
        project=storage.project,
        state=storage.state,
        state_label=str(storage.get_state_display()),
        adopted=storage.adopted,
    )
