"""Pushing the ledger to the marketplace: claim a batch, mark it sent, send it, record the answer.

Each step commits before the next begins, so a process killed at any point leaves the ledger telling
the truth (the transition table in ``ledger`` says what each step may lead to):

1. *claim* (``kaitong_base.claims``): the records stay pending but are leased to this process; a crash
   here loses nothing: the lease runs out and another run pushes them.
2. *mark sent*: committed just before the request. From here on the request may have reached the
   marketplace, and no answer means unknown: never resent blindly, an operator reconciles.
3. *send*, then *record the answer*: accepted, rejected (reason), retry later (flow control, refused
   connection: nothing was recorded there) or unknown (timeout, unexplained server error).

Every change of state goes through ``ledger_writer.do_apply_ledger_event``. Before each request the
circuit breaker (``breaker``, one row shared by every process) is asked: after ``breaker.THRESHOLD``
unknown answers in a row nothing more is sent, the rest stays pending, and one process probes later.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django import db
from django.db import transaction
from django.db.models import Min, Q, QuerySet

from kaitong.billing import breaker, breaker_writer, domain, ledger
from kaitong.billing.client import MeteringClient
from kaitong.billing.ledger import Event
from kaitong.billing.ledger_writer import do_apply_ledger_event
from kaitong.billing.models import MeteringRecord
from kaitong.marketplace.aliyun.metering import Outcome, PushAnswer, metering_entry
from kaitong_base import claims

State = MeteringRecord.State
PUSH_JOB = "kaitong.billing.tasks.push_metering"  # by path: the task imports this module
CLAIM_LIMIT = 400  # candidates read per claim: enough to fill a request of one product past busy instances
NO_ANSWER = "no answer recorded (the pushing process stopped): check the marketplace bill"
ANSWER_EVENTS = {
    Outcome.ACCEPTED: Event.ACCEPTED,
    Outcome.REJECTED: Event.REJECTED,
    Outcome.RETRY: Event.RETRY_LATER,
    Outcome.UNKNOWN: Event.ANSWER_UNKNOWN,
}

Clock = Callable[[], datetime]
Step = Callable[[str], None]


def _no_step(name: str) -> None:
    return None


@dataclass
class PushReport:
    requests: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    next_at: datetime | None = None  # when the earliest record still pending may go; None: nothing left
    paused_until: datetime | None = None  # the circuit breaker is open: nothing is sent before this


@dataclass(frozen=True)
class Claimed:
    """A record leased to this process, with what its request needs."""

    pk: int
    instance_id: str
    start_time: int
    end_time: int
    amount_cents: int
    metering_assit: str


def _due(*, now: datetime) -> QuerySet[MeteringRecord]:
    """Records a claim may take (the table's claimable states) that were not told to wait."""
    claimable = {state.stored for state in ledger.sources(Event.CLAIMED)}
    return MeteringRecord.objects.filter(state__in=claimable).filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now)
    )


def _recent_requests(*, instance_ids: Iterable[str] | QuerySet[Any], now: datetime) -> QuerySet[MeteringRecord]:
    """Records of these instances with a request (or a live claim) in the last 61 s. A claim that ran out
    before its record was marked sent never left, and does not count."""
    since = now - timedelta(seconds=domain.SECONDS_BETWEEN_REQUESTS)
    return MeteringRecord.objects.filter(instance_id__in=instance_ids, last_request_at__gt=since).exclude(
        state=State.PENDING, claimed_until__lt=now
    )


_CLAIMED_FIELDS = ("instance_id", "product_code", "start_time", "end_time", "amount_cents", "metering_assit")


def _claim_batch(
    *, now: datetime, lease_seconds: int, limit: int = domain.MAX_RECORDS_PER_REQUEST
) -> tuple[str, list[Claimed]]:
    """Lease the next request's records: ≤ ``limit`` (100) of one product, each instance once, none
    pushed in 61 s."""

    def one_request(rows: list[tuple[Any, ...]]) -> list[int]:
        busy = frozenset(
            _recent_requests(instance_ids={row[1] for row in rows}, now=now).values_list("instance_id", flat=True)
        )
        candidates = (domain.Candidate(pk, instance_id, product) for pk, instance_id, product, *_ in rows)
        return [c.record_id for c in domain.plan_batch(candidates, busy_instances=busy, limit=limit)]

    claim = claims.claim(
        _due(now=now),
        now=now,
        lease=timedelta(seconds=lease_seconds),
        limit=CLAIM_LIMIT,
        fields=_CLAIMED_FIELDS,
        order_by=("product_code", "id"),
        choose=one_request,
        # last_request_at reserves the instances: a concurrent claim sees them busy for 61 s.
        also={"last_request_at": now, "updated_at": now},
    )
    return claim.token, [Claimed(pk, instance_id, *rest) for pk, instance_id, _, *rest in claim.rows]


