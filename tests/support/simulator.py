"""Run the marketplace simulator as a real process for a test, and point the official SDK at it.

Use the ``simulator`` fixture (import it in a conftest or test module)::

    from tests.support.simulator import simulator, market_client  # noqa: F401

    def test_push(simulator):
        instance = simulator.create_instance()
        client = market_client(simulator)              # ACS3-HMAC-SHA256, the SDK's default
        client_v1 = market_client(simulator, signature_algorithm="v2")  # v1 HMAC-SHA1

``start_simulator(...)`` is the same as a context manager, for other scopes or an SPI URL of your own.
The simulator gets its own temporary SQLite database, a free port, and the AccessKey pair below.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

ACCESS_KEY_ID = "test-access-key-id"
ACCESS_KEY_SECRET = "test-access-key-secret-0123456789"
METERING_ASSIT = "cmgj00053362-Frequency-1"
ISV_KEY = "test-isv-key-123"
# The ISV's own Alibaba account (owns ACCESS_KEY_ID) and the marketplace's SLS role template.
ISV_UID = "1999999999999999"
SLS_ROLE = "AliyunMarketGuanceSLSRole"
SLS_ROLE_EXTERNAL_ID = "guance-sls"
EXCLUSIVE_PRODUCT_CODE = "cmgj00060481"
EXCLUSIVE_METERING_ASSIT = "cmgj00060481-Frequency-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(
    process: subprocess.Popen[Any], health_url: str, *, name: str, log: Callable[[], str], seconds: float = 30
) -> None:
    """Return once ``health_url`` answers; fail with ``log()`` if ``process`` exits or ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited:\n" + log())
        try:
            with urllib.request.urlopen(health_url, timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n" + log()) from None
            time.sleep(0.1)


def stop(process: subprocess.Popen[Any], *, seconds: float = 10) -> None:
    """SIGTERM, then SIGKILL if ``process`` is still there after ``seconds``."""
    process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class RunningSimulator:
    url: str  # http://127.0.0.1:<port>
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        """What ``KAITONG_ALIYUN_MARKET_ENDPOINT`` (and the SDK's ``Config.endpoint``) should be."""
        return f"127.0.0.1:{self.port}"

    access_key_id: str = ACCESS_KEY_ID
    access_key_secret: str = ACCESS_KEY_SECRET
    metering_assit: str = METERING_ASSIT

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def add_account(self, *, uid: str, name: str) -> dict:
        """A simulated Alibaba Cloud account to sign in as (kept if the UID exists): uid, created."""
        return self._json("POST", "/_sim/accounts", {"uid": uid, "name": name})

    def create_instance(self, *, trial: bool = False, product_code: str = "cmgj00053362", **extra: Any) -> dict:
        """A purchased instance (the simulator queues createInstance to its SPI URL): instanceId, orderId, aliUid."""
        return self._json("POST", "/_sim/instances", {"trial": trial, "productCode": product_code, **extra})

    def trigger(self, instance_id: str, event: str, **extra: Any) -> dict:
        """expire | renew | resume | upgrade | release; ``fault`` and ``delay`` are test hooks."""
        return self._json("POST", f"/_sim/instances/{instance_id}/events", {"event": event, **extra})

    def state(self) -> dict:
        """instances, deliveries (with attempts), metering (accepted records), total, api_calls."""
        return self._json("GET", "/_sim/state")

    def wait_for(self, condition: Callable[[dict], bool], *, seconds: float = 20) -> dict:
        """Poll ``state()`` until ``condition`` holds of it; return that state (or fail after ``seconds``)."""
        deadline = time.monotonic() + seconds
        while True:
            state = self.state()
            if condition(state):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"the simulator never got there in {seconds:g} s; last state: {state}")
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    # --- the buyer's Alibaba account (STS and SLS) -----------------------------------------------------

    def create_access_key(
        self, uid: str, *, ram_user: str | None = "guance", sls_policy: bool = True
    ) -> tuple[str, str]:
        """A new AccessKey (id, secret) of RAM user ``ram_user`` of ``uid`` (created, or its SLS policy set
        as asked), or of the main account itself when ``ram_user`` is None."""
        answer = self._json(
            "POST", "/_sim/cloud/access-keys", {"uid": uid, "ramUser": ram_user, "slsPolicy": sls_policy}
        )
        return answer["accessKeyId"], answer["accessKeySecret"]

    def revoke_access_key(self, access_key_id: str) -> None:
        self._json("POST", f"/_sim/cloud/access-keys/{access_key_id}/revoke", {})

    def set_sls_active(self, uid: str, active: bool) -> None:
        """日志服务 SLS 开通 / 关闭 (accounts made by the hooks start activated)."""
        self._json("POST", "/_sim/cloud/sls", {"uid": uid, "active": active})

    def grant_role(self, uid: str) -> str:
        """What 同意授权 on the authorisation page does; returns the role's ARN."""
        return str(self._json("POST", "/_sim/cloud/grants", {"uid": uid})["roleArn"])

    def revoke_role(self, uid: str) -> None:
        """撤销授权: the ISV can no longer assume the role, and credentials it got from it stop working."""
        self._json("POST", "/_sim/cloud/grants/revoke", {"uid": uid})

    def sls_projects(self, uid: str) -> list[dict]:
        """The account's SLS projects: name, region, description, stores [{name, kind, mode, ttl}]."""
        return list(self._json("GET", "/_sim/cloud/sls-projects?uid=" + uid)["projects"])

    def create_sls_project(self, uid: str, region: str, name: str) -> None:
        """A project the buyer made themselves (e.g. to test adoption)."""
        self._json("POST", "/_sim/cloud/sls-projects", {"uid": uid, "region": region, "name": name})


