"""Settlement against the real simulator, through the official SDK: limits, and crashes mid-push.

The simulator enforces the protocol (≤ 100 records, one product, one request per instance per 60 s,
meteringAssit, signatures). Its deadline check is off here because the test days are in the past.
"""

from __future__ import annotations

import shutil
import signal
from collections import Counter

import pytest
from django.utils import timezone

from kaitong.billing import closing, ingest, pushing
from kaitong.billing.models import MeteringRecord
from kaitong.marketplace.aliyun.metering import Outcome, SdkMeteringClient
from tests.support.billing import DAY, after_close, sample, workspaces
from tests.support.billing_simulator import (
    alarm_emails,
    held_records,
    kaitong,
    ledger,
    push_answers,
    seed_instances,
    seed_vendor,
    vendor_env,
)
from tests.support.simulator import start_simulator

NO_DEADLINE = {"KAITONG_SIMULATOR_ENFORCE_DEADLINE": "false", "KAITONG_SIMULATOR_RETRY_SECONDS": "3600"}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with start_simulator(tmp_path_factory.mktemp("simulator"), **NO_DEADLINE) as running:
        yield running


def sdk_client(sim):
    return SdkMeteringClient(
        access_key_id=sim.access_key_id,
        access_key_secret=sim.access_key_secret,
        endpoint=sim.endpoint,
        protocol="http",
    )


@pytest.mark.django_db
def test_a_thousand_instance_day_breaks_no_limit(sim, settings):
    ids = seed_instances(sim, 1000)
    before = push_answers(sim)
    pool = workspaces(1000, instance_ids=ids)
    rows = [sample(w, "sms", DAY, h, n % 50 + 1) for n, w in enumerate(pool) for h in (0, 12)]
    for start in range(0, len(rows), 10_000):
        ingest.ingest_batch(raw=rows[start : start + 10_000], now=after_close())
    assert closing.do_close_day(day=DAY, now=after_close()).records == 1000
    report = pushing.push_pending(client=sdk_client(sim), clock=timezone.now, lease_seconds=60)
    answers = Counter(push_answers(sim)) - Counter(before)
    assert answers == {"OK": 10}, answers  # zero rejections: ten full requests
    assert report.requests == 10 and report.next_at is None
    assert set(MeteringRecord.objects.values_list("state", flat=True)) == {"accepted"}
    held = [r for r in held_records(sim) if r.instance_id in set(ids)]
    assert len(held) == 1000 and len({r.instance_id for r in held}) == 1000
    expected = {r.instance_id: r.amount_cents for r in MeteringRecord.objects.all()}
    assert {r.instance_id: r.value for r in held} == expected
    # Each instance's second request within 60 s would be refused; the ledger never makes one.
    assert pushing.push_pending(client=sdk_client(sim), clock=timezone.now, lease_seconds=60).requests == 0


@pytest.fixture(scope="module")
def migrated(tmp_path_factory, sim):
    """A migrated vendor database, copied for each crash scenario."""
    database = tmp_path_factory.mktemp("vendor") / "template.sqlite3"
    result = kaitong(vendor_env(sim, database), "migrate")
    assert result.returncode == 0, result.stderr
    return database


@pytest.mark.parametrize("step", ["after_claim", "after_send", "before_record"])
def test_killed_at_each_step_of_a_push_then_restarted(step, sim, migrated, tmp_path):
    database = tmp_path / "vendor.sqlite3"
    shutil.copy(migrated, database)
    env = vendor_env(sim, database)
    ids = seed_instances(sim, 250)  # three requests: 100 + 100 + 50
    seed_vendor(env, ids)

    killed = kaitong(dict(env, KAITONG_BILLING_FAULT=step), "settle", "--day", DAY.isoformat())
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    finished = kaitong(env, "settle", "--day", DAY.isoformat())
    again = kaitong(env, "settle", "--day", DAY.isoformat())  # changes nothing, pushes nothing

    held = Counter(r.instance_id for r in held_records(sim) if r.instance_id in set(ids))
    rows = {row.instance_id: row for row in ledger(database)}
    assert len(rows) == 250
    # The simulator never holds an instance-day twice, and every record is there.
    assert set(held.values()) == {1} and set(held) == set(ids)
    states = Counter(row.state for row in rows.values())
    if step == "after_claim":
        # Nothing had left: the claim ran out and the restart pushed everything.
        assert states == {"accepted": 250}
        assert finished.returncode == 0, finished.stdout + finished.stderr
    else:
        # The first request reached the simulator; its answer was never recorded: unknown, alarmed,
        # not resent. The other two requests went out after the restart.
        assert states == {"accepted": 150, "unknown": 100}
        assert all(row.alarm for row in rows.values() if row.state == "unknown")
        assert alarm_emails(database) >= 1
        assert finished.returncode == 2 and "operator" in finished.stderr
    # The ledger agrees with the simulator: same amounts for the same instance-days.
    amounts = {r.instance_id: r.value for r in held_records(sim) if r.instance_id in set(ids)}
    assert amounts == {i: row.amount_cents for i, row in rows.items()}
    assert "already closed" in again.stdout and "pushed" not in again.stdout
    assert Counter(r.instance_id for r in held_records(sim) if r.instance_id in set(ids)) == held


def test_sdk_answers_map_to_ledger_outcomes(sim):
    """What the real SDK raises against the simulator becomes the right outcome."""
    from tests.support.simulator import free_port

    (instance,) = seed_instances(sim, 1)
    start = int(after_close().timestamp()) - 2 * 86400
    entry = {
        "InstanceId": instance,
        "StartTime": str(start),
        "EndTime": str(start + 86400),
        "Entities": [{"Key": "Frequency", "Value": "1", "meteringAssit": "cmgj00053362-Frequency-9"}],
    }
    rejected = sdk_client(sim).push(metering=[entry])
    assert (rejected.outcome, rejected.code) == (Outcome.REJECTED, "Invalid.Parameter.Metering")
    entry["Entities"][0]["meteringAssit"] = sim.metering_assit
    assert sdk_client(sim).push(metering=[entry]).outcome is Outcome.ACCEPTED
    throttled = sdk_client(sim).push(metering=[entry])
    assert (throttled.outcome, throttled.code) == (Outcome.RETRY, "Service.Flow.Control")
    nowhere = SdkMeteringClient(
        access_key_id="x", access_key_secret="y", endpoint=f"127.0.0.1:{free_port()}", protocol="http"
    )
    assert nowhere.push(metering=[entry]).outcome is Outcome.RETRY  # connection refused: never left


def test_a_read_timeout_is_unknown():
    """The request left (the server accepted the connection) but no answer came: its fate is unknown."""
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        silent = SdkMeteringClient(
            access_key_id="x",
            access_key_secret="y",
            endpoint=f"127.0.0.1:{port}",
            protocol="http",
            connect_timeout_ms=500,
            read_timeout_ms=300,
        )
        answer = silent.push(metering=[{"InstanceId": "1", "StartTime": "1", "EndTime": "90000", "Entities": []}])
    assert answer.outcome is Outcome.UNKNOWN
