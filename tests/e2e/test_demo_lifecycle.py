"""``kaitong demo`` as a user runs it: starts, stops cleanly, keeps its data, and ``--reset`` wipes it."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.test_demo_walk import _demo_port

pytestmark = pytest.mark.e2e


def start(cwd: Path, port: int, *flags: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAITONG_", "DJANGO_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "kaitong.cli", "demo", "--port", str(port), *flags],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "kaitong demo is up" in line:
            return process
    raise AssertionError("the demo did not start:\n" + "".join(lines))


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    out, _ = process.communicate(timeout=45)
    return out


def instances(port: int) -> list[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port + 100}/_sim/state", timeout=10) as response:
        return [i["instance_id"] for i in json.load(response)["instances"]]


def buy(port: int) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port + 100}/_sim/instances", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["instanceId"])


def nobody_listens(port: int) -> bool:
    """Connection refused: no process of the demo is left serving this port (TIME_WAIT does not count)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


def test_stop_keep_and_reset(tmp_path: Path) -> None:
    port = _demo_port()
    demo = start(tmp_path, port)
    bought = buy(port)
    # The seeded workspace comes with three closed days of bills, so the billing center is not empty.
    with sqlite3.connect(tmp_path / "var" / "demo.sqlite3") as db:
        days = db.execute("SELECT day, total FROM billing_dailybill ORDER BY day").fetchall()
    assert len(days) == 3 and all(float(total) > 0 for _, total in days)
    output = stop(demo)
    assert demo.returncode == 0 and "stopped" in output
    assert all(nobody_listens(p) for p in (port, port + 25, port + 100)), "a demo process outlived Ctrl-C"

    demo = start(tmp_path, port)
    assert bought in instances(port)
    stop(demo)

    demo = start(tmp_path, port, "--reset")
    try:
        assert instances(port) == []
    finally:
        stop(demo)
