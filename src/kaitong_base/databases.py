"""Database settings both web apps (the vendor's and the simulator's) share."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def sqlite_options(path: str, *, busy_timeout_seconds: float = 20) -> dict[str, Any]:
    """Django OPTIONS that make the SQLite file at ``path`` safe for several threads and processes (and
    make sure its folder exists). WAL lets readers run beside the one writer; IMMEDIATE takes the write
    lock at BEGIN, so two writers queue on busy_timeout instead of failing with "database is locked"
    mid-transaction. A writer waits ``busy_timeout_seconds`` for the lock, then gets that error."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    busy_ms = round(busy_timeout_seconds * 1000)
    return {
        "transaction_mode": "IMMEDIATE",
        "timeout": busy_timeout_seconds,
        "init_command": f"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout={busy_ms};",
    }
