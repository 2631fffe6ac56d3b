"""With the database unavailable, kaitong answers quickly and truthfully (issue 10, item 15): /healthz
says the process lives, /readyz says it cannot serve, and every page answers 503 with Retry-After (JSON
for the machine callers, a short page for a browser) within a few seconds, never an HTML 500 after a
20 s stall. The outages are real: ``kaitong serve`` against SQLite's write lock held by another
process, and against a PostgreSQL address that accepts connections and never answers.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone

from tests.support.activation import verify_url
from tests.support.billing import DAY, sample
from tests.support.billing_simulator import ROOT, kaitong
from tests.support.marketplace import SPI_PATH, create_params, spi_query
from tests.support.vendor_process import USAGE_TOKEN, black_hole, start_vendor, vendor_environment
from tests.support.worker_process import hold_sqlite_write_lock, wait_for

RETRY_AFTER = "5"


def _timed(call):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def _check_unavailable(base: str, *, instance_id: str, workspace: int, readyz_within: float, within: float) -> None:
    """What a caller sees while the database is away: the same for both databases."""
    live, seconds = _timed(lambda: httpx.get(base + "/healthz", timeout=30))
    assert live.status_code == 200 and seconds < 1.5, (live.status_code, seconds)

    ready, seconds = _timed(lambda: httpx.get(base + "/readyz", timeout=30))
    assert ready.status_code == 503 and seconds < readyz_within, (ready.status_code, seconds, ready.text)
    assert ready.json()["ready"] is False and ready.json()["database"].startswith("unavailable")
    assert ready.headers["Retry-After"] == RETRY_AFTER

    entry, seconds = _timed(lambda: httpx.get(base + verify_url(instance_id), timeout=30))
    assert entry.status_code == 503 and seconds < within, (entry.status_code, seconds)
    assert entry.headers["Retry-After"] == RETRY_AFTER and entry.headers["Content-Type"].startswith("text/html")
    assert "服务暂时不可用" in entry.text and "Traceback" not in entry.text
    assert "Content-Security-Policy" in entry.headers

    usage, seconds = _timed(
        lambda: httpx.post(
            base + "/api/v1/usage/samples",
            json=[sample(workspace, "logs", DAY, 1, 10)],
            headers={"Authorization": f"Bearer {USAGE_TOKEN}"},
            timeout=30,
        )
    )
    assert usage.status_code == 503 and seconds < within, (usage.status_code, seconds, usage.text)
    assert usage.headers["Retry-After"] == RETRY_AFTER
    assert usage.json() == {"message": "temporarily unavailable, try again later", "errors": []}

    # The SPI keeps its own transient answer, in the protocol's JSON: the marketplace calls again.
    spi, seconds = _timed(lambda: httpx.get(f"{base}{SPI_PATH}?{spi_query(create_params('300099'))}", timeout=30))
    assert spi.status_code == 503 and seconds < within, (spi.status_code, seconds)
    assert spi.json()["success"] is False and spi.json()["instanceId"] == "0"


_SEED_WORKSPACE = """
import django
django.setup()
from tests.support.billing import workspaces
print(workspaces(1, alibaba=False)[0].pk)
"""


def test_a_held_sqlite_write_lock_gets_quick_503s(tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("runs once, in the SQLite pass")
    database = tmp_path / "vendor.sqlite3"
    env = vendor_environment(f"sqlite:///{database}")
    migrated = kaitong(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    seeded = subprocess.run(
        [sys.executable, "-c", _SEED_WORKSPACE],
        env=dict(env, DJANGO_SETTINGS_MODULE="kaitong.config.settings"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr
    workspace = int(seeded.stdout.strip().splitlines()[-1])
    with start_vendor(env, tmp_path) as vendor:
        created = httpx.get(f"{vendor.url}{SPI_PATH}?{spi_query(create_params('300001'))}", timeout=30)
        assert created.status_code == 200, created.text
        holder = hold_sqlite_write_lock(database, seconds=60)
        try:
            # Readers never wait on SQLite (WAL); writers wait KAITONG_SQLITE_BUSY_TIMEOUT_SECONDS (5 s).
            _check_unavailable(vendor.url, instance_id="300001", workspace=workspace, readyz_within=3, within=8)
        finally:
            holder.terminate()
            holder.wait(timeout=30)
        wait_for("/readyz to say ready", lambda: httpx.get(vendor.url + "/readyz").status_code == 200, seconds=10)
        # Django logged each 503 with its cause, on one line per record (config/logs.py).
        assert "database is locked" in vendor.log()


def test_a_postgresql_server_that_never_answers_gets_quick_503s(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("runs once, in the PostgreSQL pass")
    with black_hole() as port:
        env = vendor_environment(f"postgresql://postgres@127.0.0.1:{port}/kaitong")
        with start_vendor(env, tmp_path) as vendor:
            # PostgreSQL's connect_timeout is KAITONG_DATABASE_CONNECT_TIMEOUT_SECONDS (3 s).
            _check_unavailable(vendor.url, instance_id="300001", workspace=1, readyz_within=4.5, within=6)


# -- in process: readiness and the 503 itself, on the test database -------------------------------------


def _task_waiting_since(seconds: float, *, run_after_in: float | None = None) -> None:
    from django_tasks_db.models import DBTaskResult

    from kaitong.mail.tasks import send_email

    task = send_email.enqueue(message_type="none", to="x@example.com", language="en", context={})
    fields = {"enqueued_at": timezone.now() - timedelta(seconds=seconds)}
    if run_after_in is not None:
        fields["run_after"] = timezone.now() + timedelta(seconds=run_after_in)
    DBTaskResult.objects.filter(pk=task.id).update(**fields)


@pytest.mark.django_db
def test_ready_when_the_database_answers_and_the_queue_keeps_up(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/healthz").json() == {"ok": True}
    _task_waiting_since(60)
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True and body["database"] == "ok"
    assert body["queue"]["due"] == 1 and 59 <= body["queue"]["oldest_due_seconds"] < 120
    assert body["queue"]["limit_seconds"] == 300


@pytest.mark.django_db
def test_not_ready_when_a_due_task_waited_past_the_limit(client, settings):
    _task_waiting_since(301)
    _task_waiting_since(3600, run_after_in=600)  # deferred into the future: not waiting for anyone
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready["Retry-After"] == RETRY_AFTER
    assert ready.json()["ready"] is False and ready.json()["queue"]["due"] == 1
    assert ready.json()["queue"]["oldest_due_seconds"] >= 301
    settings.ENV = settings.ENV.model_copy(update={"ready_max_queue_age_seconds": 0})
    assert client.get("/readyz").json() == {"ready": True, "database": "ok"}


@pytest.mark.django_db
def test_a_database_error_is_a_503_and_any_other_error_a_500(monkeypatch):
    from kaitong.billing import ingest

    client = Client(raise_request_exception=False)
    usage = [sample(1, "logs", DAY, 1, 10)]

    def locked(**kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("database is locked")

    monkeypatch.setattr(ingest, "ingest_batch", locked)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {USAGE_TOKEN}"}
    answer = client.post("/api/v1/usage/samples", usage, content_type="application/json", **headers)
    assert answer.status_code == 503 and answer["Retry-After"] == RETRY_AFTER
    assert answer.json()["message"].startswith("temporarily unavailable")

    def broken(**kwargs):  # type: ignore[no-untyped-def]
        raise ValueError("a bug")

    monkeypatch.setattr(ingest, "ingest_batch", broken)
    answer = client.post("/api/v1/usage/samples", usage, content_type="application/json", **headers)
    assert answer.status_code == 500 and "Retry-After" not in answer and "a bug" not in answer.text


@pytest.mark.django_db
def test_the_unavailable_page_speaks_english_too(monkeypatch):
    from kaitong.marketplace import sso

    def down(**kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("connection refused")

    monkeypatch.setattr(sso, "do_enter_login_free", down)
    page = Client(raise_request_exception=False).get(verify_url("1"), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 503 and "Service temporarily unavailable" in page.text
