"""The one way to tell a workspace's owner about the workspace: ``do_send_workspace_notice``.

Every notice is rendered in the workspace's language (chosen at creation, never changed), whatever
language the reader's browser uses. It is queued in the caller's transaction, so a notice exists if and
only if the change it reports committed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kaitong.mail.actions import enqueue_email
from kaitong.notices.domain import Notice, mail_language
from kaitong.workspaces.models import Workspace


def do_send_workspace_notice(*, workspace_id: int, notice: Notice, context: dict[str, Any], now: datetime) -> None:
    """Queue ``notice`` about the workspace to its owner, in the workspace's language.

    ``context`` holds what the templates need beyond the workspace (its name and id are added) and must
    be JSON: it is stored in the task row. Call it inside the transaction of the change it reports.
    """
    workspace = Workspace.objects.select_related("owner").get(pk=workspace_id)
    enqueue_email(
        message_type=f"notice_{notice}",
        to=workspace.owner.email,
        language=mail_language(workspace.language),
        context={**context, "workspace_id": workspace.pk, "workspace_name": workspace.name},
        now=now,
    )
