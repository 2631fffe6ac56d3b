"""Replayed SPI URLs against the marketplace simulator (issue 10, item 16), through the official SDK.

The simulator plays the marketplace: its buyer events change its own state and queue SPI calls. The test
carries each call to the vendor's endpoint itself, signed as the simulator signs it (its own signer), the
way the wire does, and so holds every signed URL, as an eavesdropper would. The vendor asks the simulator
(DescribeInstanceForIsv, real signatures) before applying an expire, release or resume.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from kaitong.marketplace import reconciliation
from kaitong.marketplace.aliyun.instances import instance_lookup, preload_sdk
from kaitong.marketplace.models import MarketplaceInstance, SpiCall
from kaitong_sim import signer
from tests.support.marketplace import SPI_PATH, call_spi, create_params
from tests.support.simulator import ISV_KEY, RunningSimulator, start_simulator

pytestmark = pytest.mark.django_db

# The simulator's own delivery loop goes nowhere and waits an hour between tries: the test carries the
# calls. It answers ten lookups a second per caller (its default).
QUIET = {"KAITONG_SIMULATOR_RETRY_SECONDS": "3600"}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    with start_simulator(tmp_path_factory.mktemp("sim"), **QUIET) as running:
        yield running


def market_at(settings, endpoint: str, **extra) -> None:  # type: ignore[no-untyped-def]
    """Point the vendor's DescribeInstanceForIsv at ``endpoint`` through the official SDK."""
    settings.ENV = settings.ENV.model_copy(
        update={
            "instance_check_client": "sdk",
            "aliyun_market_endpoint": endpoint,
            "aliyun_market_protocol": "http",
            "aliyun_access_key_id": "test-access-key-id",
            "aliyun_access_key_secret": "test-access-key-secret-0123456789",
            **extra,
        }
    )


@pytest.fixture
def vendor(sim, settings):  # type: ignore[no-untyped-def]
    market_at(settings, sim.endpoint)
    return sim


def carry(sim: RunningSimulator, client, instance_id: str, action: str) -> str:  # type: ignore[no-untyped-def]
    """Deliver the simulator's latest ``action`` call for ``instance_id`` to the vendor; return its signed
    query (what an eavesdropper keeps). The vendor's answer must be a success."""
    delivery = next(d for d in sim.state()["deliveries"] if d["instance_id"] == instance_id and d["action"] == action)
    query = urlencode(signer.sign(delivery["params"], ISV_KEY))
    answer = replay(client, query)
    if action == "createInstance":
        assert answer["instanceId"] == instance_id
    else:
        assert answer == {"success": True}
    return query


def replay(client, query: str) -> dict:  # type: ignore[no-untyped-def]
    response = client.get(SPI_PATH + "?" + query)
    assert response.status_code == 200
    return response.json()


def bought(sim: RunningSimulator, client, **kwargs) -> str:  # type: ignore[no-untyped-def]
    instance_id = sim.create_instance(**kwargs)["instanceId"]
    carry(sim, client, instance_id, "createInstance")
    return instance_id


def state(instance_id: str) -> str:
    return MarketplaceInstance.objects.get(instance_id=instance_id).state


class TestReplays:
    def test_a_captured_resume_replayed_after_the_instance_expired_again_changes_nothing(self, vendor, client):
        instance_id = bought(vendor, client)
        vendor.trigger(instance_id, "expire")
        carry(vendor, client, instance_id, "expiredInstance")
        vendor.trigger(instance_id, "resume")  # arrears paid (a hybrid product)
        captured = carry(vendor, client, instance_id, "resumeInstance")
        assert state(instance_id) == "active"
        vendor.trigger(instance_id, "expire")  # unpaid again
        carry(vendor, client, instance_id, "expiredInstance")
        assert state(instance_id) == "expired"

        assert replay(client, captured) == {"success": True}  # the same answer the genuine call got
        assert state(instance_id) == "expired"
        last = SpiCall.objects.filter(instance_id=instance_id).order_by("-id").first()
        assert (last.action, last.verdict) == ("resumeInstance", "contradicted")
        assert last.message == "stale: the marketplace says the instance is EXPIRED; nothing changed"

    def test_a_captured_expire_replayed_on_an_active_pay_as_you_go_instance_changes_nothing(self, vendor, client):
        instance_id = bought(vendor, client)
        vendor.trigger(instance_id, "expire")
        captured = carry(vendor, client, instance_id, "expiredInstance")
        vendor.trigger(instance_id, "resume")
        carry(vendor, client, instance_id, "resumeInstance")
        assert state(instance_id) == "active"

        assert replay(client, captured) == {"success": True}
        assert state(instance_id) == "active"
        assert MarketplaceInstance.objects.get(instance_id=instance_id).unreconciled_since is None


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A Market API endpoint that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"127.0.0.1:{listener.getsockname()[1]}"


