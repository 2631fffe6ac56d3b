"""The job engine as the code using it and an operator see it: tasks queued with the change that needs
them, retried with backoff, run again later on request, handed back when their worker died, duties
fired once per slot, failed tasks replayed from the operator console."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from kaitong.accounts import actions as accounts
from kaitong.accounts.domain import Purpose
from kaitong.billing import closing, ingest, pushing
from kaitong.billing import tasks as billing_tasks
from kaitong.billing.client import RecordingMeteringClient
from kaitong.jobs import actions, domain, scheduler
from kaitong.jobs.framework import task
from kaitong.jobs.models import DutyRun, TaskRun
from kaitong.jobs.retries import RetryLater, retried
from kaitong.jobs.sealing import DROPPED, seal, unseal
from kaitong.mail.tasks import ATTEMPTS as MAIL_ATTEMPTS
from tests.support.billing import DAY, after_close, sample, workspaces
from tests.support.concurrency import at_once
from tests.support.jobs import claim_next, in_process_worker, run_jobs

pytestmark = pytest.mark.django_db
SEND_EMAIL = "kaitong.mail.tasks.send_email"


class Boom(Exception):
    pass


@task()
@retried(attempts=3)
def fails(note: str) -> None:
    raise Boom(f"boom: {note}")


@task()
def not_yet(*, when: str, sealed_secret: str = "") -> None:
    unseal(sealed_secret)
    raise RetryLater("the marketplace says wait", at=datetime.fromisoformat(when))


def send_code(email: str = "engine@jobs.example") -> None:
    accounts.do_send_verification_code(
        email=email, purpose=Purpose.REGISTER, ip="10.0.0.1", language="en", now=timezone.now()
    )


def due_now(path: str) -> None:
    """Skip a task's wait (its backoff), as if that much time had passed."""
    DBTaskResult.objects.filter(task_path=path, status="READY").update(run_after=timezone.now())


class TestQueuedWithTheChange:
    def test_a_rolled_back_change_leaves_no_task(self):
        with pytest.raises(Boom), transaction.atomic():
            send_code()
            assert DBTaskResult.objects.filter(task_path=SEND_EMAIL).count() == 1  # written in this transaction
            raise Boom
        assert not DBTaskResult.objects.exists()

    def test_a_committed_change_leaves_its_task_ready(self):
        with transaction.atomic():
            send_code()
        (queued,) = DBTaskResult.objects.all()
        assert (queued.task_path, queued.status, queued.args_kwargs["kwargs"]["to"]) == (
            SEND_EMAIL,
            "READY",
            "engine@jobs.example",
        )


