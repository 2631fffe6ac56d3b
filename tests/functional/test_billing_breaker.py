"""The circuit breaker on PushMeteringData (issue 10, item 14): a Market API that accepts connections and
never answers stops the push after THRESHOLD timeouts instead of turning the whole day unknown.

Through the official SDK, against a black-hole listener that later forwards to the simulator's fake
Market API; the read timeout is shortened through the configuration (``KAITONG_METERING_READ_TIMEOUT_MS``).
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from kaitong.billing import breaker, breaker_writer, closing, ingest, pushing
from kaitong.billing.client import RecordingMeteringClient, get_client
from kaitong.billing.models import MeteringRecord, PushBreaker
from kaitong.mail.tasks import render_email
from kaitong.marketplace.aliyun.metering import Outcome, PushAnswer
from tests.support.billing import DAY, Clock, after_close, ledger_records, sample, workspaces
from tests.support.billing_simulator import held_records, kaitong, ledger, seed_instances, seed_vendor, vendor_env
from tests.support.concurrency import at_once
from tests.support.market_line import MarketLine
from tests.support.simulator import start_simulator

NO_DEADLINE = {"KAITONG_SIMULATOR_ENFORCE_DEADLINE": "false", "KAITONG_SIMULATOR_RETRY_SECONDS": "3600"}
BATCHES = breaker.THRESHOLD  # full requests of 100 that time out before the breaker opens
REST = 10  # records left pending when it opens


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with start_simulator(tmp_path_factory.mktemp("simulator"), **NO_DEADLINE) as running:
        yield running


@pytest.fixture
def line():
    with MarketLine() as listening:
        yield listening


def point_at(settings, sim, line):
    """The vendor's configuration: the SDK client, towards the line, with short timeouts."""
    settings.ENV = settings.ENV.model_copy(
        update={
            "metering_client": "sdk",
            "aliyun_market_endpoint": line.endpoint,
            "aliyun_market_protocol": "http",
            "aliyun_access_key_id": sim.access_key_id,
            "aliyun_access_key_secret": sim.access_key_secret,
            "aliyun_metering_assit": sim.metering_assit,
            "metering_connect_timeout_ms": 1000,
            "metering_read_timeout_ms": 1000,
        }
    )


def states():
    return Counter(MeteringRecord.objects.values_list("state", flat=True))


def breaker_emails():
    return [
        r.args_kwargs["kwargs"]
        for r in DBTaskResult.objects.filter(task_path="kaitong.mail.tasks.send_email")
        if r.args_kwargs["kwargs"]["message_type"] == "billing_breaker"
    ]


def push(clock):
    return pushing.push_pending(client=get_client(), clock=clock, lease_seconds=60)


@pytest.mark.django_db
def test_a_silent_market_api_stops_the_push_and_a_later_probe_sends_the_rest(sim, line, settings):
    ids = seed_instances(sim, BATCHES * 100 + REST)
    pool = workspaces(len(ids), instance_ids=ids)
    ingest.ingest_batch(raw=[sample(w, "sms", DAY, 3, 10 + n % 7) for n, w in enumerate(pool)], now=after_close())
    point_at(settings, sim, line)
    assert closing.do_close_day(day=DAY, now=after_close()).records == len(ids)
    clock = Clock(after_close())

    # The black hole: THRESHOLD requests time out, then nothing more is sent and the rest stays pending.
    report = push(clock)
    assert (report.requests, line.connections) == (BATCHES, BATCHES)
    assert states() == {"unknown": BATCHES * 100, "pending": REST}
    row = PushBreaker.objects.get()
    assert (row.state, row.failures) == ("open", BATCHES) and "Read timed out" in row.reason
    assert row.retry_at == row.opened_at + breaker.FIRST_WAIT
    assert report.paused_until == row.retry_at and report.next_at == row.retry_at  # the push task's next run
    (alarm,) = breaker_emails()
    assert alarm["to"] == settings.ENV.operator_email
    assert alarm["context"]["pending"] == REST and alarm["context"]["failures"] == BATCHES
    subject, text, _ = render_email("billing_breaker", "zh-hans", alarm["context"])
    assert "已暂停推送" in subject and f"{REST} 条记录保持“待推送”" in text and "Read timed out" in text
    subject, text, _ = render_email("billing_breaker", "en", alarm["context"])
    assert "paused" in subject and f"{REST} records stay pending" in text

    # Before the probe is due: no request at all.
    clock.now = row.retry_at - timedelta(seconds=5)
    assert push(clock).requests == 0 and line.connections == BATCHES

    # The probe, still into the silence: one request of one record; the next probe waits twice as long.
    clock.now = row.retry_at
    report = push(clock)
    assert (report.requests, line.connections) == (1, BATCHES + 1)
    assert states() == {"unknown": BATCHES * 100 + 1, "pending": REST - 1}
    row = PushBreaker.objects.get()
    assert row.state == "open" and row.probes == 1
    assert breaker.wait_after(1) - timedelta(seconds=1) < row.retry_at - clock.now <= breaker.wait_after(1)
    assert len(breaker_emails()) == 1  # one alarm per opening

    # The Market API answers again: the next probe is accepted, the breaker closes, the rest is sent.
    line.forward_to(sim.endpoint)
    clock.now = row.retry_at
    report = push(clock)
    assert report.requests == 2  # the probe (one record), then the rest in one request
    assert report.paused_until is None and report.next_at is None
    assert states() == {"unknown": BATCHES * 100 + 1, "accepted": REST - 1}
    assert PushBreaker.objects.get().state == "closed"
    accepted = set(MeteringRecord.objects.filter(state="accepted").values_list("instance_id", flat=True))
    assert {r.instance_id for r in held_records(sim)} & set(ids) == accepted  # sent once each, and only those


