"""The periodic reconciliation with the marketplace, against the scripted marketplace: which instances it
asks about, when it stops, and its duty on the job engine. Against the simulator: ``test_spi_replay_simulator.py``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from kaitong.marketplace import reconciliation
from kaitong.marketplace.aliyun.instances import Failure, LookupFailed
from kaitong.marketplace.domain import MarketStatus, MarketView
from kaitong.marketplace.models import MarketplaceInstance
from tests.support.jobs import run_jobs
from tests.support.marketplace import call_spi, create_params, marketplace  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

OPENED, EXPIRED = MarketView(MarketStatus.OPENED), MarketView(MarketStatus.EXPIRED)


def reconcile(lookup, **overrides) -> reconciliation.ReconcileReport:  # type: ignore[no-untyped-def]
    options = {"calls_per_second": 100.0, "interval": timedelta(hours=24)}
    options.update(overrides)
    return reconciliation.do_reconcile(marketplace=lookup, clock=timezone.now, **options)


def row(instance_id: str) -> MarketplaceInstance:
    return MarketplaceInstance.objects.get(instance_id=instance_id)


def test_the_duty_asks_about_a_flagged_instance_and_clears_the_flag_when_both_agree(client, marketplace):  # noqa: F811
    call_spi(client, create_params("900001"))
    marketplace.says("900001", LookupFailed(Failure.UNREACHABLE, "read timed out"))
    call_spi(client, {"action": "expiredInstance", "instanceId": "900001"})
    assert row("900001").unreconciled_since is not None
    marketplace.says("900001", EXPIRED)  # the marketplace did expire it

    run_jobs()  # the scheduler's tick fires marketplace.reconcile, and the task runs

    instance = row("900001")
    assert (instance.state, instance.unreconciled_since, instance.reconcile_note) == ("expired", None, "")
    assert instance.reconciled_at is not None
    task = DBTaskResult.objects.get(task_path="kaitong.marketplace.tasks.reconcile_instances")
    assert task.status == "SUCCESSFUL"
    assert task.return_value == {"checked": 1, "agreed": 1, "differences": {}, "alarmed": 0, "stopped": ""}


def test_flagged_instances_come_first_and_released_ones_only_when_flagged(client, marketplace):  # noqa: F811
    for instance_id in ("900011", "900012", "900013"):
        call_spi(client, create_params(instance_id))
    marketplace.says("900012", MarketView(MarketStatus.CLOSED))
    call_spi(client, {"action": "releaseInstance", "instanceId": "900012", "isRefund": "false"})
    marketplace.says("900013", LookupFailed(Failure.UNREACHABLE, "down"))
    call_spi(client, {"action": "releaseInstance", "instanceId": "900013", "isRefund": "false"})  # applied, flagged
    marketplace.asked.clear()
    marketplace.says("900011", OPENED)
    marketplace.says("900013", MarketView(MarketStatus.CLOSED))

    report = reconcile(marketplace)

    # 900012 is released and agreed on when it happened: nothing to ask.
    assert marketplace.asked == ["900013", "900011"]
    assert (report.checked, report.agreed, report.differences) == (2, 2, {})
    assert row("900013").unreconciled_since is None


@pytest.mark.parametrize("failure", [Failure.UNREACHABLE, Failure.THROTTLED, Failure.REFUSED])
def test_a_marketplace_that_cannot_be_asked_stops_the_run_and_nothing_more_is_written(
    client,
    marketplace,  # noqa: F811
    failure,
):
    for instance_id in ("900021", "900022", "900023"):
        call_spi(client, create_params(instance_id))
    marketplace.says("900021", OPENED)
    marketplace.says("900022", LookupFailed(failure, "connect timed out"))
    marketplace.says("900023", OPENED)

    report = reconcile(marketplace)

    assert report.stopped == f"the marketplace cannot be asked: {failure.value}: connect timed out"
    assert (report.checked, report.agreed) == (1, 1)
    assert row("900021").reconciled_at is not None
    assert row("900022").reconciled_at is None and row("900023").reconciled_at is None
    assert row("900022").unreconciled_since is None  # not knowing is not a difference


def test_an_instance_changed_while_it_was_asked_about_is_left_for_the_next_run(client, marketplace):  # noqa: F811
    call_spi(client, create_params("900031"))

    class AnswerOvertaken:
        """The marketplace answers OPENED, then expires the instance and tells us before we record it."""

        def describe(self, instance_id: str) -> MarketView:
            marketplace.says(instance_id, EXPIRED)
            call_spi(client, {"action": "expiredInstance", "instanceId": instance_id})
            return OPENED

    report = reconcile(AnswerOvertaken())

    assert (report.checked, report.differences, report.alarmed) == (0, {}, 0)
    instance = row("900031")
    assert (instance.state, instance.unreconciled_since, instance.reconciled_at) == ("expired", None, None)


def test_a_run_ends_when_its_time_is_up(client, marketplace):  # noqa: F811
    for n in range(5):
        call_spi(client, create_params(f"90004{n}"))
        marketplace.says(f"90004{n}", OPENED)
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    class SlowMarketplace:
        """Each answer takes 0.6 s."""

        def describe(self, instance_id: str) -> MarketView:
            sleep(0.6)
            return marketplace.describe(instance_id)

    report = reconcile(
        SlowMarketplace(), calls_per_second=4.0, run_seconds=1.0, monotonic=lambda: clock[0], sleep=sleep
    )

    # Four calls would fit the second at four a second, but the third would start at 1.2 s.
    assert report.checked == 2 and report.stopped == "the run's 1 s are up"


def test_an_alarmed_difference_stays_quiet_until_it_clears_then_alarms_again(client, marketplace):  # noqa: F811
    call_spi(client, create_params("900051"))
    marketplace.says("900051", EXPIRED)
    later = timedelta(hours=25)

    assert reconcile(marketplace).alarmed == 1
    assert reconcile(marketplace).alarmed == 0  # flagged instances are asked every run; no second email
    marketplace.says("900051", OPENED)
    assert reconcile(marketplace).differences == {}
    assert row("900051").drift_alarm_at is None
    marketplace.says("900051", EXPIRED)
    MarketplaceInstance.objects.filter(instance_id="900051").update(reconciled_at=timezone.now() - later)
    assert reconcile(marketplace).alarmed == 1
    emails = DBTaskResult.objects.filter(task_path="kaitong.mail.tasks.send_email")
    assert [e.args_kwargs["kwargs"]["context"]["instances"] for e in emails] == [
        [{"instance_id": "900051", "differences": ["state: ours active, marketplace EXPIRED"]}]
    ] * 2


def test_the_alarm_email_names_each_instance_and_what_differs_in_both_languages(client, marketplace):  # noqa: F811
    from kaitong.mail.tasks import render_email

    call_spi(client, create_params("900061"))
    marketplace.says("900061", EXPIRED)
    reconcile(marketplace)
    email = DBTaskResult.objects.get(task_path="kaitong.mail.tasks.send_email").args_kwargs["kwargs"]
    subject, text, _ = render_email(email["message_type"], "zh-hans", email["context"])
    assert subject == "[kaitong] 1 个云市场实例与云市场记录不一致"
    assert "- 900061: state: ours active, marketplace EXPIRED" in text
    subject, text, _ = render_email(email["message_type"], "en", email["context"])
    assert subject == "[kaitong] 1 marketplace instance(s) differ from the marketplace's records"
    assert "Once both sides agree, the next reconciliation clears the flag." in text
