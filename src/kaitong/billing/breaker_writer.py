"""The one writer of the push's circuit breaker: one row in the database, shared by every process.

``pushing`` asks ``do_check_breaker`` before each request and records each answer with
``do_record_answer`` in the transaction that records it in the ledger. The rules are ``breaker``'s.

Why a row and not memory: any number of ``kaitong worker`` processes push, on any machines, each with
``KAITONG_METERING_CONCURRENCY`` threads. A breaker in one process's memory would let every other
process (and every restart) send its own THRESHOLD batches into the silence, and probe on its own.
The row makes them stop together, and ``kaitong_base.claims`` leases the probe to exactly one of them
(SKIP LOCKED on PostgreSQL, one writer on SQLite), with a lease that frees it if that process dies.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from kaitong.billing import alarms, breaker
from kaitong.billing.models import MeteringRecord, PushBreaker
from kaitong_base import claims

log = logging.getLogger(__name__)
NAME = "PushMeteringData"


@dataclass(frozen=True)
class Clearance:
    """What the breaker allows the next request: ``send`` it (the probe when ``probe_token`` is set, then
    carrying at most ``breaker.PROBE_RECORDS`` records), or nothing before ``wait_until``."""

    send: bool
    probe_token: str | None = None
    wait_until: datetime | None = None


def _rules(row: PushBreaker) -> breaker.Breaker:
    return breaker.Breaker(breaker.State(row.state), row.failures, row.probes, row.retry_at)


def do_check_breaker(*, now: datetime, lease: timedelta) -> Clearance:
    """Closed: send. Open and due for a probe: lease the probe to the caller (one process wins).
    Otherwise: wait until the probe is due, or until the probe another process holds runs out."""
    row = PushBreaker.objects.filter(name=NAME).first()
    if row is None or row.state == PushBreaker.State.CLOSED:
        return Clearance(send=True)
    if breaker.may_probe(_rules(row), now=now):
        due = PushBreaker.objects.filter(name=NAME, state=PushBreaker.State.OPEN, retry_at__lte=now)
        probe = claims.claim(due, now=now, lease=lease, limit=1, also={"updated_at": now})
        if probe.rows:
            return Clearance(send=True, probe_token=probe.token)
        row = PushBreaker.objects.get(name=NAME)
        if row.state == PushBreaker.State.CLOSED:  # another process's probe was answered meanwhile
            return Clearance(send=True)
    return Clearance(send=False, wait_until=_wait_until(row, now=now))


def _wait_until(row: PushBreaker, *, now: datetime) -> datetime:
    moments = [t for t in (row.retry_at, row.claimed_until) if t is not None]
    # Never "now": a caller told to wait until now would ask again at once, and again.
    return max([*moments, now + timedelta(seconds=1)])


def paused_until(*, now: datetime) -> datetime | None:
    """While the breaker is open: when the next probe may go (or the running one's lease ends)."""
    row = PushBreaker.objects.filter(name=NAME, state=PushBreaker.State.OPEN).first()
    return None if row is None else _wait_until(row, now=now)


def do_release_probe(*, token: str) -> None:
    """The probe found nothing to send: let another process probe when there is."""
    row = claims.held(PushBreaker.objects.filter(name=NAME), token=token).first()
    if row is not None:
        _let_go(row)
        row.save(update_fields=list(claims.let_go()))


def _let_go(row: PushBreaker) -> None:
    for column, value in claims.let_go().items():
        setattr(row, column, value)


def do_record_answer(*, unknown: bool, now: datetime, probe_token: str | None, reason: str) -> breaker.Change:
    """Apply one answer to the breaker; call it inside the transaction that records the answer in the
    ledger. Raises the alarm when the breaker opens; logs when it closes."""
    row = PushBreaker.objects.select_for_update().filter(name=NAME).first()
    if row is None:
        if not unknown:
            return breaker.Change(breaker.Breaker())  # never opened, nothing to reset: no write
        PushBreaker.objects.get_or_create(name=NAME, defaults={"updated_at": now})
        row = PushBreaker.objects.select_for_update().get(name=NAME)
    holds_probe = probe_token is not None and row.claim_token == probe_token and row.claimed_until is not None
    before = _rules(row)
    change = breaker.answered(before, unknown=unknown, probe=holds_probe, now=now)
    if change.after == before and not holds_probe:
        return change
    after = change.after
    row.state, row.failures, row.probes, row.retry_at = after.state.value, after.failures, after.probes, after.retry_at
    row.updated_at = now
    if unknown:
        row.reason = reason[:500]
    if change.opened:
        row.opened_at = now
    if holds_probe:
        _let_go(row)  # the probe is answered
    row.save()
    if change.opened:
        pending = MeteringRecord.objects.filter(state=MeteringRecord.State.PENDING).count()
        alarms.raise_breaker_alarm(
            now=now, failures=after.failures, reason=row.reason, retry_at=after.retry_at, pending=pending
        )
    if change.closed:
        log.warning("billing: the Market API answered again after %s; pushing resumes", now - (row.opened_at or now))
    return change
