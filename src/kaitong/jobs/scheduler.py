"""The one scheduler of periodic duties (closing a day, the ledger watch, pruning; expiry sweeps later).

A capability registers a duty: a name, a task that takes one argument (the slot), and a slot rule
(``domain.every(...)`` or its own, e.g. "the Beijing day that last ended"). Every ``kaitong worker``
runs the scheduler, and on each tick fires each duty whose current slot has not fired yet; the UNIQUE
(duty, slot) row (``DutyRun``) makes sure a slot fires once however many workers run. Only the current
slot fires: a duty that must catch up on slots missed while no worker ran (closing days) does that
itself, from the slot it is given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kaitong.jobs import actions
from kaitong.jobs.domain import Slot
from kaitong.jobs.framework import Task
from kaitong.jobs.models import DATABASE_DOWN

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Duty:
    name: str
    task: Task[Any, Any]
    slot: Slot


_duties: dict[str, Duty] = {}


def register(name: str, *, task: Task[Any, Any], slot: Slot) -> None:
    """Queue ``task(slot(now))`` once for each slot ``slot`` names (at a module's import: ``tasks.py``)."""
    _duties[name] = Duty(name, task, slot)


def duties() -> list[Duty]:
    return list(_duties.values())


def tick(*, now: datetime, lease: timedelta) -> list[str]:
    """One look at ``now``: hand back tasks whose lease ran out, then fire every duty whose slot is due.

    Returns the names of the duties fired. A duty that cannot fire (a bug in its slot rule) is logged
    and the others still fire; a database that is down is the caller's to ride out.
    """
    actions.do_expire_leases(now=now, lease=lease)
    fired = []
    for duty in duties():
        try:
            if actions.do_fire_duty(duty=duty.name, task=duty.task, slot=duty.slot(now), now=now):
                fired.append(duty.name)
        except DATABASE_DOWN:
            raise
        except Exception:
            log.exception("periodic duty %s could not fire", duty.name)
    return fired
