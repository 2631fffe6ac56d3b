"""``kaitong demo``: the whole system on one machine, on SQLite, with no other set-up.

Starts, as child processes, the vendor web app, its worker and the marketplace simulator (its SPI URL
pointed at the vendor, the vendor's Market endpoint pointed at it), plus an embedded SMTP server whose
messages the simulator's ``/mailbox/`` page shows. Prints where to go and what was seeded, and stops
everything cleanly on Ctrl-C. Data lives under ``var/`` and survives restarts; ``--reset`` wipes it.

Ports: the vendor on ``--port`` (8000), the simulator on port + 100, SMTP on port + 25.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kaitong.config.env import AppEnv

VAR = Path("var")
DEMO_DB = VAR / "demo.sqlite3"
SIMULATOR_DB = VAR / "demo-simulator.sqlite3"
MAILBOX = VAR / "demo-mail"
SMS_BOX = VAR / "demo-sms"  # the vendor's SMS sink writes here; the simulator's /mailbox/ shows it
# The demo's clock offset, shared by every demo process; the simulator's 已购买的服务 page moves it.
CLOCK_OFFSET = VAR / "demo-clock-offset"

# What the demo seeds, printed at start-up so a visitor can try every branch of the seed page.
BUYER_UID = "1234567890123456"
BUYER_NAME = "演示买家 Demo buyer"
SEED_USERNAME = "demo"
SEED_EMAIL = "demo@kaitong.local"
SEED_PHONE = "+86 138 0013 8000"  # so that the seeded owner's notices also arrive by SMS
SEED_PASSWORD = "Kaitong-demo-2026"  # noqa: S105 (a demo credential, printed on purpose)
SEED_WORKSPACE = "演示工作空间 Demo workspace"
OPERATOR_USERNAME = "operator"
OPERATOR_PASSWORD = "Kaitong-ops-2026"  # noqa: S105


def _step(message: str) -> None:
    print(f"  • {message}", flush=True)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _wait_until_up(url: str, *, seconds: float = 45, children: list[subprocess.Popen[bytes]] | None = None) -> bool:
    deadline = time.monotonic() + seconds
    dots = 0
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback URL we built)
                if dots:
                    print(flush=True)
                return True
        except OSError:
            if children and any(child.poll() is not None for child in children):
                return False
            time.sleep(0.3)
            dots += 1
            if dots % 5 == 0:
                print(".", end="", flush=True)
    return False


# --- the mailbox ------------------------------------------------------------------------------------------


class _MailboxHandler:
    """aiosmtpd handler: every message is stored as one ``.eml`` file, named so that names sort by time."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self._count += 1
            name = f"{time.time_ns():020d}-{self._count:04d}.eml"
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        (self.folder / name).write_bytes(data)
        return "250 Message accepted for delivery"


def start_smtp(host: str, port: int, folder: Path) -> Any:
    from aiosmtpd.controller import Controller

    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(_MailboxHandler(folder), hostname=host, port=port)
    controller.start()
    return controller


# --- the seed ------------------------------------------------------------------------------------------