class TestMarketplaceUnreachable:
    def test_the_call_is_applied_flagged_and_answered_within_the_timeout(self, settings, client, black_hole):
        call_spi(client, create_params("800001"))
        market_at(settings, black_hole, instance_check_timeout_ms=600)
        preload_sdk()  # as ``kaitong serve`` does before forking (test_the_served_app_starts_with_the_sdk_loaded)
        started = time.monotonic()
        assert call_spi(client, {"action": "expiredInstance", "instanceId": "800001"}) == {"success": True}
        # 0.6 s budget; generous room for a loaded machine, far inside the marketplace's ~5 s.
        assert time.monotonic() - started < 3
        instance = MarketplaceInstance.objects.get(instance_id="800001")
        assert instance.state == "expired" and instance.unreconciled_since is not None
        assert instance.reconcile_note.startswith("expiredInstance applied unconfirmed (unreachable: ")

    def test_the_served_app_starts_with_the_sdk_loaded(self):
        # Importing the SDK takes seconds; a worker that loaded it on a first SPI expire would overrun.
        probe = "import sys, kaitong.config.wsgi; print('alibabacloud_market20151101.client' in sys.modules)"
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env.update(KAITONG_ENV="test", KAITONG_DATABASE_URL="sqlite:///:memory:")
        result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
        assert result.stdout.strip() == "True", result.stderr

    def test_a_refused_connection_is_the_same(self, settings, client):
        call_spi(client, create_params("800002"))
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]  # bound, not listening: connections are refused
            market_at(settings, f"127.0.0.1:{port}")
            call_spi(client, {"action": "releaseInstance", "instanceId": "800002", "isRefund": "false"})
        instance = MarketplaceInstance.objects.get(instance_id="800002")
        assert instance.state == "released" and instance.unreconciled_since is not None


def reconcile(**overrides) -> reconciliation.ReconcileReport:  # type: ignore[no-untyped-def]
    options = {"calls_per_second": 2.0, "interval": timedelta(hours=24)}
    options.update(overrides)
    return reconciliation.do_reconcile(marketplace=instance_lookup(timeout_ms=5000), clock=timezone.now, **options)


def alarm_emails() -> list[dict]:
    rows = DBTaskResult.objects.filter(task_path="kaitong.mail.tasks.send_email").order_by("enqueued_at")
    return [r.args_kwargs["kwargs"] for r in rows if r.args_kwargs["kwargs"]["message_type"] == "instance_drift"]


class TestReconciliation:
    def test_seeded_differences_are_reported_exactly_and_raise_the_alarm(self, vendor, client):
        agreeing = bought(vendor, client)
        lost_expire = bought(vendor, client)
        lost_renew = bought(vendor, client, trial=True)
        vendor_only = "800003"
        call_spi(client, create_params(vendor_only))
        # The marketplace's calls that never reached us: its state moves on, ours does not.
        vendor.trigger(lost_expire, "expire")
        vendor.trigger(lost_renew, "renew")
        held = {i["instance_id"]: i for i in vendor.state()["instances"]}
        theirs = datetime.fromisoformat(held[lost_renew]["expires_at"])
        ours = MarketplaceInstance.objects.get(instance_id=lost_renew).expires_at

        report = reconcile()

        assert report.stopped == "" and (report.checked, report.agreed) == (4, 1)
        assert report.differences == {
            lost_expire: ("state: ours active, marketplace EXPIRED",),
            lost_renew: (f"expiry: ours {ours.isoformat()}, marketplace {theirs.isoformat()}",),
            vendor_only: ("the marketplace has no such instance",),
        }
        assert report.alarmed == 3
        [email] = alarm_emails()
        assert email["to"] == "ops@kaitong.local" and email["context"]["count"] == 3
        assert {i["instance_id"] for i in email["context"]["instances"]} == {lost_expire, lost_renew, vendor_only}
        flagged = MarketplaceInstance.objects.filter(unreconciled_since__isnull=False, drift_alarm_at__isnull=False)
        assert set(flagged.values_list("instance_id", flat=True)) == {lost_expire, lost_renew, vendor_only}
        assert MarketplaceInstance.objects.get(instance_id=agreeing).reconciled_at is not None

        # The lost expire arrives after all (the marketplace retried it): the next run finds both sides
        # agreeing and clears the flag; the others stay flagged, and are not alarmed twice.
        carry(vendor, client, lost_expire, "expiredInstance")
        again = reconcile()
        assert set(again.differences) == {lost_renew, vendor_only} and again.alarmed == 0
        cleared = MarketplaceInstance.objects.get(instance_id=lost_expire)
        assert (cleared.state, cleared.unreconciled_since, cleared.reconcile_note, cleared.drift_alarm_at) == (
            "expired",
            None,
            "",
            None,
        )
        assert len(alarm_emails()) == 1

    def test_calls_stay_within_the_market_apis_rate(self, client, settings, tmp_path):
        # A marketplace that answers three lookups a second: unpaced, eight lookups in a row would see
        # the fourth refused (Throttling.User), and the run would stop there.
        with start_simulator(tmp_path, KAITONG_SIMULATOR_LOOKUPS_PER_SECOND="3", **QUIET) as strict:
            market_at(settings, strict.endpoint)
            ids = [bought(strict, client) for _ in range(8)]
            report = reconcile(calls_per_second=2.0)
            assert report.stopped == "" and report.checked == report.agreed == 8
            codes = [c["code"] for c in strict.state()["api_calls"] if c["action"] == "DescribeInstanceForIsv"]
        assert codes == ["OK"] * 8
        assert all(MarketplaceInstance.objects.get(instance_id=i).reconciled_at for i in ids)
