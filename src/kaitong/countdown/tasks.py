"""Worker side of the lock countdown: the periodic duty, a lock's data clearing, and the data platform's event.

This is an interface layer: it reads the clock and calls the actions.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.utils import timezone

from kaitong.countdown import actions
from kaitong.jobs import scheduler
from kaitong.jobs.domain import every
from kaitong.jobs.framework import task
from kaitong.jobs.retries import RetryLater

log = logging.getLogger(__name__)


@task()
def run_countdowns(slot: str) -> dict[str, Any]:
    """Send due 3-days-left notices, lock workspaces whose countdown ran out, start countdowns for overdue bills."""
    report = actions.do_run_countdowns(now=timezone.now())
    return {"moved_on": report.moved_on, "started": report.started, "locked": report.locked}


@task()
def clear_workspace_data(*, workspace_id: int) -> dict[str, Any]:
    """The lock's (or a dissolution's) data clearing: waits for the last bills, then deletes and records."""
    clearing = actions.do_clear_workspace_data(workspace_id=workspace_id, now=timezone.now())
    if clearing.retry_at is not None:
        raise RetryLater(clearing.skipped, at=clearing.retry_at)
    return {"removed": clearing.removed, "by_item": clearing.by_item, "skipped": clearing.skipped}


@task()
def tell_data_platform(*, workspace_id: int, cleared_at: str, why: str) -> dict[str, Any]:
    """The event the data platform acts on: workspace ``workspace_id``'s data is cleared (``why``: locked or
    dissolved) as of ``cleared_at``; the platform deletes its stored telemetry and stops serving it.

    kaitong keeps no telemetry of its own and no data platform is integrated: this task is the event's
    place on the job engine (visible, retried, replayable in /ops/jobs/taskrun/), and records that it
    went out. A real integration calls the platform here before recording it.
    """
    log.info("data platform: workspace %d data cleared (%s) at %s", workspace_id, why, cleared_at)
    actions.do_record_data_platform_told(workspace_id=workspace_id, cleared_at=cleared_at, why=why, now=timezone.now())
    return {"workspace_id": workspace_id, "cleared_at": cleared_at, "why": why}


# Every minute: a lock is recorded (and its notice sent) within a minute of 00:00 Beijing time, and so is
# the start of a countdown for a bill that became overdue then; the demo's clock can be watched by it.
scheduler.register("countdown.run", task=run_countdowns, slot=every(timedelta(minutes=1)))
