"""``kaitong worker`` outlives its database going away: SQLite's write lock held by another process for
50 s, and a PostgreSQL restart (~8 s down). Afterwards a verification-code email (to a real SMTP sink)
and a metering push (to the marketplace simulator) still go out, and the worker said what happened once.

Each scenario runs once per CI run: the SQLite one in the SQLite pass, the PostgreSQL one (on a private
cluster of its own, never the shared server) in the PostgreSQL pass.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from django.db import connection

from tests.support.billing_simulator import ROOT, held_records, kaitong, seed_instances, seed_vendor, vendor_env
from tests.support.simulator import start_simulator
from tests.support.smtp import Sink, smtp_sink  # noqa: F401  (fixture)
from tests.support.worker_process import (
    PrivatePostgres,
    RunningWorker,
    hold_sqlite_write_lock,
    postgres_count,
    private_postgres,
    sqlite_count,
    start_worker,
    wait_for,
)

pytestmark = pytest.mark.slow

FINISHED = "SELECT COUNT(*) FROM django_tasks_database_dbtaskresult WHERE status = 'SUCCESSFUL'"
EMAIL = "outage@sink.example"

# In the vendor's database, as a web request would: a code for EMAIL, and the close of a day whose
# usage the seeded instances have (the close queues the push in its transaction).
_SEND_CODE_AND_CLOSE_DAY = """
import sys
import django
django.setup()
from django.utils import timezone
from kaitong.accounts import actions
from kaitong.accounts.domain import Purpose
from kaitong.billing import closing
from tests.support.billing import DAY, after_close

now = timezone.now()
actions.do_send_verification_code(email=sys.argv[1], purpose=Purpose.REGISTER, ip="127.0.0.1", language="en", now=now)
print(closing.do_close_day(day=DAY, now=after_close()).records)
"""


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    settings = {"KAITONG_SIMULATOR_ENFORCE_DEADLINE": "false", "KAITONG_SIMULATOR_RETRY_SECONDS": "3600"}
    with start_simulator(tmp_path_factory.mktemp("simulator"), **settings) as running:
        yield running


def worker_env(sim, tmp_path, settings, **extra: str) -> dict[str, str]:
    return vendor_env(
        sim,
        tmp_path / "vendor.sqlite3",
        KAITONG_SMTP_HOST="127.0.0.1",
        KAITONG_SMTP_PORT=str(settings.EMAIL_PORT),
        **extra,
    )


def prepare(env: dict[str, str], sim) -> list[str]:
    """A migrated vendor database with two Alibaba-settled workspaces and a day of their usage."""
    migrated = kaitong(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    instance_ids = seed_instances(sim, 2)
    seed_vendor(env, instance_ids)
    return instance_ids


def code_and_push_go_out(env: dict[str, str], worker: RunningWorker, sim, instance_ids: list[str], sink: Sink):
    wait_for("the worker to say the database is back", lambda: "database is back" in worker.log(), seconds=90)
    acted = subprocess.run(
        [sys.executable, "-c", _SEND_CODE_AND_CLOSE_DAY, EMAIL],
        env=dict(env, DJANGO_SETTINGS_MODULE="kaitong.config.settings"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert acted.returncode == 0 and acted.stdout.strip() == "2", acted.stdout + acted.stderr

    mails = wait_for("the code email", lambda: [m for m in sink.messages if EMAIL in str(m["To"])], seconds=60)
    assert re.search(r"\b\d{6}\b", sink.text_of(mails[0]))
    wait_for(
        "the metering push",
        lambda: set(instance_ids) <= {record.instance_id for record in held_records(sim)},
        seconds=60,
    )
    assert worker.alive(), worker.log()
    log = worker.log()
    assert log.count("database unavailable") == 1, log


def test_a_sqlite_write_lock_held_50_s_under_a_running_worker(sim, smtp_sink, settings, tmp_path):  # noqa: F811
    if connection.vendor != "sqlite":
        pytest.skip("runs once, in the SQLite pass")
    env = worker_env(sim, tmp_path, settings)
    database = tmp_path / "vendor.sqlite3"
    instance_ids = prepare(env, sim)
    with start_worker(env, tmp_path) as worker:
        wait_for("the worker's first duties", lambda: sqlite_count(database, FINISHED), seconds=60)
        holder = hold_sqlite_write_lock(database, seconds=50)
        try:
            wait_for("the worker to hit the lock", lambda: "database unavailable" in worker.log(), seconds=50)
            assert worker.alive()
        finally:
            holder.wait(timeout=60)
        code_and_push_go_out(env, worker, sim, instance_ids, smtp_sink)


def test_postgresql_restarted_under_a_running_worker(sim, smtp_sink, settings, tmp_path):  # noqa: F811
    if connection.vendor != "postgresql":
        pytest.skip("runs once, in the PostgreSQL pass")
    if not PrivatePostgres.available():
        pytest.skip("needs PostgreSQL 15's binaries in /usr/lib/postgresql/15/bin")
    with private_postgres() as cluster:
        env = worker_env(sim, tmp_path, settings, KAITONG_DATABASE_URL=cluster.url)
        instance_ids = prepare(env, sim)
        with start_worker(env, tmp_path) as worker:
            wait_for("the worker's first duties", lambda: postgres_count(cluster.url, FINISHED), seconds=60)
            cluster.stop()
            time.sleep(8)  # the outage itself
            cluster.start()
            code_and_push_go_out(env, worker, sim, instance_ids, smtp_sink)
