"""The notices kaitong sends about a workspace. Pure: no Django, no I/O."""

from __future__ import annotations

from enum import StrEnum


class Notice(StrEnum):
    """What happened to a workspace that its owner is told about, in the workspace's language."""

    COUNTDOWN_STARTED = "countdown_started"  # the 14-day lock countdown began
    COUNTDOWN_ENDING = "countdown_ending"  # 3 days before the lock
    LOCKED = "locked"
    UNLOCKED = "unlocked"
    SETTLEMENT_CHANGED = "settlement_changed"
    HIGH_SPEND = "high_spend"  # 高消费预警: a daily bill item above the owner's threshold


def mail_language(workspace_language: str) -> str:
    """The Django language of a workspace's notices: the workspace's own (zh/en), never the reader's browser."""
    return "en" if workspace_language == "en" else "zh-hans"
