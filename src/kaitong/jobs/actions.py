"""The only writers of the engine's rows: queue a task, fire a duty's slot, hand back tasks whose
lease ran out, and an operator's replay of a failed task.

Every write goes in the caller's transaction when there is one: a task queued by an action commits
or rolls back with the change that needs it (django-tasks-db writes its row on the same connection).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from kaitong.jobs.framework import Task, TaskResult, TaskResultStatus
from kaitong.jobs.models import DutyRun, LeaseExpired, TaskRun

# Leases handed back per scheduler tick; more wait for the next tick.
EXPIRE_BATCH = 100


@cache
def _task(path: str) -> Task[Any, Any]:
    found = import_string(path)
    if not isinstance(found, Task):
        raise TypeError(f"{path} is not a task (define it with @task)")
    return found


def enqueue(task_path: str, *args: Any, **kwargs: Any) -> TaskResult[Any]:
    """Queue the task at ``task_path`` (``module.function``) in the caller's transaction.

    For an action whose module the task itself imports (billing's actions queue the push, and the push
    task calls those actions): naming the task by its path keeps the two modules out of an import cycle.
    Elsewhere call ``the_task.enqueue(...)`` directly.
    """
    return _task(task_path).enqueue(*args, **kwargs)


def do_fire_duty(*, duty: str, task: Task[Any, Any], slot: str, now: datetime) -> bool:
    """Queue ``task(slot)`` unless (duty, slot) has fired already; True if this call fired it.

    The UNIQUE (duty, slot) row and the task are written in one transaction: a scheduler that loses the
    race to another one rolls back its task with its row.
    """
    if DutyRun.objects.filter(duty=duty, slot=slot).exists():
        return False
    try:
        with transaction.atomic():
            result = task.enqueue(slot)
            DutyRun.objects.create(duty=duty, slot=slot, fired_at=now, task_id=result.id)
    except IntegrityError:
        return False
    return True


def do_expire_leases(*, now: datetime, lease: timedelta) -> int:
    """Tasks RUNNING for longer than ``lease``: their worker died or hangs. Each counts as a failed
    attempt (retried with backoff while attempts remain, else FAILED), so delivery is at least once."""
    cutoff = now - lease
    stale = TaskRun.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=cutoff)
    ids = list(stale.values_list("pk", flat=True)[:EXPIRE_BATCH])
    if not ids:
        return 0
    expired = 0
    with transaction.atomic():
        for run in stale.filter(pk__in=ids).select_for_update(skip_locked=True):
            worker = run.worker_ids[-1] if run.worker_ids else "?"
            taken = f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC"
            run.set_failed(LeaseExpired(f"worker {worker} took it at {taken} and did not finish within {lease}"))
            expired += 1
    return expired


def do_prune_finished(*, now: datetime, days: int) -> int:
    """Delete finished tasks older than ``days`` (failed ones: three times as long, for the operator)
    and duty firings older than ``days``; return the firings deleted."""
    # django-tasks-db's own pruning, for every queue.
    call_command("prune_db_task_results", queue_name="*", min_age_days=days, failed_min_age_days=3 * days, verbosity=0)
    deleted, _ = DutyRun.objects.filter(fired_at__lt=now - timedelta(days=days)).delete()
    return deleted


class NotReplayable(Exception):
    """Only a task that failed for good can be replayed."""


def do_replay_task(*, task_id: str, now: datetime) -> None:
    """Operator: run a failed task again, with a full set of attempts (its last error stays visible
    until the next run). Raises NotReplayable for a task that is not FAILED."""
    with transaction.atomic():
        replayed = TaskRun.objects.filter(pk=task_id, status=TaskResultStatus.FAILED).update(
            status=TaskResultStatus.READY, run_after=now, finished_at=None, worker_ids=[]
        )
    if not replayed:
        raise NotReplayable(f"task {task_id} has not failed")
