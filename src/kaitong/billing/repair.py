"""The operator's repair of the ledger: retry a rejected record, reconcile an unknown one.

An unknown record (a timeout, or a process that died after marking it sent) is never resent by
itself: the operator looks for it on the marketplace bill and says whether it was received. Each
action goes through the ledger's one writer, so the transition table decides whether it is possible.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from kaitong.billing.ledger import Event, Refused
from kaitong.billing.ledger_writer import do_apply_ledger_event
from kaitong.billing.models import MeteringRecord
from kaitong.billing.pushing import PUSH_JOB
from kaitong.jobs.actions import enqueue


class NotRetryable(Exception):
    """Only a rejected record (or an unknown one an operator confirmed was not received) may be pushed again.

    ``record_state`` is the record's state ("" when there is no such record), for the operator's message."""

    def __init__(self, message: str, *, record_id: int, state: str = "") -> None:
        super().__init__(message)
        self.record_id = record_id
        self.record_state = state


def do_retry_metering_record(*, record_id: int, now: datetime, acting: str) -> None:
    """Operator: the cause of a rejection is fixed; push the record again."""
    _apply(event=Event.OPERATOR_RETRY, record_id=record_id, now=now, detail=f"retry by {acting}")


def do_resolve_unknown_record(*, record_id: int, received: bool, now: datetime, acting: str) -> None:
    """Operator, after reconciling with the marketplace bill: it was received (accepted), or not (push again)."""
    if received:
        _apply(event=Event.RECONCILED_RECEIVED, record_id=record_id, now=now, detail=f"reconciled by {acting}")
    else:
        _apply(event=Event.RECONCILED_NOT_RECEIVED, record_id=record_id, now=now, detail=f"not received, per {acting}")


def _apply(*, event: Event, record_id: int, now: datetime, detail: str) -> None:
    with transaction.atomic():
        try:
            changed = do_apply_ledger_event(
                event=event, records=MeteringRecord.objects.filter(pk=record_id), now=now, detail=detail, refuse=True
            )
        except Refused as exc:
            raise NotRetryable(
                f"record {record_id} is {exc.state}: {exc}", record_id=record_id, state=exc.state
            ) from None
        if not changed:
            raise NotRetryable(f"record {record_id} does not exist", record_id=record_id)
        if MeteringRecord.objects.filter(pk=record_id, state=MeteringRecord.State.PENDING).exists():
            enqueue(PUSH_JOB)
