"""What every benchmark here does before it measures: a fresh PostgreSQL database, free ports, servers up."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str) -> None:
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError as exc:
            if getattr(exc, "code", None):
                return  # an HTTP error still means the server answers
            time.sleep(0.1)
    raise SystemExit(f"server at {url} did not come up")


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql], check=True, capture_output=True)


def fresh_database(url: str, env: dict[str, str]) -> None:
    """Drop and recreate the PostgreSQL database ``url`` names, then migrate it with ``env``."""
    name = url.rsplit("/", 1)[1]
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name}")
    migrate(env)


def demo_env(database: str, **extra: str) -> dict[str, str]:
    """This process's environment for a kaitong in demo mode on ``database``, plus ``extra``."""
    return dict(os.environ, KAITONG_ENV="demo", KAITONG_DATABASE_URL=database, **extra)


def database_ready(url: str, env: dict[str, str]) -> None:
    """A fresh PostgreSQL database ``url``, or the SQLite one migrated as it is."""
    if url.startswith("postgres"):
        fresh_database(url, env)
    else:
        migrate(env)


def migrate(env: dict[str, str]) -> None:
    """``kaitong migrate`` against the database ``env`` configures; its output only if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "kaitong.cli", "migrate"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"kaitong migrate failed:\n{done.stdout}{done.stderr}")