@contextlib.contextmanager
def start_simulator(
    directory: Path,
    *,
    spi_url: str = "http://127.0.0.1:9/unreachable",
    command: Sequence[str] = (sys.executable, "-m", "kaitong_sim"),
    **env_overrides: str,
) -> Iterator[RunningSimulator]:
    """Start the simulator (``command``, its own program by default) on a free port with its own
    database in ``directory``; stop it after.

    ``env_overrides`` are extra ``KAITONG_*`` variables, e.g. ``KAITONG_SIMULATOR_ENFORCE_DEADLINE="false"``.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        {
            "KAITONG_ENV": "test",
            "KAITONG_SIMULATOR_DATABASE_URL": f"sqlite:///{directory / 'simulator.sqlite3'}",
            "KAITONG_ALIYUN_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "KAITONG_ALIYUN_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET,
            "KAITONG_ALIYUN_METERING_ASSIT": METERING_ASSIT,
            "KAITONG_ALIYUN_ISV_KEY": ISV_KEY,
            "KAITONG_ALIYUN_ISV_UID": ISV_UID,
            "KAITONG_ALIYUN_SLS_ROLE": SLS_ROLE,
            "KAITONG_ALIYUN_SLS_ROLE_EXTERNAL_ID": SLS_ROLE_EXTERNAL_ID,
            "KAITONG_ALIYUN_EXCLUSIVE_PRODUCT_CODE": EXCLUSIVE_PRODUCT_CODE,
            "KAITONG_ALIYUN_EXCLUSIVE_METERING_ASSIT": EXCLUSIVE_METERING_ASSIT,
            "KAITONG_SIMULATOR_SPI_URL": spi_url,
            "KAITONG_SIMULATOR_RETRY_SECONDS": "0.2",
            "KAITONG_SIMULATOR_SPI_TIMEOUT_SECONDS": "2",
        }
    )
    env.update(env_overrides)
    log_path = directory / "simulator.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = RunningSimulator(url=f"http://127.0.0.1:{port}", port=port, process=process, log_path=log_path, env=env)
    try:
        wait_until_up(process, running.url + "/healthz", name="the simulator", log=running.log)
        yield running
    finally:
        stop(process)


class VendorStub(BaseHTTPRequestHandler):
    """A vendor's SPI endpoint on a real port: each subclass says how it answers a call's parameters."""

    def answer(self, params: dict[str, str]) -> tuple[int, bytes]:
        raise NotImplementedError

    def do_GET(self) -> None:
        status, body = self.answer(dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True)))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving(stub: type[VendorStub]) -> Iterator[str]:
    """Serve ``stub`` on a free port for the duration; yields its SPI URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/spi"
    finally:
        server.shutdown()


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[RunningSimulator]:
    """A fresh simulator for one test (SPI URL unreachable: createInstance keeps retrying, harmlessly)."""
    with start_simulator(tmp_path) as running:
        yield running


def cloud_env(sim: RunningSimulator) -> dict[str, str]:
    """The vendor's ``KAITONG_*`` settings that send its STS and SLS SDK calls to ``sim`` (as their HTTP
    proxy, over http) and share its ISV identity and role template: merge into the vendor's environment."""
    return {
        "KAITONG_ALIYUN_CLOUD_PROXY": sim.url,
        "KAITONG_ALIYUN_CLOUD_PROTOCOL": "http",
        "KAITONG_ALIYUN_STS_ENDPOINT": "sts.aliyuncs.com",
        "KAITONG_ALIYUN_SLS_ENDPOINT_TEMPLATE": "{region}.log.aliyuncs.com",
        "KAITONG_ALIYUN_EXCLUSIVE_PRODUCT_CODE": sim.env.get(
            "KAITONG_ALIYUN_EXCLUSIVE_PRODUCT_CODE", EXCLUSIVE_PRODUCT_CODE
        ),
        "KAITONG_ALIYUN_EXCLUSIVE_METERING_ASSIT": sim.env.get(
            "KAITONG_ALIYUN_EXCLUSIVE_METERING_ASSIT", EXCLUSIVE_METERING_ASSIT
        ),
        "KAITONG_ALIYUN_SLS_ROLE": sim.env.get("KAITONG_ALIYUN_SLS_ROLE", SLS_ROLE),
        "KAITONG_ALIYUN_SLS_ROLE_EXTERNAL_ID": sim.env.get("KAITONG_ALIYUN_SLS_ROLE_EXTERNAL_ID", SLS_ROLE_EXTERNAL_ID),
        "KAITONG_MARKETPLACE_ROLE_AUTH_URL": sim.url + "/authorize/",
        "KAITONG_ALIYUN_ACCESS_KEY_ID": sim.access_key_id,
        "KAITONG_ALIYUN_ACCESS_KEY_SECRET": sim.access_key_secret,
        "KAITONG_ALIYUN_ISV_KEY": sim.env.get("KAITONG_ALIYUN_ISV_KEY", ISV_KEY),
    }


def market_client(sim: RunningSimulator, *, signature_algorithm: str | None = None, secret: str | None = None) -> Any:
    """The official Market SDK client, configured for the simulator over http, as the vendor configures it."""
    from alibabacloud_market20151101.client import Client
    from alibabacloud_tea_openapi.utils_models import Config

    config = Config(
        access_key_id=sim.access_key_id,
        access_key_secret=secret or sim.access_key_secret,
        endpoint=sim.endpoint,
        protocol="http",
        signature_algorithm=signature_algorithm,
        read_timeout=10000,
        connect_timeout=5000,
    )
    return Client(config)
