"""Enqueue follow-up work, and the worker loop that runs it.

``enqueue`` must be called inside the transaction of the change that needs the work: both commit or
neither does (transactional outbox). The worker claims due jobs (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so any number of workers can run; SQLite's IMMEDIATE transactions serialise the claim),
runs the registered handler, and records the result. Delivery is at least once: handlers are
idempotent or record enough to recognise a repeat.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from kaitong.outbox.domain import next_attempt_at
from kaitong.outbox.models import Job

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], datetime], None]
_handlers: dict[str, Handler] = {}
# Periodic duties: called every loop with ``now``; they enqueue jobs (with dedup keys) when due.
_duties: list[Callable[[datetime], None]] = []
CLAIM_SECONDS = 300


class RetryLater(Exception):
    """A handler's way to say: not now (rate limit, a dependency down), try again at ``at``."""

    def __init__(self, message: str, *, at: datetime | None = None) -> None:
        super().__init__(message)
        self.at = at


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(function: Handler) -> Handler:
        _handlers[kind] = function
        return function

    return register


def periodic(function: Callable[[datetime], None]) -> Callable[[datetime], None]:
    _duties.append(function)
    return function


def enqueue(
    kind: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    run_after: datetime | None = None,
    dedup_key: str | None = None,
    max_attempts: int = 8,
) -> Job | None:
    """Add a job in the caller's transaction. With ``dedup_key``, a second enqueue is a no-op (None)."""
    job = Job(
        kind=kind,
        payload=payload,
        run_after=run_after or now,
        created_at=now,
        dedup_key=dedup_key,
        max_attempts=max_attempts,
    )
    if dedup_key is None:
        job.save()
        return job
    try:
        with transaction.atomic():
            job.save()
    except IntegrityError:
        return None
    return job


def _claim(*, now: datetime, limit: int) -> list[Job]:
    with transaction.atomic():
        due = Job.objects.filter(status=Job.Status.PENDING, run_after__lte=now) | Job.objects.filter(
            status=Job.Status.RUNNING, claimed_until__lt=now
        )
        query = due.order_by("run_after", "id")
        if connection.features.has_select_for_update_skip_locked:
            query = query.select_for_update(skip_locked=True)
        jobs = list(query[:limit])
        if jobs:
            Job.objects.filter(pk__in=[job.pk for job in jobs]).update(
                status=Job.Status.RUNNING, claimed_until=now + timedelta(seconds=CLAIM_SECONDS)
            )
    return jobs


def _run(job: Job, *, now: datetime) -> None:
    function = _handlers.get(job.kind)
    attempts = job.attempts + 1
    try:
        if function is None:
            raise LookupError(f"no handler for job kind {job.kind!r}")
        function(job.payload, now)
    except RetryLater as exc:
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.PENDING,
            run_after=exc.at or next_attempt_at(attempts=1, now=now),
            last_error=str(exc)[:2000],
            claimed_until=None,
        )
        return
    except Exception as exc:
        log.exception("job %s (%s) failed", job.pk, job.kind)
        gave_up = attempts >= job.max_attempts
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED if gave_up else Job.Status.PENDING,
            attempts=attempts,
            run_after=next_attempt_at(attempts=attempts, now=now),
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            claimed_until=None,
            finished_at=now if gave_up else None,
        )
        return
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.DONE, attempts=attempts, finished_at=now, claimed_until=None, last_error=""
    )


def run_duties(*, now: datetime) -> None:
    for duty in _duties:
        try:
            duty(now)
        except Exception:
            log.exception("periodic duty %s failed", getattr(duty, "__name__", duty))


def run_once(*, now: datetime, limit: int = 50) -> int:
    """Run the periodic duties, then every job due at ``now`` (up to ``limit``); return jobs run."""
    run_duties(now=now)
    jobs = _claim(now=now, limit=limit)
    for job in jobs:
        _run(job, now=now)
    return len(jobs)


def do_replay_job(*, job_id: int, now: datetime) -> None:
    """Operator action: put a failed job back in the queue."""
    Job.objects.filter(pk=job_id, status=Job.Status.FAILED).update(
        status=Job.Status.PENDING, run_after=now, attempts=0, finished_at=None
    )


def run_forever(*, idle_seconds: float = 1.0, stop: Callable[[], bool] = lambda: False) -> None:
    log.info("worker started")
    while not stop():
        ran = run_once(now=timezone.now())
        if ran == 0:
            time.sleep(idle_seconds)
