"""Run queued tasks in the test's own process and transaction, the way ``kaitong worker`` runs them.

The worker's loop itself (``ResilientWorker.run``) closes connections between tasks, which would end
the test's transaction; here the same scheduler tick, the same claim (django-tasks-db's ``ready`` /
``get_locked`` / ``claim``) and the same ``run_task`` run, one task after another.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

from kaitong.jobs import scheduler
from kaitong.jobs.worker import Outage, ResilientWorker


def in_process_worker() -> ResilientWorker:
    return ResilientWorker(
        outage=Outage(),
        queue_names=["*"],
        excluded_queue_names=[],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
    )


def claim_next(worker: ResilientWorker) -> DBTaskResult | None:
    """The next ready task, claimed for ``worker`` as its loop claims it."""
    with exclusive_transaction():
        result = DBTaskResult.objects.ready().get_locked()
        if result is not None:
            result.claim(worker.worker_id)
    return result


def run_jobs(*, now: datetime | None = None, duties: bool = True, limit: int = 200) -> int:
    """The scheduler's tick at ``now`` (without ``duties``: none), then every ready task until none is
    left; return how many ran."""
    if duties:
        scheduler.tick(now=now or timezone.now(), lease=timedelta(seconds=settings.ENV.job_lease_seconds))
    worker = in_process_worker()
    for ran in range(limit):
        result = claim_next(worker)
        if result is None:
            return ran
        worker.run_task(result)
    raise AssertionError(f"tasks still ready after {limit} runs: a task that requeues itself at once?")
