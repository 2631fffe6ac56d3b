"""Only the settlement door (workspaces/settlement.py) writes how a workspace settles: no other module of
kaitong assigns, updates or creates with ``settlement`` or ``cloud_account`` (the audit row would be
missing). A source scan, so it also catches code no test happens to run."""

from __future__ import annotations

import ast
from pathlib import Path

import kaitong

PACKAGE = Path(kaitong.__file__).parent
DOOR = PACKAGE / "workspaces" / "settlement.py"
COLUMNS = {"settlement", "cloud_account", "cloud_account_id"}


def _writes(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        writes = isinstance(node, ast.Call) and getattr(node.func, "attr", "") in (
            "update",
            "create",
            "update_or_create",
        )
        if writes and any(keyword.arg in COLUMNS for keyword in node.keywords):  # type: ignore[attr-defined]
            lines.append(node.lineno)
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Attribute) and t.attr in COLUMNS for t in targets):
                lines.append(node.lineno)
    return lines


def test_only_the_door_writes_a_workspaces_settlement():
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.parts and path != DOOR
        for line in _writes(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offenders == []


def test_the_scan_sees_a_write():
    assert _writes(ast.parse("Workspace.objects.filter(pk=1).update(settlement='aliyun')")) == [1]
    assert _writes(ast.parse("workspace.cloud_account_id = 3")) == [1]
    assert _writes(ast.parse("do_change_settlement(workspace=w, to=t)")) == []