class TestRetries:
    def test_a_failing_task_is_retried_with_backoff_then_fails_for_good(self):
        fails.enqueue("first")
        started = timezone.now()
        run_jobs(duties=False)
        row = DBTaskResult.objects.get()
        assert (row.status, len(row.worker_ids)) == ("READY", 1)
        assert "boom: first" in row.traceback  # the last error stays visible while it waits
        waited = row.run_after - started
        assert domain.retry_delay(attempts=1) <= waited < domain.retry_delay(attempts=1) + timedelta(seconds=5)
        assert run_jobs(duties=False) == 0  # not due yet
        due_now(fails.module_path)
        run_jobs(duties=False)
        row.refresh_from_db()
        assert row.run_after - timezone.now() > domain.retry_delay(attempts=2) - timedelta(seconds=1)
        due_now(fails.module_path)
        run_jobs(duties=False)
        row.refresh_from_db()
        assert (row.status, len(row.worker_ids), row.exception_class_path) == ("FAILED", 3, f"{__name__}.Boom")

    def test_mail_gets_twelve_attempts_and_keeps_its_sealed_code_until_it_gives_up(self, settings):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens
        send_code()
        for attempt in range(1, MAIL_ATTEMPTS + 1):
            due_now(SEND_EMAIL)
            assert run_jobs(duties=False) == 1
            row = DBTaskResult.objects.get()
            assert len(row.worker_ids) == attempt
            if attempt < MAIL_ATTEMPTS:
                assert row.status == "READY" and row.args_kwargs["kwargs"]["sealed_context"] != DROPPED
        assert row.status == "FAILED" and "ConnectionRefusedError" in row.traceback
        assert row.args_kwargs["kwargs"]["sealed_context"] == DROPPED

    def test_retry_later_queues_the_same_call_for_later(self):
        later = (timezone.now() + timedelta(minutes=5)).replace(microsecond=0)
        not_yet.enqueue(when=later.isoformat(), sealed_secret=seal({"code": "424242"}))
        run_jobs(duties=False)
        first, second = DBTaskResult.objects.order_by("enqueued_at")
        assert first.status == "SUCCESSFUL" and first.return_value["continued_by"] == str(second.pk)
        assert first.args_kwargs["kwargs"]["sealed_secret"] == DROPPED  # finished: keeps nothing sealed
        assert (second.status, second.run_after, second.worker_ids) == ("READY", later, [])
        assert unseal(second.args_kwargs["kwargs"]["sealed_secret"]) == {"code": "424242"}

    def test_a_push_held_back_by_the_60_s_rule_comes_back_when_the_record_may_go(self, monkeypatch):
        (workspace,) = workspaces(1)
        ingest.ingest_batch(
            raw=[sample(workspace, "sms", day, 0, 10) for day in (DAY, DAY + timedelta(days=1))],
            now=after_close(DAY + timedelta(days=1)),
        )
        client = RecordingMeteringClient()
        monkeypatch.setattr(billing_tasks, "get_client", lambda: client)
        monkeypatch.setattr(billing_tasks, "push_concurrency", lambda: 1)
        closing.do_close_day(day=DAY, now=after_close(DAY + timedelta(days=1)))
        closing.do_close_day(day=DAY + timedelta(days=1), now=after_close(DAY + timedelta(days=1)))
        started = timezone.now()
        run_jobs(duties=False)
        assert len(client.records) == 1  # one instance, once per 60 s
        pushes = DBTaskResult.objects.filter(task_path=pushing.PUSH_JOB)  # one queued by each close
        done = pushes.filter(status="SUCCESSFUL")
        assert [("records still pending" in t.return_value["retry_later"]) for t in done] == [True, True]
        follow_ups = pushes.filter(status="READY")
        assert follow_ups.count() == 2
        assert all(timedelta(seconds=59) < t.run_after - started < timedelta(seconds=62) for t in follow_ups)


class TestLeases:
    def test_a_task_whose_worker_died_runs_again_once_its_lease_runs_out(self, settings):
        send_code()
        DBTaskResult.objects.get().claim("worker-that-died")
        lease = timedelta(seconds=settings.ENV.job_lease_seconds)
        scheduler.tick(now=timezone.now() + lease - timedelta(seconds=5), lease=lease)
        assert DBTaskResult.objects.get(task_path=SEND_EMAIL).status == "RUNNING"  # it may still be working
        run_jobs(now=timezone.now() + lease + timedelta(seconds=1))
        row = DBTaskResult.objects.get(task_path=SEND_EMAIL)
        assert (row.status, row.worker_ids) == ("SUCCESSFUL", ["worker-that-died", "test-worker"])
        assert [m.to for m in mail.outbox] == [["engine@jobs.example"]]


