"""What the task queue looks like now, for readiness (/readyz) and the operator's metrics (/metrics)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Count, F, Min, Q, When
from django.db.models.functions import Greatest
from django_tasks_db.models import DBTaskResult, get_date_max

from kaitong.jobs.framework import TaskResultStatus


@dataclass(frozen=True)
class QueueState:
    """Tasks per status, and how long the oldest task that is due has waited for a worker."""

    by_status: dict[str, int]
    due: int
    oldest_due_seconds: float  # 0 when nothing is due


def queue_state(*, now: datetime) -> QueueState:
    """Two short queries: a count per status, and the due READY tasks (the partial index of READY rows
    serves the second). A task is due from when it was queued or, if it was deferred (a retry's
    backoff, ``RetryLater``), from its ``run_after``; a task deferred into the future is not waiting."""
    by_status = {
        row["status"]: row["n"] for row in DBTaskResult.objects.values("status").annotate(n=Count("id")).order_by()
    }
    never_deferred = get_date_max()
    due = (
        DBTaskResult.objects.filter(status=TaskResultStatus.READY)
        .filter(Q(run_after=never_deferred) | Q(run_after__lte=now))
        .annotate(
            due_since=Case(
                When(run_after=never_deferred, then=F("enqueued_at")),
                default=Greatest("enqueued_at", "run_after"),
            )
        )
        .aggregate(n=Count("id"), since=Min("due_since"))
    )
    since = due["since"]
    oldest = max(0.0, (now - since).total_seconds()) if since is not None else 0.0
    return QueueState(by_status=by_status, due=int(due["n"]), oldest_due_seconds=oldest)
