"""``kaitong serve`` as a real process (gunicorn, its workers), for tests of what only a server shows:
timeouts against a database that is not there, counters added up across worker processes."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kaitong.config.env import DEMO_USAGE_API_TOKEN
from tests.support.billing_simulator import ROOT
from tests.support.marketplace import isv_key
from tests.support.simulator import free_port, stop, wait_until_up

USAGE_TOKEN = DEMO_USAGE_API_TOKEN  # what KAITONG_ENV=test fills in


def vendor_environment(database_url: str, **extra: str) -> dict[str, str]:
    """A test-mode kaitong process on ``database_url``, signing with the tests' ISV key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAITONG_") and k != "DJANGO_SETTINGS_MODULE"}
    env.update({"KAITONG_ENV": "test", "KAITONG_DATABASE_URL": database_url, "KAITONG_ALIYUN_ISV_KEY": isv_key()})
    env.update(extra)
    return env


@dataclass
class RunningVendor:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def start_vendor(
    env: dict[str, str], directory: Path, *, workers: int = 1, threads: int = 4
) -> Iterator[RunningVendor]:
    """``kaitong serve`` on a free port, its output in ``directory/serve.log``; up once /healthz answers
    (which asks nothing of the database); stopped after."""
    port = free_port()
    log_path = directory / "serve.log"
    command = [sys.executable, "-m", "kaitong.cli", "serve", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--workers", str(workers), "--threads", str(threads)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    vendor = RunningVendor(f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_until_up(process, vendor.url + "/healthz", name="kaitong serve", log=vendor.log, seconds=60)
        yield vendor
    finally:
        stop(process, seconds=20)


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A port that takes TCP connections (the kernel completes the handshake) and never says a word:
    a database server that hangs, as a network partition or a wedged host looks to a client."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        yield int(listener.getsockname()[1])
