"""Where 立即解锁 takes the owner: the billing center's 更改结算方式 page of the workspace.

That page is built beside this capability (issue 12: billing center → 工作空间管理 → 更改结算方式, URL
name ``billing:workspace_settlement``); until both meet, the link is written here, in one place. Once the
page exists, ``reverse("billing:workspace_settlement", args=[workspace_id])`` replaces the literal.
"""

from __future__ import annotations


def unlock_url(workspace_id: int) -> str:
    """The path of the workspace's settlement page in the billing center (renew, pay or move from there)."""
    return f"/billing/workspaces/{int(workspace_id)}/settlement/"
