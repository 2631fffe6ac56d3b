"""``GET /api/v1/tokens/{token}``: whether the data platform may accept data sent with a workspace token.

DataWay (the data platform's intake) asks before it accepts a DataKit's data, authenticated like the
usage API (``Authorization: Bearer $KAITONG_USAGE_API_TOKEN``: the same service credential). The answer:
200 for a workspace that takes data (``state`` active, or counting with the day it locks), 403 for a
locked one (with the reason), 404 for no such token (or a dissolved workspace's).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema, Status

from kaitong.billing.api import Unauthorized, UsageToken
from kaitong.countdown import queries
from kaitong.workspaces.domain import TOKEN_RE

router = Router(tags=["tokens"])


class TokenAccepted(Schema):
    workspace: int
    state: str  # "active" or "counting"
    locks_on: date | None = None  # the Beijing day a counting workspace locks


class TokenRefused(Schema):
    workspace: int
    state: str  # "locked"
    reason: str  # why the countdown started: instance_expired, instance_released, unpaid_bill
    locked_since: date
    message: str


class NoSuchToken(Schema):
    detail: str


@router.get(
    "/tokens/{token}",
    auth=UsageToken(),
    response={200: TokenAccepted, 401: Unauthorized, 403: TokenRefused, 404: NoSuchToken},
    summary="May data sent with this workspace token be accepted?",
    description="200: yes (active, or in its lock countdown); 403: the workspace is locked; 404: no such token.",
)
def check_token(request: HttpRequest, token: str) -> Status[dict[str, Any]]:
    state = queries.token_state(token, now=timezone.now()) if TOKEN_RE.match(token) else None
    if state is None:
        return Status(404, {"detail": "no such workspace token"})
    if state.state == "locked":
        assert state.locks_on is not None
        return Status(
            403,
            {
                "workspace": state.workspace_id,
                "state": state.state,
                "reason": state.reason,
                "locked_since": state.locks_on,
                "message": "the workspace is locked: its data is refused until it is unlocked",
            },
        )
    return Status(200, {"workspace": state.workspace_id, "state": state.state, "locks_on": state.locks_on})
