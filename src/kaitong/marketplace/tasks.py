"""Worker side of the marketplace: the periodic reconciliation of every instance with the marketplace.

This is an interface layer: it reads the clock and the configuration, and calls the writer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from kaitong.jobs import scheduler
from kaitong.jobs.domain import every
from kaitong.jobs.framework import task
from kaitong.marketplace import reconciliation
from kaitong.marketplace.aliyun.instances import instance_lookup

# Off the SPI's path, a question may wait longer than there (the run's own time limit bounds it).
RECONCILE_TIMEOUT_MS = 10_000


@task()
def reconcile_instances(slot: str) -> dict[str, Any]:
    """Ask the marketplace about the instances due (flagged first), at the configured rate; alarm on a difference."""
    env = settings.ENV
    report = reconciliation.do_reconcile(
        marketplace=instance_lookup(timeout_ms=RECONCILE_TIMEOUT_MS),
        clock=timezone.now,
        calls_per_second=env.reconcile_calls_per_second,
        interval=timedelta(hours=env.reconcile_interval_hours),
    )
    return {
        "checked": report.checked,
        "agreed": report.agreed,
        "differences": {key: list(value) for key, value in report.differences.items()},
        "alarmed": report.alarmed,
        "stopped": report.stopped,
    }


# Every minute: a flagged instance is asked about within a minute or two; each run takes at most 30 s.
scheduler.register("marketplace.reconcile", task=reconcile_instances, slot=every(timedelta(minutes=1)))
