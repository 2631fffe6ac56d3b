"""A real ``kaitong worker`` process, and databases to pull out from under it: SQLite's write lock
held by another process, and a private PostgreSQL 15 cluster of the test's own that it restarts
(never the shared server on 5432)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tests.support.billing_simulator import ROOT
from tests.support.simulator import free_port

T = TypeVar("T")
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def wait_for(what: str, check: Callable[[], T | None], *, seconds: float) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(0.2)


@dataclass
class RunningWorker:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None


@contextlib.contextmanager
def start_worker(env: dict[str, str], directory: Path) -> Iterator[RunningWorker]:
    """``kaitong worker`` with ``env``, its output in ``directory/worker.log``; stopped (SIGTERM) after."""
    log_path = directory / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kaitong.cli", "worker", "--idle", "0.2"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    worker = RunningWorker(process, log_path)
    try:
        yield worker
    finally:
        if worker.alive():
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


_HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


def hold_sqlite_write_lock(database: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process takes the write lock of ``database`` (BEGIN IMMEDIATE) and keeps it ``seconds``;
    returns once it holds it."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(database), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def sqlite_count(database: Path, sql: str) -> int:
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
        return int(db.execute(sql).fetchone()[0])


class PrivatePostgres:
    """A PostgreSQL 15 cluster in a temporary directory on a free port, trust auth, loopback only.

    PostgreSQL refuses to run as root: as root, the cluster belongs to the ``postgres`` user and every
    command runs through ``runuser``.
    """

    def __init__(self) -> None:
        # Not under pytest's tmp_path: its parents are private to root, and postgres must reach this.
        self.directory = Path(tempfile.mkdtemp(prefix="kaitong-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
            self._as_postgres = ["runuser", "-u", "postgres", "--"]

    @staticmethod
    def available() -> bool:
        return (PG_BIN / "pg_ctl").exists() and (os.geteuid() != 0 or shutil.which("runuser") is not None)

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as_postgres, *command], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c fsync=off"
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.directory / "log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


def postgres_count(url: str, sql: str) -> int:
    import psycopg

    with psycopg.connect(url, connect_timeout=3) as db:
        row = db.execute(sql).fetchone()
        return int(row[0]) if row else 0