def _mark_sent(*, token: str, records: list[Claimed], now: datetime) -> list[Claimed]:
    # Normally every claimed record is still ours; only a lease that ran out (a stalled process) lets
    # another take some, and then the writer leaves those alone.
    sent = set(
        do_apply_ledger_event(
            event=Event.SENT,
            records=MeteringRecord.objects.filter(pk__in=[r.pk for r in records]),
            token=token,
            now=now,
        )
    )
    return [r for r in records if r.pk in sent]


def _record_answer(
    *, token: str, records: list[Claimed], answer: PushAnswer, now: datetime, probe_token: str | None
) -> None:
    # A sweep may already have called a slow answer unknown; the answer, once it comes, is the truth.
    reason = f"{answer.code}: {answer.message}".strip(": ")[:500]
    with transaction.atomic():  # the ledger and the breaker learn the answer together
        do_apply_ledger_event(
            event=ANSWER_EVENTS[answer.outcome],
            records=MeteringRecord.objects.filter(pk__in=[r.pk for r in records]),
            token=token,
            now=now,
            detail=reason,
            reason=reason,
            request_id=answer.request_id,
        )
        breaker_writer.do_record_answer(
            unknown=answer.outcome is Outcome.UNKNOWN, now=now, probe_token=probe_token, reason=reason
        )


def push_pending(
    *,
    client: MeteringClient,
    clock: Clock,
    lease_seconds: int,
    step: Step = _no_step,
    concurrency: int = 1,
) -> PushReport:
    """Push every pending record that may go now, one request per batch, until none is left.

    Each request holds ≤ 100 records of one product, each instance once, none pushed in the last 60 s.
    Returns what happened and, if records remain, when the next may go. ``step`` is called at each
    point a crash must be survivable (after_claim, after_send, before_record) — the fault tests use it.
    With ``concurrency`` > 1, that many requests are in flight at once (each thread claims its own
    batch; the claim reserves the instances, so the 60 s rule holds across threads and processes).
    The circuit breaker is asked before each request: while it is open nothing is sent (``paused_until``
    says until when), and the one probe carries a single record.
    """
    report = PushReport()
    lock = threading.Lock()
    lease = timedelta(seconds=lease_seconds)

    def loop() -> None:
        while True:
            clearance = breaker_writer.do_check_breaker(now=clock(), lease=lease)
            if not clearance.send:
                with lock:
                    report.paused_until = clearance.wait_until
                return
            probe = clearance.probe_token
            limit = breaker.PROBE_RECORDS if probe else domain.MAX_RECORDS_PER_REQUEST
            token, records = _claim_batch(now=clock(), lease_seconds=lease_seconds, limit=limit)
            if records:
                step("after_claim")
                records = _mark_sent(token=token, records=records, now=clock())
            if not records:
                if probe:
                    breaker_writer.do_release_probe(token=probe)
                return
            with lock:
                report.requests += 1
            metering = [
                metering_entry(
                    instance_id=r.instance_id,
                    start_time=r.start_time,
                    end_time=r.end_time,
                    amount_cents=r.amount_cents,
                    metering_assit=r.metering_assit,
                )
                for r in records
            ]
            answer = client.push(metering=metering)
            step("after_send")
            with lock:
                report.outcomes[answer.outcome.value] += len(records)
            step("before_record")
            _record_answer(token=token, records=records, answer=answer, now=clock(), probe_token=probe)

    def in_thread() -> None:
        try:
            loop()
        finally:
            db.connection.close()  # each thread has its own connection

    if concurrency <= 1:
        loop()
    else:
        threads = [threading.Thread(target=in_thread, name=f"push-{n}") for n in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    # Asked again: a thread that found the probe taken stopped, and the probe may have closed it since.
    report.paused_until = breaker_writer.paused_until(now=clock()) if report.paused_until else None
    report.next_at = next_push_at(now=clock())
    if report.next_at is not None and report.paused_until is not None:
        report.next_at = max(report.next_at, report.paused_until)
    return report


def next_push_at(*, now: datetime) -> datetime | None:
    """When the earliest pending record may be pushed (None if nothing is pending)."""
    pending = MeteringRecord.objects.filter(state=State.PENDING)
    if not pending.exists():
        return None
    free = claims.free(_due(now=now), now=now)
    if free.exists():
        # Free records are held back only by the 60 s rule; the oldest recent request frees first.
        oldest = _recent_requests(instance_ids=free.values("instance_id"), now=now).aggregate(t=Min("last_request_at"))[
            "t"
        ]
        return now if oldest is None else oldest + timedelta(seconds=domain.SECONDS_BETWEEN_REQUESTS)
    held = pending.aggregate(lease=Min("claimed_until"), wait=Min("not_before"))
    moments = [t for t in (held["lease"], held["wait"]) if t is not None and t > now]
    return min(moments) if moments else now


def do_sweep_stale_sent(*, now: datetime) -> int:
    """A ``sent`` record whose lease ran out without an answer: its fate cannot be known → unknown + alarm."""
    stale = claims.lapsed(MeteringRecord.objects.filter(state=State.SENT), now=now)
    changed = do_apply_ledger_event(
        event=Event.LEASE_EXPIRED, records=stale, now=now, detail="no answer recorded", reason=NO_ANSWER
    )
    return len(changed)