@pytest.mark.django_db
def test_only_unknown_answers_in_a_row_open_it():
    # Five records of five products: five requests in one push. A rejection between two unknowns is
    # the marketplace answering, and starts the count again.
    for n, record in enumerate(ledger_records(6)):
        MeteringRecord.objects.filter(pk=record.pk).update(product_code=f"p{n}")
    script = iter(["unknown", "unknown", "rejected", "unknown", "unknown", "unknown"])
    client = RecordingMeteringClient(answer=lambda m: PushAnswer(Outcome(next(script)), "Code"))
    report = pushing.push_pending(client=client, clock=Clock(after_close()), lease_seconds=60)
    assert report.requests == 6
    assert PushBreaker.objects.get().state == "open"  # opened by the last three, not the first two
    assert len(breaker_emails()) == 1


@pytest.mark.django_db
def test_a_probe_that_finds_nothing_to_send_lets_go():
    PushBreaker.objects.create(name=breaker_writer.NAME, state="open", failures=3, retry_at=after_close())
    clock = Clock(after_close())
    report = pushing.push_pending(client=RecordingMeteringClient(), clock=clock, lease_seconds=60)
    assert report.requests == 0 and report.next_at is None
    row = PushBreaker.objects.get()
    assert row.state == "open" and row.claimed_until is None  # the next push with records may probe at once


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres_only
def test_one_probe_however_many_processes_ask_at_once():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent writers")
    PushBreaker.objects.create(
        name=breaker_writer.NAME, state="open", failures=3, retry_at=after_close(), opened_at=after_close()
    )
    tokens: list[str | None] = []

    def ask(n):
        clearance = breaker_writer.do_check_breaker(
            now=after_close() + timedelta(seconds=1), lease=timedelta(seconds=60)
        )
        tokens.append(clearance.probe_token)

    at_once(8, ask)
    assert len([t for t in tokens if t]) == 1


def test_another_process_sees_the_breaker_open(sim, tmp_path_factory, tmp_path):
    """Two ``kaitong settle`` processes: the second sends nothing into the silence the first found."""
    template = tmp_path_factory.mktemp("vendor") / "template.sqlite3"
    with MarketLine() as silent:
        env = vendor_env(sim, template, KAITONG_ALIYUN_MARKET_ENDPOINT=silent.endpoint)
        assert kaitong(env, "migrate").returncode == 0
        database = tmp_path / "vendor.sqlite3"
        shutil.copy(template, database)
        env = vendor_env(sim, database, KAITONG_ALIYUN_MARKET_ENDPOINT=silent.endpoint)
        ids = seed_instances(sim, BATCHES * 100 + REST)
        seed_vendor(env, ids)

        first = kaitong(env, "settle", "--day", DAY.isoformat())
        assert silent.connections == BATCHES, first.stdout + first.stderr
        assert "pushing paused" in first.stderr and first.returncode == 2
        second = kaitong(env, "settle", "--day", DAY.isoformat())
        assert silent.connections == BATCHES, second.stdout + second.stderr
        assert "pushing paused" in second.stderr
    assert Counter(row.state for row in ledger(database)) == {"unknown": BATCHES * 100, "pending": REST}
