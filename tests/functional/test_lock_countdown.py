"""The 14-day lock countdown: what starts it, what lifts it, and the periodic duty that reminds and locks.

Every trigger and lift goes through the real writers (SPI calls, the settlement door, an operator's
payment, the duty) on the test database; times are passed in, so fourteen days take no time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from kaitong.billing import closing, ingest
from kaitong.billing.domain import day_window
from kaitong.billing.models import DailyBill
from kaitong.billing.payments import do_record_bill_payments
from kaitong.countdown import domain, queries
from kaitong.countdown.models import Countdown, CountdownEvent
from kaitong.marketplace.models import SpiCall
from kaitong.workspaces import domain as workspace_rules
from kaitong.workspaces.models import SettlementChange, Workspace
from kaitong.workspaces.settlement import do_change_settlement
from tests.support.billing import open_instances, owner, sample, workspaces
from tests.support.countdown import (
    expire,
    forget_notices,
    history,
    open_countdown,
    queued_notices,
    release,
    renew,
    resume,
    run_duty,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # 18:00 Beijing time, 2 November
LOCKS_AT = day_window(date(2026, 11, 16))[0]  # 14 days on, at 00:00 Beijing time


def test_a_release_starts_the_countdown_of_every_workspace_the_instance_settles_and_keeps_their_settlement():
    first, second = workspaces(2, instance_ids=["700001", "700001"])  # one instance settles both
    other = workspaces(1, instance_ids=["700003"], prefix="8")[0]
    Workspace.objects.filter(pk=first.pk).update(language="en")
    changes_before = SettlementChange.objects.count()

    release("700001", now=T0)

    for workspace in (first, second):
        countdown = open_countdown(workspace.pk)
        assert countdown is not None
        assert (countdown.cause, countdown.instance_id, countdown.started_at, countdown.locks_at) == (
            "instance_released",
            "700001",
            T0,
            LOCKS_AT,
        )
        assert history(workspace.pk) == ["started"]
    assert open_countdown(other.pk) is None
    # The release no longer moves the workspaces to the billing-center account (issue 12 replaces that).
    assert SettlementChange.objects.count() == changes_before
    assert set(Workspace.objects.filter(pk__in=[first.pk, second.pk]).values_list("settlement", flat=True)) == {
        "aliyun"
    }
    notices = queued_notices(kind="countdown_started")
    assert sorted(
        (n.language, n.context["locks_on"], n.context["cause"], n.context["instance_id"]) for n in notices
    ) == [
        ("en", "2026-11-16", "instance_released", "700001"),
        ("zh-hans", "2026-11-16", "instance_released", "700001"),
    ]
    started = CountdownEvent.objects.filter(workspace=first, kind="started").get()
    assert started.acting.startswith("marketplace releaseInstance (SPI call #")


def test_expiry_counts_down_and_renewal_lifts_it_with_a_notice():
    (workspace,) = workspaces(1, instance_ids=["700011"])
    expire("700011", now=T0)
    assert open_countdown(workspace.pk).cause == "instance_expired"
    forget_notices()

    renew("700011", now=T0 + timedelta(days=5), until=T0 + timedelta(days=400))

    assert open_countdown(workspace.pk) is None
    lifted = Countdown.objects.get(workspace=workspace)
    assert (lifted.lift, lifted.lifted_at) == ("instance_renewed", T0 + timedelta(days=5))
    assert [(n.kind, n.context) for n in queued_notices()] == [("unlocked", {"reason": "instance_renewed"})]
    assert history(workspace.pk) == ["started", "lifted"]


def test_resumption_lifts_even_a_lock():
    (workspace,) = workspaces(1, instance_ids=["700021"])
    expire("700021", now=T0)
    run_duty(LOCKS_AT + timedelta(minutes=1))
    assert queries.status_of(workspace.pk, now=LOCKS_AT + timedelta(minutes=2)).locked

    resume("700021", now=LOCKS_AT + timedelta(days=2))

    assert queries.status_of(workspace.pk, now=LOCKS_AT + timedelta(days=2)) is None
    assert Countdown.objects.get(workspace=workspace).lift == "instance_resumed"
    assert history(workspace.pk) == ["started", "locked", "lifted"]


def test_a_release_after_an_expiry_keeps_the_clock_and_names_the_release():
    (workspace,) = workspaces(1, instance_ids=["700031"])
    expire("700031", now=T0)
    forget_notices()
    release("700031", now=T0 + timedelta(days=3))
    countdown = open_countdown(workspace.pk)
    assert (countdown.cause, countdown.locks_at) == ("instance_released", LOCKS_AT)
    assert queued_notices() == []  # the owner was told when it started; the date has not moved
    assert history(workspace.pk) == ["started", "cause_changed"]


def test_other_instances_renewals_lift_nothing():
    first, second = workspaces(2, instance_ids=["700041", "700042"])
    expire("700041", now=T0)
    expire("700042", now=T0)
    renew("700042", now=T0 + timedelta(days=1), until=T0 + timedelta(days=400))
    assert open_countdown(first.pk) is not None and open_countdown(second.pk) is None


def test_moving_away_from_a_released_instance_lifts_the_countdown_through_the_door():
    (workspace,) = workspaces(1, instance_ids=["700051"])
    release("700051", now=T0)
    forget_notices()
    moved_at = T0 + timedelta(days=2)

    do_change_settlement(
        workspace=Workspace.objects.get(pk=workspace.pk),
        to=workspace_rules.BY_BILLING_ACCOUNT,
        # The billing center's 更改结算方式 page (built beside this) moves with its own reason.
        reason=workspace_rules.Reason.INSTANCE_RELEASED,
        acting="buyer owner",
        now=moved_at,
    )

    assert open_countdown(workspace.pk) is None
    lifted = Countdown.objects.get(workspace=workspace)
    assert (lifted.lift, lifted.lifted_at) == ("settlement_moved", moved_at)
    assert CountdownEvent.objects.get(workspace=workspace, kind="lifted").acting == "buyer owner"
    assert [(n.kind, n.context) for n in queued_notices()] == [("unlocked", {"reason": "settlement_moved"})]


def bill_with_usage(day: date, *, quantity: str = "5000000") -> Workspace:
    """A workspace settled by its billing-center account, with usage on ``day``, and that day closed."""
    (workspace,) = workspaces(1, alibaba=False)
    ingest.ingest_batch(raw=[sample(workspace, "logs", day, 3, quantity)], now=day_window(day)[0] + timedelta(hours=5))
    closing.do_close_day(day=day, now=day_window(day)[1] + timedelta(minutes=1))
    return workspace


def test_a_bill_unpaid_a_day_past_its_due_day_starts_the_countdown_and_its_payment_lifts_it():
    day = date(2026, 11, 2)
    workspace = bill_with_usage(day)
    bill = DailyBill.objects.get(workspace=workspace, day=day)
    assert bill.total > 0
    due = day_window(day)[1]  # due when the day closes, 00:00 Beijing on 3 November

    assert run_duty(due + timedelta(hours=23, minutes=59)).started == 0
    assert run_duty(due + timedelta(days=1, minutes=1)).started == 1
    countdown = open_countdown(workspace.pk)
    assert (countdown.cause, countdown.instance_id) == ("unpaid_bill", "")
    assert countdown.locks_at == day_window(date(2026, 11, 4) + timedelta(days=14))[0]
    assert [n.context["cause"] for n in queued_notices(kind="countdown_started")] == ["unpaid_bill"]
    assert run_duty(due + timedelta(days=1, minutes=2)).started == 0  # once

    result = do_record_bill_payments(bill_ids=[bill.pk], recorded_by="operator ops", now=due + timedelta(days=2))

    assert (result.recorded, result.lifted) == ([bill.pk], 1)
    assert Countdown.objects.get(workspace=workspace).lift == "bill_paid"
    assert bill.payment.amount == bill.total and bill.payment.recorded_by == "operator ops"
    assert run_duty(due + timedelta(days=3)).started == 0


def test_paying_one_of_two_overdue_bills_lifts_nothing():
    first_day = date(2026, 11, 2)
    workspace = bill_with_usage(first_day)
    ingest.ingest_batch(
        raw=[sample(workspace, "logs", first_day + timedelta(days=1), 3, "7000000")],
        now=day_window(first_day)[1] + timedelta(hours=5),
    )
    closing.do_close_day(day=first_day + timedelta(days=1), now=day_window(first_day)[1] + timedelta(days=1, minutes=1))
    run_duty(day_window(first_day)[1] + timedelta(days=2, minutes=1))  # both overdue by now
    older = DailyBill.objects.get(workspace=workspace, day=first_day)

    result = do_record_bill_payments(bill_ids=[older.pk], recorded_by="operator ops", now=T0 + timedelta(days=3))

    assert result.lifted == 0 and open_countdown(workspace.pk) is not None


def test_bills_that_are_not_the_billing_centers_to_collect_start_nothing_and_cannot_be_paid_here():
    day = date(2026, 11, 2)
    (alibaba,) = workspaces(1, instance_ids=["700061"])
    ingest.ingest_batch(raw=[sample(alibaba, "logs", day, 3, "5000000")], now=day_window(day)[0] + timedelta(hours=5))
    (idle,) = workspaces(1, alibaba=False, prefix="7")
    closing.do_close_day(day=day, now=day_window(day)[1] + timedelta(minutes=1))

    assert run_duty(day_window(day)[1] + timedelta(days=5)).started == 0

    bills = DailyBill.objects.filter(workspace__in=[alibaba, idle]).order_by("workspace_id")
    result = do_record_bill_payments(bill_ids=[b.pk for b in bills] + [999999], recorded_by="operator", now=T0)
    assert result.recorded == []
    assert sorted(result.refused.values()) == ["not_found", "nothing_due", "settled_by_alibaba"]


def test_binding_an_unpaid_workspace_to_an_instance_lifts_its_countdown():
    day = date(2026, 11, 2)
    workspace = bill_with_usage(day)
    run_duty(day_window(day)[1] + timedelta(days=1, minutes=1))
    open_instances(["700071"])

    do_change_settlement(
        workspace=Workspace.objects.get(pk=workspace.pk),
        to=workspace_rules.by_instance("700071"),
        reason=workspace_rules.Reason.BOUND,
        acting="buyer owner",
        now=T0 + timedelta(days=4),
    )

    assert Countdown.objects.get(workspace=workspace).lift == "settlement_moved"


def test_the_duty_reminds_three_days_before_and_locks_at_the_end_once():
    (workspace,) = workspaces(1, instance_ids=["700081"])
    Workspace.objects.filter(pk=workspace.pk).update(language="en")
    release("700081", now=T0)
    forget_notices()
    ending_due = LOCKS_AT - timedelta(days=domain.ENDING_NOTICE_DAYS)

    assert run_duty(ending_due - timedelta(minutes=1)).moved_on == 0
    assert run_duty(ending_due + timedelta(minutes=1)).moved_on == 1
    assert run_duty(ending_due + timedelta(minutes=2)).moved_on == 0
    assert [(n.kind, n.language, n.context) for n in queued_notices()] == [
        ("countdown_ending", "en", {"locks_on": "2026-11-16", "cause": "instance_released", "instance_id": "700081"})
    ]
    assert queries.status_of(workspace.pk, now=ending_due + timedelta(minutes=2)).days_left == 3
    forget_notices()

    # Locked from 00:00, whether or not the duty has run yet.
    assert queries.status_of(workspace.pk, now=LOCKS_AT).locked
    report = run_duty(LOCKS_AT + timedelta(seconds=30))
    assert report.locked == [workspace.pk]
    assert run_duty(LOCKS_AT + timedelta(minutes=2)).moved_on == 0
    assert [n.kind for n in queued_notices()] == ["locked"]
    assert history(workspace.pk) == ["started", "ending_noticed", "locked"]
    assert Countdown.objects.get(workspace=workspace).locked_at == LOCKS_AT + timedelta(seconds=30)


def test_a_dissolved_workspace_is_left_alone_by_the_duty():
    from kaitong.countdown.actions import do_dissolve_workspace

    (workspace,) = workspaces(1, instance_ids=["700091"])
    release("700091", now=T0)
    do_dissolve_workspace(
        workspace_id=workspace.pk, owner_id=workspace.owner_id, typed_name=workspace.name, acting="owner", now=T0
    )
    forget_notices()
    assert run_duty(LOCKS_AT + timedelta(minutes=1)).moved_on == 0
    assert queued_notices() == []


def test_a_workspace_not_settled_by_the_instance_any_more_is_not_counted_down():
    (workspace,) = workspaces(1, instance_ids=["700101"])
    owner()
    Workspace.objects.filter(pk=workspace.pk).update(settlement="billing_account", cloud_account=None)
    release("700101", now=T0)
    assert open_countdown(workspace.pk) is None


def test_the_money_of_a_payment_is_the_bills():
    workspace = bill_with_usage(date(2026, 11, 2), quantity="12345678")
    bill = DailyBill.objects.get(workspace=workspace)
    do_record_bill_payments(bill_ids=[bill.pk], recorded_by="operator", now=T0)
    assert bill.payment.amount == bill.total == Decimal(bill.total)


def test_a_change_the_reconciliation_applies_counts_down_like_an_spi_call():
    """The reconciliation applies a lost call the way the SPI does (the instance, its audit row without an
    inbox row, then the state-change receivers with no SPI call): the countdown follows, and says so."""
    from kaitong.countdown.actions import count_down_on_instance_change
    from kaitong.marketplace.models import InstanceEvent, MarketplaceInstance

    (lost_release,) = workspaces(1, instance_ids=["700111"])
    (lost_renewal,) = workspaces(1, instance_ids=["700112"], prefix="6")
    expire("700112", now=T0)
    for instance_id, action, state in (
        ("700111", "releaseInstance", "released"),
        ("700112", "renewInstance", "active"),
    ):
        instance = MarketplaceInstance.objects.get(instance_id=instance_id)
        before = instance.state
        MarketplaceInstance.objects.filter(pk=instance.pk).update(state=state)
        instance.refresh_from_db()
        InstanceEvent.objects.create(
            instance=instance,
            spi_call=SpiCall.objects.filter(instance_id=instance_id).first(),  # (no inbox row on main's reconciliation)
            action=action,
            from_state=before,
            to_state=state,
            at=T0 + timedelta(days=1),
            detail={"via": "reconciliation"},
        )
        count_down_on_instance_change(instance, before_state=before, now=T0 + timedelta(days=1), spi_call_id=None)

    started = open_countdown(lost_release.pk)
    assert (started.cause, started.instance_id) == ("instance_released", "700111")
    assert CountdownEvent.objects.get(workspace=lost_release, kind="started").acting == (
        "marketplace reconciliation (releaseInstance)"
    )
    assert open_countdown(lost_renewal.pk) is None
    assert Countdown.objects.get(workspace=lost_renewal).lift == "instance_renewed"


def test_an_operator_records_a_payment_in_the_operator_console_and_it_lifts_the_countdown(client):

    from tests.support.accounts import operator

    day = date(2026, 11, 2)
    workspace = bill_with_usage(day)
    run_duty(day_window(day)[1] + timedelta(days=1, minutes=1))
    bill = DailyBill.objects.get(workspace=workspace, day=day)
    client.force_login(operator())

    unpaid = client.get("/ops/billing/dailybill/?paid=no").content.decode()
    assert f"/ops/billing/dailybill/{bill.pk}/change/" in unpaid
    response = client.post(
        "/ops/billing/dailybill/", {"action": "record_payment", "_selected_action": [bill.pk]}, follow=True
    )

    assert "已记录 1 张账单的付款；解除了 1 个工作空间的锁定倒计时。" in response.content.decode()
    payment = DailyBill.objects.get(pk=bill.pk).payment
    assert payment.recorded_by.startswith("operator ") and payment.amount == bill.total
    assert Countdown.objects.get(workspace=workspace).lift == "bill_paid"
    again = client.post(
        "/ops/billing/dailybill/", {"action": "record_payment", "_selected_action": [bill.pk]}, follow=True
    )
    assert f"账单 {bill.pk} 已记录付款。" in again.content.decode()
    assert (
        f"/ops/billing/dailybill/{bill.pk}/change/"
        not in client.get("/ops/billing/dailybill/?paid=no").content.decode()
    )
