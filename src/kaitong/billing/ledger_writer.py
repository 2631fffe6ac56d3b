"""The one writer of a metering record's state: it applies the transition table of ``ledger`` to rows.

Every change of ``MeteringRecord.state`` goes through ``do_apply_ledger_event``: pushing (sent, the
answer, the sweep of sends nobody answered) and the operator's repair alike. In one transaction it
locks the rows, asks the table what the event does to each, updates them, writes one ``MeteringEvent``
audit row per record and raises the alarm where the table says so. Claiming is not a change of state
(a claimed record is stored as pending) and goes through ``kaitong_base.claims``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet

from kaitong.billing import alarms, domain, ledger
from kaitong.billing.bulk import insert_rows
from kaitong.billing.ledger import Alarm, Event, Lease, State, Transition
from kaitong.billing.models import MeteringEvent, MeteringRecord
from kaitong_base import claims


def do_apply_ledger_event(
    *,
    event: Event,
    records: QuerySet[MeteringRecord],
    now: datetime,
    token: str | None = None,
    detail: str = "",
    reason: str = "",
    request_id: str = "",
    refuse: bool = False,
) -> list[int]:
    """Apply ``event`` to the rows of ``records``; return the primary keys of the rows it changed.

    ``token``: the claim of the pushing process; the events only a holder may apply (sent, answers)
    then change only the rows it still holds. A row in a state where the event is not legal is left
    alone (a stalled holder's row that someone else took on, a record changed first by another
    writer), or, with ``refuse``, nothing changes and ``ledger.Refused`` is raised (an operator's
    action on one record). ``detail`` is written to the audit rows; ``reason`` is the answer's code
    and message (or why no answer came), stored on the record by the events that keep one;
    ``request_id`` is the marketplace's id of the request that answered.
    """
    if event is Event.CLAIMED:
        raise ValueError("claiming goes through kaitong_base.claims.claim, not the writer")
    if (event in ledger.HOLDER_EVENTS) != (token is not None):
        raise ValueError(f"'{event}' needs the holder's token exactly when only the holder may apply it")
    with transaction.atomic():
        rows = records if token is None else claims.held(records, token=token)
        if not refuse:
            rows = rows.filter(state__in={state.stored for state in ledger.sources(event)})
        # Locked in key order, so that two writers over overlapping rows (an answer and the sweep)
        # wait for each other instead of deadlocking, and each sees the other's result.
        locked = list(rows.select_for_update().order_by("pk").values_list("pk", "state"))
        moves: dict[tuple[State, Transition], list[int]] = defaultdict(list)
        for pk, stored in locked:
            before = ledger.observed(stored, held=token is not None)
            try:
                moves[(before, ledger.transition(before, event))].append(pk)
            except ledger.Refused:
                if refuse:
                    raise
        for (_, after), ids in moves.items():
            columns = _columns(event, after, now=now, reason=reason, request_id=request_id)
            MeteringRecord.objects.filter(pk__in=ids).update(**columns)
        audit = [
            (pk, now, before.stored, after.to.stored, detail[:500])
            for (before, after), ids in moves.items()
            for pk in ids
        ]
        insert_rows(MeteringEvent, ["record_id", "at", "from_state", "to_state", "detail"], audit)
        alarmed: dict[State, list[int]] = defaultdict(list)
        for (_, after), ids in moves.items():
            if after.alarm is Alarm.RAISE:
                alarmed[after.to].extend(ids)
        for state, ids in alarmed.items():
            alarms.raise_alarm(record_ids=ids, now=now, why=state.value)
    return [pk for ids in moves.values() for pk in ids]


def _columns(event: Event, after: Transition, *, now: datetime, reason: str, request_id: str) -> dict[str, Any]:
    """What a transition writes to the record: its state, lease and alarm, and what the event tells."""
    columns: dict[str, Any] = {"state": after.to.stored, "updated_at": now}
    if after.lease is Lease.END:
        columns |= claims.let_go()
    elif after.lease is Lease.DROP:
        columns |= claims.revoke()
    if after.alarm is Alarm.CLEAR:
        columns["alarm_at"] = None
    if event is Event.SENT:
        columns |= {"sent_at": now, "last_request_at": now, "attempts": F("attempts") + 1}
    elif event in ledger.ANSWERS:
        columns |= {"answered_at": now, "last_request_at": now, "reason": reason[:500]}
        if event in (Event.ACCEPTED, Event.REJECTED):
            columns["request_id"] = request_id[:128]
        if event is Event.ACCEPTED:
            columns["reason"] = ""
        if event is Event.RETRY_LATER:
            columns["not_before"] = now + timedelta(seconds=domain.SECONDS_BETWEEN_REQUESTS)
    elif event is Event.LEASE_EXPIRED:
        columns["reason"] = reason[:500]
    if after.lease is Lease.DROP:
        # Reopened by an operator: a fresh start, pushed at once.
        columns |= {"reason": "", "not_before": None}
    return columns