def seed_vendor() -> None:
    """Seed the vendor database (idempotent): a billing-center account with a workspace, an operator.

    Run in a child process with the demo's environment. Everything goes through the capabilities' own
    actions, as a buyer's or an operator's would: the account, the workspace (settled by that
    billing-center account, so that 去绑定 has something to bind; its settlement audited like any
    other) and the operator.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaitong.config.settings")
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from kaitong.accounts import actions as accounts
    from kaitong.accounts import queries as account_queries
    from kaitong.workspaces import actions as workspaces
    from kaitong.workspaces import domain as workspace_rules
    from kaitong.workspaces import queries as workspace_queries

    now = timezone.now()
    with transaction.atomic():
        account_id = account_queries.billing_account_id_by_username(SEED_USERNAME)
        if account_id is None:
            account_id = accounts.do_register_verified_console_account(
                username=SEED_USERNAME,
                password_hash=make_password(SEED_PASSWORD),
                email=SEED_EMAIL,
                phone=SEED_PHONE,
                enterprise_name="演示企业 Demo Co.",
                now=now,
            ).pk
        seeded_workspace = None
        if not workspace_queries.has_workspaces(billing_account_id=account_id):
            # Created "a week ago", so the days fed below are its days and the billing center has bills.
            seeded_workspace = workspaces.do_create_workspace(
                billing_account_id=account_id,
                name=SEED_WORKSPACE,
                language="zh",
                settled_by=workspace_rules.BY_BILLING_ACCOUNT,
                reason=workspace_rules.Reason.CREATED,
                acting="demo seed",
                now=now - timedelta(days=7),
            )
        if not account_queries.username_is_taken(OPERATOR_USERNAME):
            accounts.do_create_operator(
                username=OPERATOR_USERNAME,
                email="ops@kaitong.local",
                password_hash=make_password(OPERATOR_PASSWORD),
                now=now,
            )
    if seeded_workspace is not None:
        _feed_past_usage(workspace_id=seeded_workspace, now=now)


def _feed_past_usage(*, workspace_id: int, now: Any) -> None:
    """Three past days of plausible usage for the seeded workspace, closed at once, so the billing
    center has bills to show from the first minute (the workspace is settled by its billing-center
    account, so nothing is pushed to the marketplace). They are recorded as paid, as an operator would:
    an unpaid bill would start the workspace's lock countdown before the visitor has seen it; the days
    that follow are left unpaid, so advancing the demo's clock shows that path too."""
    from kaitong.billing import closing, domain, ingest, payments
    from kaitong.billing.commands import simulated_samples
    from kaitong.billing.queries import unpaid_bill_ids

    today = domain.beijing_day(now)
    for back in (3, 2, 1):
        day = today - timedelta(days=back)
        moment = datetime.combine(day, datetime.min.time())
        rows = simulated_samples(workspace_ids=[workspace_id], day=moment, until=now)
        batch = [{"workspace": w, "item": i, "hour": h, "quantity": q} for w, i, h, q in rows]
        ingest.ingest_batch(raw=batch, now=now)
        closing.do_close_day(day=day, now=now)
    payments.do_record_bill_payments(
        bill_ids=unpaid_bill_ids(workspace_ids=[workspace_id]),
        recorded_by="demo seed",
        now=now,
        note="paid before the demo",
    )


def _seed_simulator(url: str) -> None:
    body = json.dumps({"uid": BUYER_UID, "name": BUYER_NAME}).encode()
    request = urllib.request.Request(url + "/_sim/accounts", data=body, method="POST")  # noqa: S310
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 (loopback URL we built)
        pass


# --- the run ------------------------------------------------------------------------------------------


def _reset() -> None:
    for db in (DEMO_DB, SIMULATOR_DB):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(MAILBOX, ignore_errors=True)
    shutil.rmtree(SMS_BOX, ignore_errors=True)
    CLOCK_OFFSET.unlink(missing_ok=True)


