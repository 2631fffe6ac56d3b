"""``/metrics`` in Prometheus's text format, for a scraper holding KAITONG_METRICS_TOKEN (issue 10,
item 17): requests per route class, SPI verdicts, codes sent and refused, counted as they happen (added
up across gunicorn's worker processes), and the queue, the ledger and the push deadline read from the
database at each scrape."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connection
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from kaitong.accounts import actions, domain
from kaitong.billing import domain as billing_rules
from tests.support.billing import ledger_records
from tests.support.billing_simulator import kaitong
from tests.support.marketplace import SPI_PATH, create_params, spi_query
from tests.support.vendor_process import start_vendor, vendor_environment

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-0123456789abcdef"
AUTH = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}

FAMILIES = {
    "kaitong_http_requests",
    "kaitong_http_request_duration_seconds",
    "kaitong_spi_calls",
    "kaitong_codes_sent",
    "kaitong_codes_refused",
    "kaitong_code_sends_refused",
    "kaitong_database_up",
    "kaitong_jobs_tasks",
    "kaitong_jobs_due_tasks",
    "kaitong_jobs_oldest_due_seconds",
    "kaitong_ledger_records",
    "kaitong_push_deadline_seconds",
}


@pytest.fixture
def token(settings):  # type: ignore[no-untyped-def]
    settings.ENV = settings.ENV.model_copy(update={"metrics_token": TOKEN})
    return TOKEN


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: (name, sorted labels) → value."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:  # type: ignore[no-untyped-def]
    response = client.get("/metrics", **AUTH)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    return samples(response.text)


def value(scraped, name: str, **labels: str) -> float:  # type: ignore[no-untyped-def]
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def test_without_a_configured_token_there_is_no_metrics_page(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", **AUTH).status_code == 404


def test_a_missing_or_wrong_token_is_refused(client, token):
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    assert "kaitong_" not in missing.text


def test_every_family_is_there_and_spi_calls_move_it(client, token):
    first = client.get("/metrics", **AUTH)
    names = {family.name for family in text_string_to_metric_families(first.text)}
    assert names >= FAMILIES, FAMILIES - names
    before = samples(first.text)

    client.get(f"{SPI_PATH}?{spi_query(create_params('610001'))}")
    client.get(f"{SPI_PATH}?{spi_query(create_params('610001'))}")
    client.get(f"{SPI_PATH}?action=createInstance&token=forged")
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("kaitong_spi_calls_total", verdict="applied") == 1
    assert moved("kaitong_spi_calls_total", verdict="unchanged") == 1
    assert moved("kaitong_spi_calls_total", verdict="rejected") == 1
    assert moved("kaitong_http_requests_total", route="spi", method="GET", code="200") == 3
    assert moved("kaitong_http_request_duration_seconds_count", route="spi") == 3
    # The first scrape was counted too, under its own route class.
    assert moved("kaitong_http_requests_total", route="probe", method="GET", code="200") >= 1
    assert value(after, "kaitong_database_up") == 1


def test_codes_sent_and_refused_are_counted(client, token):
    before = scrape(client)
    now = timezone.now()
    email, purpose = "metrics@code.example", domain.Purpose.REGISTER
    actions.do_send_verification_code(email=email, purpose=purpose, ip="10.9.9.9", language="en", now=now)
    with pytest.raises(domain.IssueRefused):  # again at once: the 60 s cooldown
        actions.do_send_verification_code(email=email, purpose=purpose, ip="10.9.9.9", language="en", now=now)
    # A code for an address the form cannot use: issued, counted, mailed to nobody.
    withheld = {"ip": "10.9.9.9", "language": "en", "now": now, "mail_only_to": frozenset({"owner@code.example"})}
    actions.do_send_verification_code(email="outsider@code.example", purpose=purpose, **withheld)
    with pytest.raises(actions.CodeRefused):
        actions.do_verify_email(email=email, purpose=purpose, code="000000", now=now)
    with pytest.raises(actions.CodeRefused):
        actions.do_verify_email(email="never@code.example", purpose=purpose, code="000000", now=now)
    after = scrape(client)
    assert (
        value(after, "kaitong_codes_sent_total", purpose="register")
        - value(before, "kaitong_codes_sent_total", purpose="register")
        == 1
    )
    for name, reason in (
        ("kaitong_code_sends_refused_total", "cooldown"),
        ("kaitong_code_sends_refused_total", "not_paired"),
        ("kaitong_codes_refused_total", "wrong"),
        ("kaitong_codes_refused_total", "missing"),
    ):
        assert value(after, name, reason=reason) - value(before, name, reason=reason) == 1, (name, reason)


def test_queue_ledger_and_deadline_are_read_from_the_database(client, token):
    from kaitong.mail.actions import enqueue_email

    now = timezone.now()
    ledger_records(3)
    enqueue_email(message_type="none", to="q@example.com", language="en", context={}, now=now)
    scraped = scrape(client)
    assert value(scraped, "kaitong_ledger_records", state="pending") == 3
    assert value(scraped, "kaitong_ledger_records", state="unknown") == 0
    assert value(scraped, "kaitong_jobs_tasks", status="ready") >= 1
    assert value(scraped, "kaitong_jobs_due_tasks") >= 1
    assert 0 <= value(scraped, "kaitong_jobs_oldest_due_seconds") < 60
    deadline = billing_rules.alarm_time(billing_rules.last_closed_day(now))
    assert abs(value(scraped, "kaitong_push_deadline_seconds") - (deadline - now).total_seconds()) < 30


def test_counts_add_up_across_gunicorn_worker_processes(tmp_path):
    """``kaitong serve`` with two worker processes: whichever answers the scrape reports every call."""
    if connection.vendor != "sqlite":
        pytest.skip("runs once, in the SQLite pass (the database only stores the calls)")
    env = vendor_environment(f"sqlite:///{tmp_path / 'vendor.sqlite3'}", KAITONG_METRICS_TOKEN=TOKEN)
    assert kaitong(env, "migrate").returncode == 0
    with start_vendor(env, tmp_path, workers=2, threads=2) as vendor:
        calls = 40
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(lambda n: httpx.get(f"{vendor.url}{SPI_PATH}?action=createInstance&n={n}"), range(calls))
            )
        assert {answer.status_code for answer in answers} == {200}
        scraped = samples(httpx.get(vendor.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text)
        assert value(scraped, "kaitong_spi_calls_total", verdict="rejected") == calls
        assert value(scraped, "kaitong_http_requests_total", route="spi", method="GET", code="200") == calls
