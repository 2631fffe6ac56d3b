"""The periodic reconciliation with the marketplace, against the scripted marketplace: which instances it
asks about, when it stops, and its duty on the job engine. Against the simulator: ``test_spi_replay_simulator.py``."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from kaitong.marketplace import reconciliation
from kaitong.marketplace.aliyun.instances import Failure, LookupFailed
from kaitong.marketplace.domain import BEIJING, MarketStatus, MarketView
from kaitong.marketplace.models import InstanceEvent, MarketplaceInstance, ReconciliationResult
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
    assert task.return_value == {
        "checked": 1,
        "agreed": 1,
        "applied": {},
        "differences": {},
        "alarmed": 0,
        "stopped": "",
    }


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


UNKNOWN = LookupFailed(Failure.UNKNOWN_INSTANCE, "no such instance")  # a difference no call can make


def test_an_alarmed_difference_stays_quiet_until_it_clears_then_alarms_again(client, marketplace):  # noqa: F811
    call_spi(client, create_params("900051"))
    marketplace.says("900051", UNKNOWN)
    later = timedelta(hours=25)

    assert reconcile(marketplace).alarmed == 1
    assert reconcile(marketplace).alarmed == 0  # flagged instances are asked every run; no second email
    marketplace.says("900051", OPENED)
    assert reconcile(marketplace).differences == {}
    assert row("900051").drift_alarm_at is None
    marketplace.says("900051", UNKNOWN)
    MarketplaceInstance.objects.filter(instance_id="900051").update(reconciled_at=timezone.now() - later)
    assert reconcile(marketplace).alarmed == 1
    emails = DBTaskResult.objects.filter(task_path="kaitong.mail.tasks.send_email")
    assert [e.args_kwargs["kwargs"]["context"]["instances"] for e in emails] == [
        [{"instance_id": "900051", "differences": ["the marketplace has no such instance"]}]
    ] * 2
    # Recorded when it was new and when it cleared, not at every run in between.
    assert [(r.outcome, r.note) for r in ReconciliationResult.objects.order_by("at", "id")] == [
        ("differs", "the marketplace has no such instance"),
        ("agrees", "flag cleared (the marketplace has no such instance)"),
        ("differs", "the marketplace has no such instance"),
    ]


def test_the_alarm_email_names_each_instance_and_what_differs_in_both_languages(client, marketplace):  # noqa: F811
    from kaitong.mail.tasks import render_email

    call_spi(client, create_params("900061"))
    marketplace.says("900061", UNKNOWN)
    reconcile(marketplace)
    email = DBTaskResult.objects.get(task_path="kaitong.mail.tasks.send_email").args_kwargs["kwargs"]
    subject, text, _ = render_email(email["message_type"], "zh-hans", email["context"])
    assert subject == "[kaitong] 1 个云市场实例与云市场记录不一致"
    assert "- 900061: the marketplace has no such instance" in text
    subject, text, _ = render_email(email["message_type"], "en", email["context"])
    assert subject == "[kaitong] 1 marketplace instance(s) differ from the marketplace's records"
    assert "Once both sides agree, the next reconciliation clears the flag." in text


# -- issue 12: what the marketplace says is applied through the lifecycle ----------------------------------


def sent_emails() -> list[dict]:
    return [
        e.args_kwargs["kwargs"]
        for e in DBTaskResult.objects.filter(task_path="kaitong.mail.tasks.send_email").order_by("enqueued_at")
    ]


def test_a_missed_expire_is_applied_with_its_audit_row_and_the_alarm(client, marketplace):  # noqa: F811
    call_spi(client, create_params("900071"))
    marketplace.says("900071", EXPIRED)  # the marketplace froze it; its expiredInstance never reached us

    report = reconcile(marketplace)

    assert (report.checked, report.agreed, report.applied, report.differences) == (
        1,
        0,
        {"900071": ("expiredInstance",)},
        {},
    )
    instance = row("900071")
    assert (instance.state, instance.unreconciled_since, instance.drift_alarm_at) == ("expired", None, None)
    event = InstanceEvent.objects.filter(instance=instance).latest("id")
    assert (event.action, event.from_state, event.to_state, event.spi_call_id) == (
        "expiredInstance",
        "active",
        "expired",
        None,
    )
    assert event.detail["via"] == "reconciliation" and event.detail["marketplace"] == "EXPIRED"
    (result,) = ReconciliationResult.objects.filter(instance=instance)
    assert (result.outcome, result.note) == ("applied", "expiredInstance (marketplace EXPIRED)")
    (alarm,) = sent_emails()
    assert alarm["context"]["applied"] == [{"instance_id": "900071", "actions": ["expiredInstance"]}]
    assert report.alarmed == 1
    # Both sides agree now: the next comparison changes nothing and tells nobody.
    MarketplaceInstance.objects.filter(instance_id="900071").update(reconciled_at=None)
    again = reconcile(marketplace)
    assert (again.agreed, again.applied, again.alarmed) == (1, {}, 0)


def test_a_missed_release_starts_the_countdown_as_the_spi_call_would(client, marketplace):  # noqa: F811
    from kaitong.countdown.models import Countdown
    from kaitong.notices.models import SentNotice
    from tests.support.billing import workspaces

    (ws,) = workspaces(1, instance_ids=["900081"])
    marketplace.says("900081", MarketView(MarketStatus.CLOSED))

    report = reconcile(marketplace)

    assert report.applied == {"900081": ("releaseInstance",)}
    assert row("900081").state == "released"
    # As a releaseInstance would: the workspace keeps its binding and starts its lock countdown.
    ws.refresh_from_db()
    assert ws.settlement == "aliyun"
    countdown = Countdown.objects.get(workspace=ws, lifted_at__isnull=True)
    assert (countdown.cause, countdown.instance_id) == ("instance_released", "900081")
    assert set(SentNotice.objects.filter(workspace=ws).values_list("kind", flat=True)) == {"countdown_started"}
    assert {e["message_type"] for e in sent_emails()} == {"instance_drift"}


def test_a_missed_renew_and_resume_bring_the_expiry_and_the_state_back(client, marketplace):  # noqa: F811
    from datetime import UTC, datetime

    now = timezone.now()
    expiry = (now - timedelta(days=1)).astimezone(UTC).replace(microsecond=0)
    renewed = (now + timedelta(days=30)).astimezone(UTC).replace(microsecond=0)
    call_spi(client, create_params("900091", expiredOn=expiry.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")))
    marketplace.says("900091", MarketView(MarketStatus.EXPIRED, expiry))
    call_spi(client, {"action": "expiredInstance", "instanceId": "900091"})
    assert row("900091").state == "expired"
    marketplace.says("900091", MarketView(MarketStatus.OPENED, renewed))  # renewed; its renewInstance was lost

    report = reconcile(marketplace)

    assert report.applied == {"900091": ("renewInstance",)}
    instance = row("900091")
    assert (instance.state, instance.expires_at) == ("active", renewed)
    assert datetime.fromisoformat(InstanceEvent.objects.filter(instance=instance).latest("id").detail["expiresAt"]) == (
        renewed
    )


def test_what_no_call_can_make_stays_flagged_for_the_operator(client, marketplace):  # noqa: F811
    """The marketplace serves an instance released here: released is final; the operator decides."""
    call_spi(client, create_params("900101"))
    marketplace.says("900101", LookupFailed(Failure.UNREACHABLE, "down"))
    call_spi(client, {"action": "releaseInstance", "instanceId": "900101", "isRefund": "false"})  # flagged
    marketplace.says("900101", OPENED)

    report = reconcile(marketplace)

    assert report.applied == {}
    assert report.differences == {"900101": ("state: ours released, marketplace OPENED",)}
    instance = row("900101")
    assert instance.state == "released" and instance.drift_alarm_at is not None
    (alarm,) = sent_emails()
    assert alarm["context"]["applied"] == [] and alarm["context"]["count"] == 1


def test_the_email_of_an_applied_change_in_both_languages(client, marketplace):  # noqa: F811
    from kaitong.mail.tasks import render_email

    call_spi(client, create_params("900111"))
    marketplace.says("900111", MarketView(MarketStatus.CLOSED))
    reconcile(marketplace)
    (email,) = sent_emails()
    subject, text, _ = render_email(email["message_type"], "zh-hans", email["context"])
    assert subject == "[kaitong] 1 个云市场实例已按云市场记录更新"
    assert "- 900111: releaseInstance" in text
    subject, text, _ = render_email(email["message_type"], "en", email["context"])
    assert subject == "[kaitong] 1 marketplace instance(s) updated to the marketplace's records"
    assert "- 900111: releaseInstance" in text
    assert re.search(r"[\u4e00-\u9fff]", subject + text) is None
