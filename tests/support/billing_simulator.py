"""Billing against the real simulator: buy many instances fast, and run kaitong as a separate process.

``seed_instances`` buys instances inside the simulator's own database through its own action
(``do_purchase``), in one transaction, with createInstance deliveries held back, because a thousand
HTTP purchases would each start an SPI delivery storm against an unreachable vendor.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.simulator import RunningSimulator

ROOT = Path(__file__).resolve().parents[2]

_SEED = """
import json, sys
import django
django.setup()
from django.db import transaction
from django.utils import timezone
from kaitong_sim import actions
from kaitong_sim.models import Account

count, product = int(sys.argv[1]), sys.argv[2]
now = timezone.now()
uid = "1234567890123456"
with transaction.atomic():
    if not Account.objects.filter(uid=uid).exists():
        actions.do_create_account(name="billing buyer", uid=uid, is_ram=False, main_uid="", now=now)
    ids = [
        actions.do_purchase(account_uid=uid, now=now, product_code=product, delay=10**8).instance_id
        for _ in range(count)
    ]
json.dump(ids, sys.stdout)
"""


def seed_instances(sim: RunningSimulator, count: int, *, product_code: str = "cmgj00053362") -> list[str]:
    env = dict(sim.env, DJANGO_SETTINGS_MODULE="kaitong_sim.settings")
    result = subprocess.run(
        [sys.executable, "-c", _SEED, str(count), product_code],
        env=env,
        capture_output=True,
        check=True,
        cwd=ROOT,
        timeout=600,
    )
    return json.loads(result.stdout)


def _sim_db(sim: RunningSimulator) -> str:
    return sim.env["KAITONG_SIMULATOR_DATABASE_URL"].removeprefix("sqlite:///")


@dataclass(frozen=True)
class HeldRecord:
    instance_id: str
    start_at: str
    value: int


def held_records(sim: RunningSimulator) -> list[HeldRecord]:
    """Every metering record the simulator accepted (read from its database: the JSON hook caps at 500)."""
    with sqlite3.connect(_sim_db(sim)) as db:
        rows = db.execute("SELECT instance_id, start_at, entities FROM simulator_meteringrecord").fetchall()
    return [HeldRecord(i, str(s), sum(int(e["Value"]) for e in json.loads(ents))) for i, s, ents in rows]


def push_answers(sim: RunningSimulator) -> dict[str, int]:
    """PushMeteringData requests the simulator answered, by code ("OK" or the POP error)."""
    with sqlite3.connect(_sim_db(sim)) as db:
        rows = db.execute(
            "SELECT code, COUNT(*) FROM simulator_apicall WHERE action = 'PushMeteringData' GROUP BY code"
        ).fetchall()
    return {code: count for code, count in rows}


def vendor_env(sim: RunningSimulator, database: Path, **extra: str) -> dict[str, str]:
    """The environment of a kaitong process (settle, worker) that pushes to ``sim``."""
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "KAITONG_BILLING_FAULT")}
    env.update(
        {
            "KAITONG_ENV": "test",
            "KAITONG_DATABASE_URL": f"sqlite:///{database}",
            "KAITONG_ALIYUN_MARKET_ENDPOINT": sim.endpoint,
            "KAITONG_ALIYUN_MARKET_PROTOCOL": "http",
            "KAITONG_ALIYUN_ACCESS_KEY_ID": sim.access_key_id,
            "KAITONG_ALIYUN_ACCESS_KEY_SECRET": sim.access_key_secret,
            "KAITONG_ALIYUN_METERING_ASSIT": sim.metering_assit,
            "KAITONG_METERING_CLIENT": "sdk",
            "KAITONG_METERING_LEASE_SECONDS": "3",
            "KAITONG_METERING_CONNECT_TIMEOUT_MS": "1000",
            "KAITONG_METERING_READ_TIMEOUT_MS": "1500",
        }
    )
    env.update(extra)
    return env


def kaitong(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kaitong.cli", *args], env=env, capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


_SEED_VENDOR = """
import json, sys
import django
django.setup()
from kaitong.billing import ingest
from tests.support.billing import DAY, after_close, sample, workspaces

ids = json.loads(sys.stdin.read())
pool = workspaces(len(ids), instance_ids=ids)
rows = [
    sample(w, item, DAY, h, (n % 97 + 1) * 1000 * (h + 1))
    for n, w in enumerate(pool)
    for item in ("logs", "sms")
    for h in range(24)
]
for start in range(0, len(rows), 10_000):
    ingest.ingest_batch(raw=rows[start:start + 10_000], now=after_close())
"""


def seed_vendor(env: dict[str, str], instance_ids: list[str]) -> None:
    """Workspaces settled by ``instance_ids`` and a day of usage, in the vendor database of ``env``."""
    subprocess.run(
        [sys.executable, "-c", _SEED_VENDOR],
        input=json.dumps(instance_ids),
        env=dict(env, DJANGO_SETTINGS_MODULE="kaitong.config.settings"),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=600,
    )


@dataclass(frozen=True)
class LedgerRow:
    instance_id: str
    day: str
    amount_cents: int
    state: str
    alarm: bool


def ledger(database: Path) -> list[LedgerRow]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT instance_id, day, amount_cents, state, alarm_at IS NOT NULL FROM billing_meteringrecord"
        ).fetchall()
    return [LedgerRow(str(i), str(d), int(a), str(s), bool(al)) for i, d, a, s, al in rows]


def alarm_emails(database: Path) -> int:
    with sqlite3.connect(database) as db:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM django_tasks_database_dbtaskresult "
            "WHERE task_path = 'kaitong.mail.tasks.send_email' AND args_kwargs LIKE '%billing_alarm%'"
        ).fetchone()
    return int(count)
