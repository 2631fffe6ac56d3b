"""Database settings both web apps (the vendor's and the simulator's) share."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def sqlite_options(path: str) -> dict[str, Any]:
    """Django OPTIONS that make the SQLite file at ``path`` safe for several threads and processes (and
    make sure its folder exists). WAL lets readers run beside the one writer; IMMEDIATE takes the write
    lock at BEGIN, so two writers queue on busy_timeout instead of failing with "database is locked"
    mid-transaction."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
    }
