"""Closing a day: bills, the ledger, pushes through the recording client, alarms, the worker, the pages."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaitong.billing import alarms, closing, domain, price_lists, pushing, repair, tasks
from kaitong.billing.client import RecordingMeteringClient
from kaitong.billing.ingest import ingest_batch
from kaitong.billing.models import (
    ClosedDay,
    DailyBill,
    DailyBillLine,
    MeteringEvent,
    MeteringRecord,
    PriceItem,
    PriceList,
    RetentionSetting,
)
from kaitong.jobs.models import DutyRun
from kaitong.jobs.retries import RetryLater
from kaitong.marketplace.aliyun.metering import Outcome, PushAnswer
from tests.support.billing import DAY, Clock, after_close, sample, workspaces
from tests.support.jobs import run_jobs

pytestmark = pytest.mark.django_db
NEXT = DAY + timedelta(days=1)


def ingest(samples, now=None):
    return ingest_batch(raw=samples, now=now or after_close(NEXT))


def push(client, clock, **kwargs):
    return pushing.push_pending(client=client, clock=clock, lease_seconds=30, **kwargs)


def crash(client, clock, *, at):
    """Push, and stop dead at step ``at`` (the subprocess tests SIGKILL; here an exception unwinds)."""

    def step(name):
        if name == at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        push(client, clock, step=step)


def bills_of(day):
    return {
        (b.workspace_id, line.item): (line.quantity, line.units, line.price, line.fee)
        for b in DailyBill.objects.filter(day=day)
        for line in b.lines.all()
    } | {(b.workspace_id, "total"): b.total for b in DailyBill.objects.filter(day=day)}


class TestBills:
    def test_bill_per_workspace_and_item_and_one_record_per_instance(self):
        ali_a, ali_b = workspaces(2)
        (own,) = workspaces(1, alibaba=False, prefix="7")
        RetentionSetting.objects.create(workspace=ali_a, item="time_series", retention_days=30)
        ingest(
            [sample(ali_a, "time_series", DAY, h, 1000 + 100 * h) for h in range(24)]  # max 3300 → 3.30 × 1
            + [sample(ali_a, "logs", DAY, h, 100_000) for h in range(24)]  # sum 2.4 M → 2.40 × 1.5 = 3.60
            + [sample(ali_b, "sms", DAY, 3, 25)]  # 2.50 × 1 = 2.50
            + [sample(own, "network_host", DAY, h, 2 + h % 3) for h in range(24)]  # max 4 → 4 × 2 = 8
            + [sample(ali_a, "logs", NEXT, 0, 999)]  # another day: not in this bill
        )
        result = closing.do_close_day(day=DAY, now=after_close())
        assert (result.created, result.bills, result.records, result.total) == (True, 3, 2, Decimal("17.40"))
        bills = bills_of(DAY)
        assert bills[(ali_a.pk, "time_series")] == (Decimal(3300), Decimal("3.30"), Decimal(1), Decimal("3.30"))
        assert bills[(ali_a.pk, "logs")][3] == Decimal("3.60")
        assert bills[(ali_a.pk, "total")] == Decimal("6.90")
        assert bills[(own.pk, "total")] == Decimal("8.00")
        records = {r.instance_id: r for r in MeteringRecord.objects.all()}
        assert sorted(records) == sorted(
            [ali_a.cloud_account.instance.instance_id, ali_b.cloud_account.instance.instance_id]
        )
        record = records[ali_a.cloud_account.instance.instance_id]
        start, end = domain.day_window(DAY)
        assert (record.amount_cents, record.start_time, record.end_time, record.state) == (
            690,
            int(start.timestamp()),
            int(end.timestamp()),
            "pending",
        )
        assert DailyBill.objects.get(workspace=own, day=DAY).instance_id == ""

    def test_each_product_is_pushed_with_its_own_metering_item(self):
        (commercial,) = workspaces(1, prefix="1")
        (exclusive,) = workspaces(1, product_code="cmgj00060481", prefix="2")
        ingest([sample(w, "sms", DAY, 0, 10) for w in (commercial, exclusive)])
        closing.do_close_day(day=DAY, now=after_close())
        records = {r.product_code: r.metering_assit for r in MeteringRecord.objects.all()}
        assert records == {"cmgj00053362": "cmgj00053362-Frequency-1", "cmgj00060481": "cmgj00060481-Frequency-1"}

    def test_the_exclusive_metering_item_is_configured_on_its_own(self, settings):
        settings.ENV = settings.ENV.model_copy(update={"aliyun_exclusive_metering_assit": "cmgj00060481-Frequency-9"})
        (exclusive,) = workspaces(1, product_code="cmgj00060481")
        ingest([sample(exclusive, "sms", DAY, 0, 10)])
        closing.do_close_day(day=DAY, now=after_close())
        assert MeteringRecord.objects.get().metering_assit == "cmgj00060481-Frequency-9"

    def test_a_day_without_usage_bills_zero_and_pushes_nothing(self):
        workspaces(3)
        result = closing.do_close_day(day=DAY, now=after_close())
        assert (result.bills, result.records, result.total) == (3, 0, Decimal("0.00"))
        assert set(DailyBill.objects.values_list("total", flat=True)) == {Decimal("0.00")}
        assert not DailyBillLine.objects.exists()
        assert not MeteringRecord.objects.exists()
        assert not DBTaskResult.objects.filter(task_path=pushing.PUSH_JOB).exists()

    def test_usage_below_a_cent_pushes_nothing(self):
        (ws,) = workspaces(1)
        ingest([sample(ws, "forward_guance", DAY, 0, 1)])  # 1 GB × 0.007 → 0.00
        assert closing.do_close_day(day=DAY, now=after_close()).records == 0

    def test_price_change_applies_from_its_effective_day_only(self):
        (ws,) = workspaces(1)
        data = price_lists.read("cn-2023-04")
        data = {**data, "version": "test-next", "effective_from": NEXT.isoformat()}
        data["items"] = [
            {**item, "prices": {k: str(Decimal(v) * 2) for k, v in item["prices"].items()}} for item in data["items"]
        ]
        price_lists.load(data, price_list_model=PriceList, price_item_model=PriceItem)
        ingest([sample(ws, "sms", day, 0, 10) for day in (DAY, NEXT)], now=after_close(NEXT))
        closing.do_close_day(day=DAY, now=after_close(NEXT))
        closing.do_close_day(day=NEXT, now=after_close(NEXT))
        assert DailyBill.objects.get(day=DAY).total == Decimal("1.00")
        assert DailyBill.objects.get(day=NEXT).total == Decimal("2.00")
        assert ClosedDay.objects.get(day=NEXT).price_list.version == "test-next"

    def test_a_day_that_has_not_ended_cannot_be_closed(self):
        with pytest.raises(closing.DayNotOver):
            closing.do_close_day(day=DAY, now=after_close(DAY, minutes=-1))

    def test_closing_again_changes_nothing(self):
        (ws,) = workspaces(1)
        ingest([sample(ws, "sms", DAY, 0, 10)])
        first = closing.do_close_day(day=DAY, now=after_close())
        again = closing.do_close_day(day=DAY, now=after_close(minutes=30))
        assert first.created and not again.created
        assert (again.bills, again.records, again.total) == (1, 1, Decimal("1.00"))
        assert DailyBill.objects.count() == 1 and MeteringRecord.objects.count() == 1


# Hypothesis through the database: each example runs in a transaction that is rolled back.
ITEMS = ["time_series", "logs", "session_replay", "sms"]
samples_strategy = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(ITEMS), st.integers(0, 23), st.integers(0, 10**9)),
    min_size=1,
    max_size=40,
    unique_by=lambda s: (s[0], s[1], s[2]),
)


class _Rollback(Exception):
    pass


def _bills_for(pool, rows):
    try:
        with transaction.atomic():
            refs = [pool[w] for w, *_ in rows]
            ingest([sample(ref, item, DAY, h, q) for ref, (_, item, h, q) in zip(refs, rows, strict=True)])
            closing.do_close_day(day=DAY, now=after_close())
            result = {
                (b.workspace.name, line.item): line.fee
                for b in DailyBill.objects.filter(day=DAY)
                for line in b.lines.all()
            }
            result |= {(b.workspace.name, "total"): b.total for b in DailyBill.objects.filter(day=DAY)}
            result |= {("record", r.instance_id): r.amount_cents for r in MeteringRecord.objects.all()}
            raise _Rollback(result)
    except _Rollback as done:
        return done.args[0]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=samples_strategy, data=st.data())
def test_any_permutation_or_repetition_of_samples_gives_the_same_bills(rows, data):
    with transaction.atomic():
        pool = workspaces(3, prefix="5")
        # Each workspace named by id in one run and by token in the other: both must land on it.
        by_id, by_token = [w.pk for w in pool], [w.token for w in pool]
        first, second = (by_id, by_token) if data.draw(st.booleans()) else (by_token, by_id)
        expected = _bills_for(first, rows)
        shuffled = data.draw(st.permutations(rows))
        repeated = shuffled + data.draw(st.lists(st.sampled_from(rows), max_size=20))
        assert _bills_for(second, repeated) == expected
        transaction.set_rollback(True)


class TestPush:
    def close(self, count, *, product_code="cmgj00053362", prefix="9"):
        pool = workspaces(count, product_code=product_code, prefix=prefix)
        ingest([sample(w, "sms", DAY, 0, 10 * (n + 1)) for n, w in enumerate(pool)])
        return pool

    def test_batches_of_at_most_100_one_product_each_instance_once(self):
        self.close(150)
        self.close(60, product_code="cmgj00099999", prefix="8")
        closing.do_close_day(day=DAY, now=after_close())
        client = RecordingMeteringClient()
        report = push(client, Clock(after_close()))
        assert report.requests == 3 and report.next_at is None
        assert sorted(len(r) for r in client.requests) == [50, 60, 100]
        instances = [record["InstanceId"] for record in client.records]
        assert len(instances) == len(set(instances)) == 210
        for request in client.requests:
            products = {MeteringRecord.objects.get(instance_id=r["InstanceId"]).product_code for r in request}
            assert len(products) == 1
        assert set(MeteringRecord.objects.values_list("state", flat=True)) == {"accepted"}
        # Pushing again pushes nothing.
        assert push(client, Clock(after_close(minutes=20))).requests == 0
        assert len(client.records) == 210

    def test_one_request_per_instance_per_60_seconds(self):
        (ws,) = self.close(1)
        ingest([sample(ws, "sms", NEXT, 0, 10)], now=after_close(NEXT))
        closing.do_close_day(day=DAY, now=after_close(NEXT))
        closing.do_close_day(day=NEXT, now=after_close(NEXT))
        client = RecordingMeteringClient()
        clock = Clock(after_close(NEXT))
        report = push(client, clock)
        assert report.requests == 1
        assert report.next_at is not None and (report.next_at - clock.now).total_seconds() > 59
        clock.now = report.next_at
        assert push(client, clock).requests == 1
        assert len(client.records) == 2

    def test_flow_control_retries_later_without_a_rejection(self):
        self.close(1)
        closing.do_close_day(day=DAY, now=after_close())
        answers = iter([PushAnswer(Outcome.RETRY, "Service.Flow.Control"), PushAnswer(Outcome.ACCEPTED)])
        client = RecordingMeteringClient(answer=lambda m: next(answers))
        clock = Clock(after_close())
        report = push(client, clock)
        assert MeteringRecord.objects.get().state == "pending"
        clock.now = report.next_at
        push(client, clock)
        assert MeteringRecord.objects.get().state == "accepted"

    def test_records_held_by_another_transaction_never_make_the_push_task_spin(self, monkeypatch):
        # Free records another transaction has locked cannot be claimed: the report says "now" again.
        monkeypatch.setattr(tasks, "push_now", lambda: pushing.PushReport(next_at=timezone.now()))
        before = timezone.now()
        with pytest.raises(RetryLater) as retry:
            tasks.push_metering.func()
        assert retry.value.at >= before + tasks.MIN_PUSH_REQUEUE

    def test_rejected_raises_the_alarm_and_an_operator_can_retry(self):
        self.close(2)
        closing.do_close_day(day=DAY, now=after_close())
        client = RecordingMeteringClient(
            answer=lambda m: PushAnswer(Outcome.REJECTED, "Invalid.Parameter.Metering", "meteringAssit is empty")
        )
        clock = Clock(after_close())
        push(client, clock)
        records = list(MeteringRecord.objects.all())
        assert {r.state for r in records} == {"rejected"}
        assert all("meteringAssit is empty" in r.reason and r.alarm_at for r in records)
        alarm = DBTaskResult.objects.get(task_path="kaitong.mail.tasks.send_email").args_kwargs["kwargs"]
        assert alarm["message_type"] == "billing_alarm" and alarm["context"]["count"] == 2
        # The cause is fixed; the operator retries one record.
        client.answer = lambda m: PushAnswer(Outcome.ACCEPTED)
        repair.do_retry_metering_record(record_id=records[0].pk, now=clock(), acting="ops")
        with pytest.raises(repair.NotRetryable):
            repair.do_retry_metering_record(record_id=records[0].pk, now=clock(), acting="ops")
        clock.now += timedelta(seconds=61)
        push(client, clock)
        assert MeteringRecord.objects.get(pk=records[0].pk).state == "accepted"
        assert MeteringRecord.objects.get(pk=records[1].pk).state == "rejected"
        states = list(MeteringEvent.objects.filter(record=records[0]).values_list("to_state", flat=True))
        assert states == ["sent", "rejected", "pending", "sent", "accepted"]

    def test_a_timeout_is_unknown_never_resent_and_reconciled_by_an_operator(self):
        self.close(1)
        closing.do_close_day(day=DAY, now=after_close())
        client = RecordingMeteringClient(answer=lambda m: PushAnswer(Outcome.UNKNOWN, "ReadTimeout", "timed out"))
        clock = Clock(after_close())
        push(client, clock)
        record = MeteringRecord.objects.get()
        assert record.state == "unknown" and record.alarm_at is not None
        clock.now += timedelta(hours=1)
        assert push(client, clock).requests == 0
        assert len(client.requests) == 1
        repair.do_resolve_unknown_record(record_id=record.pk, received=False, now=clock(), acting="ops")
        client.answer = lambda m: PushAnswer(Outcome.ACCEPTED)
        push(client, clock)
        assert MeteringRecord.objects.get().state == "accepted"
        assert len(client.requests) == 2

    def test_a_send_without_a_recorded_answer_becomes_unknown_when_its_lease_ends(self):
        self.close(3)
        closing.do_close_day(day=DAY, now=after_close())
        client = RecordingMeteringClient()
        clock = Clock(after_close())
        crash(client, clock, at="after_send")
        assert set(MeteringRecord.objects.values_list("state", flat=True)) == {"sent"}
        assert pushing.do_sweep_stale_sent(now=clock()) == 0  # the lease still runs
        clock.now += timedelta(seconds=31)
        assert pushing.do_sweep_stale_sent(now=clock()) == 3
        assert set(MeteringRecord.objects.values_list("state", flat=True)) == {"unknown"}
        assert push(client, clock).requests == 0 and len(client.requests) == 1

    def test_a_crash_after_claiming_loses_nothing(self):
        self.close(3)
        closing.do_close_day(day=DAY, now=after_close())
        client = RecordingMeteringClient()
        clock = Clock(after_close())
        crash(client, clock, at="after_claim")
        assert push(client, clock).requests == 0  # still leased to the dead process
        clock.now += timedelta(seconds=31)
        assert push(client, clock).requests == 1
        assert set(MeteringRecord.objects.values_list("state", flat=True)) == {"accepted"}

    def test_deadline_alarm_at_0130_for_records_not_accepted(self):
        self.close(2)
        closing.do_close_day(day=DAY, now=after_close())
        first = MeteringRecord.objects.order_by("id").first()
        MeteringRecord.objects.filter(pk=first.pk).update(state="accepted")
        alarm = domain.alarm_time(DAY)
        assert alarms.do_check_deadline(now=alarm - timedelta(seconds=1)) == 0
        assert alarms.do_check_deadline(now=alarm) == 1
        assert alarms.do_check_deadline(now=alarm + timedelta(minutes=5)) == 0  # once
        assert MeteringRecord.objects.get(pk=first.pk).alarm_at is None


class TestWorker:
    def test_the_worker_closes_the_day_and_pushes_on_schedule(self, monkeypatch):
        pool = workspaces(3)
        ingest([sample(w, "sms", DAY, 0, 10) for w in pool])
        client = RecordingMeteringClient()
        monkeypatch.setattr(tasks, "get_client", lambda: client)
        monkeypatch.setattr(tasks, "push_concurrency", lambda: 1)  # threads would not see the test's transaction
        run_jobs(now=after_close(DAY, minutes=-5))
        assert not ClosedDay.objects.filter(day=DAY).exists()  # only the day before is over
        run_jobs(now=after_close(DAY, minutes=1))  # the duty queues the close, which queues the push
        assert ClosedDay.objects.filter(day=DAY).exists()
        assert set(MeteringRecord.objects.values_list("state", flat=True)) == {"accepted"}
        assert len(client.records) == 3
        run_jobs(now=after_close(DAY, minutes=3))
        assert list(DutyRun.objects.filter(duty="billing.close_days").values_list("slot", flat=True)) == [
            DAY.isoformat(),
            (DAY - timedelta(days=1)).isoformat(),
        ]
        assert len(client.records) == 3

    def test_days_missed_while_the_worker_was_down_are_closed_too(self, monkeypatch):
        workspaces(1)
        monkeypatch.setattr(tasks, "get_client", lambda: RecordingMeteringClient())
        closing.do_close_day(day=DAY, now=after_close())
        run_jobs(now=after_close(DAY + timedelta(days=3)))
        closed = set(ClosedDay.objects.values_list("day", flat=True))
        assert closed == {DAY + timedelta(days=n) for n in range(4)}


class TestPages:
    def test_billing_center_shows_bills_lines_and_pushes(self, client):
        (ws,) = workspaces(1)
        workspaces(1, prefix="6")  # another workspace of the same owner, no usage
        ingest([sample(ws, "sms", DAY, 0, 10), sample(ws, "logs", DAY, 1, 2_000_000)])
        closing.do_close_day(day=DAY, now=after_close())
        push(RecordingMeteringClient(), Clock(after_close()))
        client.force_login(ws.owner)
        page = client.get("/billing/").content.decode()
        assert "4.00" in page and ws.cloud_account.instance.instance_id in page
        assert "已接受" in page
        detail = client.get(f"/billing/bills/{ws.pk}/{DAY}/")
        assert detail.status_code == 200
        assert "短信" in detail.content.decode()

    def test_billing_center_in_english(self, client, settings):
        (ws,) = workspaces(1)
        ingest([sample(ws, "sms", DAY, 0, 10)])
        closing.do_close_day(day=DAY, now=after_close())
        client.force_login(ws.owner)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        page = client.get("/billing/").content.decode()
        assert "Billing center" in page and "Marketplace settlement pushes" in page
        assert "费用中心" not in page
        detail = client.get(f"/billing/bills/{ws.pk}/{DAY}/").content.decode()
        assert "SMS" in detail and ">Fee<" in detail

    def test_someone_elses_bill_is_404(self, client):
        from tests.support.billing import owner

        (ws,) = workspaces(1)
        closing.do_close_day(day=DAY, now=after_close())
        client.force_login(owner("stranger"))
        assert client.get(f"/billing/bills/{ws.pk}/{DAY}/").status_code == 404

    def test_operator_ledger_and_retry_action(self, client):
        from tests.support.accounts import operator

        (ws,) = workspaces(1)
        ingest([sample(ws, "sms", DAY, 0, 10)])
        closing.do_close_day(day=DAY, now=after_close())
        MeteringRecord.objects.update(state="rejected", reason="Invalid.Parameter: test")
        client.force_login(operator())
        record = MeteringRecord.objects.get()
        listing = client.get("/ops/billing/meteringrecord/").content.decode()
        assert record.instance_id in listing and "Invalid.Parameter: test" in listing
        change = client.get(f"/ops/billing/meteringrecord/{record.pk}/change/").content.decode()
        assert "Invalid.Parameter: test" in change
        response = client.post(
            "/ops/billing/meteringrecord/", {"action": "retry_rejected", "_selected_action": [record.pk]}
        )
        assert response.status_code == 302
        assert MeteringRecord.objects.get().state == "pending"
