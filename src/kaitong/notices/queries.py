"""Reads about notices: one to deliver, the notices sent for a set of workspaces (the operator's
timeline), and an owner's high-spend alerts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from kaitong.notices.domain import Channel, Notice, mask_recipient
from kaitong.notices.labels import CHANNEL_LABELS, KIND_LABELS
from kaitong.notices.models import SentNotice, SpendThreshold
from kaitong.workspaces.models import Workspace


@dataclass(frozen=True)
class NoticeToDeliver:
    id: int
    kind: Notice
    channel: Channel
    recipient: str
    language: str  # the workspace's: zh or en
    context: dict[str, Any]
    sent: bool


def notice_to_deliver(notice_id: int) -> NoticeToDeliver | None:
    row = SentNotice.objects.filter(pk=notice_id).first()
    if row is None:
        return None
    return NoticeToDeliver(
        id=row.pk,
        kind=Notice(row.kind),
        channel=Channel(row.channel),
        recipient=row.recipient,
        language=row.language,
        context=dict(row.context),
        sent=row.state == SentNotice.State.SENT,
    )


@dataclass(frozen=True)
class SentNoticeRow:
    """A notice as the operator's timeline lists it: no address in clear."""

    at: datetime  # queued, in the transaction of the change it reports
    workspace_id: int
    kind: str
    kind_label: str
    channel: str
    channel_label: str
    recipient: str  # masked: o***r@example.com, 138****8000
    state: str
    state_label: str
    sent_at: datetime | None
    detail: str


def sent_notices(*, workspace_ids: Iterable[int], limit: int = 500) -> list[SentNoticeRow]:
    """Notices sent about these workspaces, newest first (at most ``limit``), labels in the active
    language (the operator's)."""
    rows = SentNotice.objects.filter(workspace_id__in=list(workspace_ids)).order_by("-queued_at", "-id")[:limit]
    return [
        SentNoticeRow(
            at=row.queued_at,
            workspace_id=row.workspace_id,
            kind=row.kind,
            kind_label=str(KIND_LABELS[Notice(row.kind)]),
            channel=row.channel,
            channel_label=str(CHANNEL_LABELS[Channel(row.channel)]),
            recipient=mask_recipient(row.channel, row.recipient),
            state=row.state,
            state_label=str(row.get_state_display()),
            sent_at=row.sent_at,
            detail=row.detail,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class SpendAlertRow:
    workspace_id: int
    workspace_name: str
    threshold: Decimal | None  # None: the alert is off


def spend_alerts_of(*, owner_id: int) -> list[SpendAlertRow]:
    """The owner's workspaces, oldest first, with their high-spend threshold (None: off)."""
    thresholds = dict(SpendThreshold.objects.filter(workspace__owner_id=owner_id).values_list("workspace_id", "amount"))
    workspaces = Workspace.objects.filter(owner_id=owner_id).order_by("created_at", "id").values_list("pk", "name")
    return [SpendAlertRow(pk, name, thresholds.get(pk)) for pk, name in workspaces]
