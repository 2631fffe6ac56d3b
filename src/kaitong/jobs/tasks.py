"""The engine's own duty: finished tasks and duty firings are kept ``KAITONG_JOB_RETENTION_DAYS``
(failed tasks three times as long, for the operator), then pruned once a day."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from kaitong.jobs import scheduler
from kaitong.jobs.domain import every
from kaitong.jobs.framework import task
from kaitong.jobs.models import DutyRun


@task()
def prune_finished(slot: str) -> int:
    """Delete finished tasks and duty firings older than the retention; return the firings deleted."""
    days = settings.ENV.job_retention_days
    # django-tasks-db's own pruning, for every queue.
    call_command("prune_db_task_results", queue_name="*", min_age_days=days, failed_min_age_days=3 * days, verbosity=0)
    deleted, _ = DutyRun.objects.filter(fired_at__lt=timezone.now() - timedelta(days=days)).delete()
    return deleted


scheduler.register("jobs.prune_finished", task=prune_finished, slot=every(timedelta(days=1)))
