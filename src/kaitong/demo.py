"""``kaitong demo``: the whole system on one machine, on SQLite, with no other set-up.

Starts the vendor web app and its worker as child processes, prints where to go, and stops them all
cleanly on Ctrl-C. The data lives in ``var/demo.sqlite3`` and survives restarts; ``--reset`` wipes it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

DEMO_DB = Path("var/demo.sqlite3")


def _step(message: str) -> None:
    print(f"  • {message}", flush=True)


def _wait_until_up(url: str, *, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback URL we built)
                return True
        except OSError:
            time.sleep(0.3)
    return False


def run_demo(*, reset: bool, host: str, port: int) -> None:
    public_url = f"http://{host}:{port}"
    env = dict(os.environ)
    env.setdefault("KAITONG_ENV", "demo")
    env.setdefault("KAITONG_DATABASE_URL", f"sqlite:///{DEMO_DB}")
    env.setdefault("KAITONG_PUBLIC_URL", public_url)
    kaitong = [sys.executable, "-m", "kaitong.cli"]

    print("kaitong demo — starting (Ctrl-C stops everything)", flush=True)
    if reset and DEMO_DB.exists():
        _step("resetting the demo database")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{DEMO_DB}{suffix}").unlink(missing_ok=True)
    _step("preparing the database (migrations)")
    subprocess.run([*kaitong, "migrate"], env=env, check=True)  # noqa: S603

    children: list[subprocess.Popen[bytes]] = []
    try:
        _step(f"starting the web app on {public_url}")
        children.append(
            subprocess.Popen([*kaitong, "serve", "--host", host, "--port", str(port), "--workers", "2"], env=env)  # noqa: S603
        )
        _step("starting the worker")
        children.append(subprocess.Popen([*kaitong, "worker"], env=env))  # noqa: S603
        if not _wait_until_up(public_url + "/healthz"):
            raise SystemExit("the web app did not come up; see the messages above")
        print(f"\nkaitong is up:\n  vendor site      {public_url}/\n  operator console {public_url}/ops/\n", flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        raise SystemExit("a demo process stopped unexpectedly; see the messages above")
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
