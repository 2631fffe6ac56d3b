"""The engine's own duty: finished tasks and duty firings are kept ``KAITONG_JOB_RETENTION_DAYS``
(failed tasks three times as long, for the operator), then pruned once a day."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from kaitong.jobs import actions, scheduler
from kaitong.jobs.domain import every
from kaitong.jobs.framework import task


@task()
def prune_finished(slot: str) -> int:
    """Delete finished tasks and duty firings older than the retention; return the firings deleted."""
    return actions.do_prune_finished(now=timezone.now(), days=settings.ENV.job_retention_days)


scheduler.register("jobs.prune_finished", task=prune_finished, slot=every(timedelta(days=1)))
