"""Retry timing for outbox jobs. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta


def next_attempt_at(*, attempts: int, now: datetime, base_seconds: float = 5.0, cap_seconds: float = 900.0) -> datetime:
    """Exponential backoff: 5 s, 10 s, 20 s … capped at 15 minutes."""
    delay = min(cap_seconds, base_seconds * (2 ** max(0, attempts - 1)))
    return now + timedelta(seconds=delay)
