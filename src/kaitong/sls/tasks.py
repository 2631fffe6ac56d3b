"""Worker side of the exclusive edition's storage: the provisioning job and the periodic grant check.

An interface layer: it reads the clock and calls the actions. A task's arguments are a workspace id or
a slot, never a credential: the job finds the grant itself and unseals the secret only to use it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from kaitong.jobs import scheduler
from kaitong.jobs.domain import every
from kaitong.jobs.framework import task
from kaitong.sls import actions

# How often every grant is tried: a revoked grant is noticed (and its owners told) within this.
CHECK_EVERY = timedelta(minutes=10)


@task()
def provision_storage(*, workspace_id: int) -> dict[str, Any]:
    """Create (or adopt) an exclusive workspace's SLS project and its stores in the buyer's account."""
    done = actions.do_provision_storage(workspace_id=workspace_id, now=timezone.now())
    if done is None:
        return {"workspace_id": workspace_id, "already": "ready"}
    return {"project": done.project, "adopted": done.adopted, "created_stores": list(done.created_stores)}


@task()
def check_grants(slot: str) -> dict[str, Any]:
    """Try every buyer's grant; mark the lost ones revoked (telling the owners) and the mended ones ok."""
    report = actions.do_check_grants(now=timezone.now())
    return {"checked": report.checked, "revoked": list(report.revoked), "recovered": list(report.recovered)}


scheduler.register("sls.check_grants", task=check_grants, slot=every(CHECK_EVERY))