def demo_environment(*, host: str, port: int) -> dict[str, str]:
    """The environment every demo process runs with: each part pointed at the others."""
    public_url = f"http://{host}:{port}"
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.setdefault("KAITONG_ENV", "demo")
    env.setdefault("KAITONG_DATABASE_URL", f"sqlite:///{DEMO_DB}")
    env.setdefault("KAITONG_PUBLIC_URL", public_url)
    env.setdefault("KAITONG_SIMULATOR_DATABASE_URL", f"sqlite:///{SIMULATOR_DB}")
    env.setdefault("KAITONG_SIMULATOR_SPI_URL", public_url + "/marketplace/aliyun/spi")
    env.setdefault("KAITONG_SIMULATOR_RETRY_SECONDS", "3")
    env.setdefault("KAITONG_SIMULATOR_MAILBOX_DIR", str(MAILBOX.resolve()))
    # SMS to owners with a phone number: the file sink, one JSON file a message, shown beside the mail.
    env.setdefault("KAITONG_SMS_BACKEND", "file")
    env.setdefault("KAITONG_SMS_FILE_DIR", str(SMS_BOX.resolve()))
    env.setdefault("KAITONG_SIMULATOR_SMS_DIR", env["KAITONG_SMS_FILE_DIR"])
    env.setdefault("KAITONG_CLOCK_OFFSET_FILE", str(CLOCK_OFFSET.resolve()))
    # A visitor settles past days by hand (`kaitong settle --day …`), long after the marketplace's
    # 01:59 deadline; the demo's marketplace accepts them so the buyer's bill shows something.
    # The simulator alone (and its tests) enforce the deadline.
    env.setdefault("KAITONG_SIMULATOR_ENFORCE_DEADLINE", "false")
    env.setdefault("KAITONG_ALIYUN_MARKET_ENDPOINT", f"{host}:{port + 100}")
    env.setdefault("KAITONG_ALIYUN_MARKET_PROTOCOL", "http")
    env.setdefault("KAITONG_MARKETPLACE_PRODUCT_URL", f"http://{host}:{port + 100}/")
    # The exclusive edition: the simulator is also the buyer's Alibaba account. The STS and SLS SDKs keep
    # Alibaba's endpoint names and reach the simulator as their HTTP proxy, which routes by Host; the
    # cross-account authorisation link opens its 同意授权 page. Nothing leaves the machine.
    env.setdefault("KAITONG_ALIYUN_CLOUD_PROXY", f"http://{host}:{port + 100}")
    env.setdefault("KAITONG_ALIYUN_CLOUD_PROTOCOL", "http")
    env.setdefault("KAITONG_MARKETPLACE_ROLE_AUTH_URL", f"http://{host}:{port + 100}/authorize/")
    env.setdefault("KAITONG_SMTP_HOST", host)
    env.setdefault("KAITONG_SMTP_PORT", str(port + 25))
    return env


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _feed_usage_forever(kaitong: list[str], env: dict[str, str], *, every_seconds: float = 600) -> None:
    """Today's usage so far for every workspace, the visitor's included, as a DataKit would report it.
    At 00:00 Beijing the worker closes the day: bills in the billing center, and the Alibaba-settled
    workspaces' fees pushed to the simulator, whose 账单 page shows them."""
    while True:
        subprocess.run([*kaitong, "usage", "simulate"], env=env, capture_output=True)  # noqa: S603
        time.sleep(every_seconds)