class TestInterruptedByAnOutage:
    def test_a_sent_email_whose_outcome_the_database_refused_is_recorded_once_it_is_back(self, monkeypatch):
        send_code()
        worker = in_process_worker()
        claimed = claim_next(worker)
        write, refused = TaskRun.save, []

        def database_down_once(run, *args, **kwargs):
            if not refused:
                refused.append(run.pk)
                raise OperationalError("database is locked")
            return write(run, *args, **kwargs)

        monkeypatch.setattr(TaskRun, "save", database_down_once)
        with pytest.raises(OperationalError):
            worker.run_task(claimed)  # the worker rides this out (see test_worker_outage.py)
        assert len(mail.outbox) == 1 and DBTaskResult.objects.get().status == "RUNNING"
        worker.finish_interrupted()  # what it does first once the database answers
        assert DBTaskResult.objects.get().status == "SUCCESSFUL"
        assert len(mail.outbox) == 1  # recorded, not sent again

    def test_a_task_that_failed_while_the_database_was_down_is_retried_once_it_is_back(self, monkeypatch):
        fails.enqueue("database gone")
        worker = in_process_worker()
        claimed = claim_next(worker)

        def database_down(run, *args, **kwargs):
            raise OperationalError("gone")

        monkeypatch.setattr(TaskRun, "save", database_down)
        with pytest.raises(OperationalError):
            worker.run_task(claimed)
        monkeypatch.undo()
        worker.finish_interrupted()
        row = DBTaskResult.objects.get()
        assert (row.status, len(row.worker_ids), row.exception_class_path) == ("READY", 1, f"{__name__}.Boom")


class TestScheduler:
    def test_each_duty_fires_once_per_slot(self):
        now = after_close(DAY, minutes=1)
        first = scheduler.tick(now=now, lease=timedelta(minutes=5))
        every_minute = {"billing.watch_ledger", "marketplace.reconcile", "countdown.run"}
        assert set(first) == {"billing.close_days", "jobs.prune_finished", "sls.check_grants", *every_minute}
        assert scheduler.tick(now=now + timedelta(seconds=30), lease=timedelta(minutes=5)) == []
        assert set(scheduler.tick(now=now + timedelta(minutes=1), lease=timedelta(minutes=5))) == every_minute
        assert DBTaskResult.objects.count() == DutyRun.objects.count() == 9
        close = DutyRun.objects.get(duty="billing.close_days")
        assert close.slot == DAY.isoformat()
        assert DBTaskResult.objects.get(pk=close.task_id).args_kwargs["args"] == [DAY.isoformat()]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_schedulers_of_many_workers_racing_fire_each_slot_once():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent writers")
    now, errors = after_close(DAY, minutes=1), []

    def one_worker(n: int) -> None:
        try:
            scheduler.tick(now=now, lease=timedelta(minutes=5))
        except Exception as exc:  # anything escaping is a bug; recorded for the assertion
            errors.append(exc)

    at_once(8, one_worker)
    assert errors == []
    assert DutyRun.objects.count() == DBTaskResult.objects.count() == 5  # one per duty


class TestOperatorConsole:
    @pytest.fixture
    def operator(self, client, django_user_model):
        user = django_user_model.objects.create_superuser("ops", "ops@example.com", "a-long-operator-password")
        client.force_login(user)
        return user

    def test_a_failed_task_is_listed_and_replayed(self, client, operator):
        fails.enqueue("replay me")
        for _ in range(3):
            due_now(fails.module_path)
            run_jobs(duties=False)
        row = DBTaskResult.objects.get()
        listing = client.get("/ops/jobs/taskrun/?status__exact=FAILED")
        assert listing.status_code == 200 and str(row.pk) in listing.text and "boom: replay me" in listing.text
        replayed = client.post(
            "/ops/jobs/taskrun/",
            {"action": "replay", "_selected_action": [str(row.pk)]},
            follow=True,
        )
        assert "已重新排队 1 个任务" in replayed.text
        row.refresh_from_db()
        assert (row.status, row.worker_ids) == ("READY", [])  # a full set of attempts again
        run_jobs(duties=False)
        row.refresh_from_db()
        assert (row.status, len(row.worker_ids)) == ("READY", 1)  # it ran (and failed) again

    def test_only_failed_tasks_are_replayed(self, client, operator):
        send_code()
        (row,) = DBTaskResult.objects.all()
        with pytest.raises(actions.NotReplayable):
            actions.do_replay_task(task_id=str(row.pk), now=timezone.now())

    def test_duty_firings_are_listed(self, client, operator):
        scheduler.tick(now=after_close(DAY, minutes=1), lease=timedelta(minutes=5))
        page = client.get("/ops/jobs/dutyrun/?duty=billing.close_days")
        assert page.status_code == 200 and DAY.isoformat() in page.text