def run_demo(*, reset: bool, host: str, port: int) -> None:
    # A supervisor's SIGTERM stops the demo as cleanly as Ctrl-C does, children included; and Ctrl-C
    # works even when a shell started the demo in the background with SIGINT ignored.
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    simulator_port, smtp_port = port + 100, port + 25
    public_url = f"http://{host}:{port}"
    simulator_url = f"http://{host}:{simulator_port}"
    env = demo_environment(host=host, port=port)
    kaitong = [sys.executable, "-m", "kaitong.cli"]

    print("kaitong demo — starting (Ctrl-C stops everything)", flush=True)
    busy = [str(p) for p in (port, simulator_port, smtp_port) if not _port_free(host, p)]
    if busy:
        raise SystemExit(f"port {', '.join(busy)} on {host} is in use; stop what uses it or pass --port")
    VAR.mkdir(exist_ok=True)
    if reset:
        _step("resetting the demo data (vendor, simulator, mailbox)")
        _reset()
    _step("preparing the vendor database (migrations)")
    subprocess.run([*kaitong, "migrate"], env=env, check=True)  # noqa: S603
    _step(f"seeding: billing-center account '{SEED_USERNAME}' with a workspace, operator '{OPERATOR_USERNAME}'")
    seed = "from kaitong.demo import seed_vendor; seed_vendor()"
    subprocess.run([sys.executable, "-c", seed], env=env, check=True)  # noqa: S603
    _step(f"starting the mail server on {host}:{smtp_port} (mailbox: {simulator_url}/mailbox/)")
    smtp = start_smtp(host, smtp_port, MAILBOX)

    children: list[subprocess.Popen[bytes]] = []
    try:
        _step(f"starting the marketplace simulator on {simulator_url}")
        children.append(
            subprocess.Popen([*kaitong, "simulator", "--host", host, "--port", str(simulator_port)], env=env)  # noqa: S603
        )
        _step(f"starting the vendor web app on {public_url}")
        children.append(
            subprocess.Popen([*kaitong, "serve", "--host", host, "--port", str(port), "--workers", "2"], env=env)  # noqa: S603
        )
        _step("starting the vendor worker (mail, metering pushes)")
        children.append(subprocess.Popen([*kaitong, "worker"], env=env))  # noqa: S603
        _step("waiting for the web app and the simulator to answer")
        for url in (public_url + "/healthz", simulator_url + "/healthz"):
            if not _wait_until_up(url, children=children):
                raise SystemExit(f"{url} did not come up; see the messages above")
        _seed_simulator(simulator_url)
        _step("feeding simulated usage for every workspace, every 10 minutes (kaitong usage simulate)")
        threading.Thread(target=_feed_usage_forever, args=(kaitong, env), daemon=True).start()
        exclusive_product = (
            env.get("KAITONG_ALIYUN_EXCLUSIVE_PRODUCT_CODE")
            or AppEnv.model_fields["aliyun_exclusive_product_code"].default
        )
        print(
            f"""
kaitong demo is up. Start at the first link.

  1. 云市场（模拟器）Marketplace   {simulator_url}/          ← 立即开通 (open now)
     已购买的服务 Purchased       {simulator_url}/console/
     邮箱 Mailbox (mail, SMS)     {simulator_url}/mailbox/
     SPI 投递 Deliveries          {simulator_url}/ops/
  2. 观测云 Vendor site           {public_url}/
     运营后台 Operator console    {public_url}/ops/

Seeded:
  Alibaba Cloud account (simulator sign-in): {BUYER_NAME}, UID {BUYER_UID} (or create your own)
  billing-center account for 去绑定: username {SEED_USERNAME}, email {SEED_EMAIL}, password {SEED_PASSWORD}
      with workspace {SEED_WORKSPACE}; verification codes arrive in the mailbox, notices
      (lock countdown, 高消费预警 at {public_url}/billing/alerts/) by email and SMS to {SEED_PHONE}
  operator console: {OPERATOR_USERNAME} / {OPERATOR_PASSWORD}

Usage and bills: every workspace gets simulated usage every 10 minutes; each day closes at 00:00
Beijing time (bills at {public_url}/billing/ after console sign-in; Alibaba-settled days are pushed to
the simulator's 账单 page). The seeded workspace already has three days of bills.

Exclusive edition (专属版, data in the buyer's own SLS): {simulator_url}/?product={exclusive_product}
→ 立即开通 → 免登 → 绑定阿里云账号: create a RAM user with the SLS policy and an AccessKey at
{simulator_url}/account/ram/ (RAM 账号授权), or 立即前往授权 → 同意授权 (第三方快捷授权); the workspace's
project guance-wksp-<id> then appears at {simulator_url}/account/sls/.

Lock countdown: 关闭 (close) or expire an instance on 已购买的服务, and the workspaces it settles count 14
days down to a lock; the page's demo clock (推进时钟 +1/+3/+7/+14 天) moves every demo process forward.
""",
            flush=True,
        )
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
        smtp.stop()
        print("stopped; the data is kept in var/ (kaitong demo --reset starts afresh)", flush=True)
