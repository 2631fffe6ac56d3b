"""The only writers of billing data: ingest samples, close a day, push the ledger, raise alarms.

Pushing a record is split into steps that each commit before the next begins, so a process killed at
any point leaves the ledger telling the truth:

1. *claim*: the record stays ``pending`` but is leased to this process (``claimed_until``); a crash
   here loses nothing: the lease runs out and another run pushes it.
2. *mark sent*: committed just before the request. From here on the request may have reached the
   marketplace, and no answer means ``unknown``: never resent blindly, an operator reconciles.
3. *send*, then *record the answer*: accepted, rejected (reason), retry later (flow control, refused
   connection: nothing was recorded there) or unknown (timeout, unexplained server error).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django import db
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, Min, Q, QuerySet, Sum

from kaitong.billing import domain, queries
from kaitong.billing.client import MeteringClient, PushAnswer
from kaitong.billing.models import (
    ClosedDay,
    DailyBill,
    DailyBillLine,
    MeteringEvent,
    MeteringRecord,
    RetentionSetting,
    UsageSample,
)
from kaitong.jobs.actions import enqueue
from kaitong.mail.actions import enqueue_email
from kaitong.workspaces.models import Workspace

log = logging.getLogger(__name__)
State = MeteringRecord.State
PUSH_JOB = "kaitong.billing.tasks.push_metering"
ALARM_EMAIL = "billing_alarm"
AGGREGATE_CHUNK = 2000

Clock = Callable[[], datetime]
Step = Callable[[str], None]


def _no_step(name: str) -> None:
    return None


# --- usage in ---------------------------------------------------------------------------------------


class SamplesRejected(Exception):
    """The batch was refused as a whole; ``errors`` lists every problem by sample index."""

    def __init__(self, errors: list[domain.SampleError]) -> None:
        super().__init__(f"{len(errors)} error(s)")
        self.errors = sorted(errors, key=lambda e: (e.index, e.field))


@dataclass(frozen=True)
class ResolvedSamples:
    rows: list[tuple[int, str, datetime, Decimal]]


def check_samples(*, samples: list[domain.Sample], errors: list[domain.SampleError]) -> ResolvedSamples:
    """Resolve workspace ids/tokens and refuse samples of closed days; raise SamplesRejected on any error."""
    errors = list(errors)
    ids = {s.workspace.id for s in samples if s.workspace.id is not None}
    tokens = {s.workspace.token for s in samples if s.workspace.token is not None}
    by_id: set[int] = set()
    by_token: dict[str, int] = {}
    if ids:
        by_id = set(Workspace.objects.filter(pk__in=ids).values_list("pk", flat=True))
    if tokens:
        by_token = dict(Workspace.objects.filter(token__in=tokens).values_list("token", "pk"))
    days = {domain.beijing_day(s.hour) for s in samples}
    closed = set(ClosedDay.objects.filter(day__in=days).values_list("day", flat=True)) if days else set()
    rows = []
    for sample in samples:
        ref = sample.workspace
        workspace_id = ref.id if ref.id in by_id else by_token.get(ref.token or "")
        if workspace_id is None:
            errors.append(domain.SampleError(sample.index, "workspace", "no such workspace"))
            continue
        day = domain.beijing_day(sample.hour)
        if day in closed:
            errors.append(domain.SampleError(sample.index, "hour", f"the day {day} (Beijing time) is already settled"))
            continue
        rows.append((workspace_id, sample.item, sample.hour, sample.quantity))
    if errors:
        raise SamplesRejected(errors)
    return ResolvedSamples(domain.last_wins(rows))


def do_ingest_samples(*, rows: list[tuple[int, str, datetime, Decimal]], now: datetime) -> int:
    """Upsert samples by (workspace, item, hour): the latest value wins, so re-sending is harmless.

    ``rows`` hold each key once (``domain.last_wins``). On PostgreSQL the rows are COPied into a
    temporary table and upserted with one INSERT … ON CONFLICT (several times faster than an
    INSERT with a VALUES list per 2,000 rows); elsewhere Django's bulk upsert does the same.
    """
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        _copy_upsert(rows, now=now)
        return len(rows)
    objects = [UsageSample(workspace_id=w, item=i, hour=h, quantity=q, received_at=now) for w, i, h, q in rows]
    with transaction.atomic():
        UsageSample.objects.bulk_create(
            objects,
            update_conflicts=True,
            unique_fields=["workspace", "item", "hour"],
            update_fields=["quantity", "received_at"],
            batch_size=2000,
        )
    return len(objects)


def _copy_upsert(rows: list[tuple[int, str, datetime, Decimal]], *, now: datetime) -> None:
    table = UsageSample._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS billing_usage_in "
            "(workspace_id bigint, item varchar(32), hour timestamptz, quantity numeric(24, 6))"
        )
        cursor.execute("TRUNCATE billing_usage_in")
        with cursor.cursor.copy("COPY billing_usage_in (workspace_id, item, hour, quantity) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} (workspace_id, item, hour, quantity, received_at) "  # noqa: S608 - model table name
            "SELECT workspace_id, item, hour, quantity, %s FROM billing_usage_in "
            "ON CONFLICT (workspace_id, item, hour) DO UPDATE "
            "SET quantity = EXCLUDED.quantity, received_at = EXCLUDED.received_at",
            [now],
        )


def ingest_batch(*, raw: Any, now: datetime, first_index: int = 0) -> int:
    """Parse, check as a whole, and apply one batch; raise SamplesRejected or domain.BatchTooLarge."""
    samples, errors = domain.parse_samples(raw, known_items=queries.known_items(), now=now, first_index=first_index)
    resolved = check_samples(samples=samples, errors=errors)
    return do_ingest_samples(rows=resolved.rows, now=now)


# --- closing a day ----------------------------------------------------------------------------------


class DayNotOver(Exception):
    """The day has not ended yet in Beijing time."""


@dataclass(frozen=True)
class CloseResult:
    day: date
    created: bool
    bills: int
    records: int
    total: Decimal


def do_close_day(*, day: date, now: datetime) -> CloseResult:
    """Write every workspace's bill for ``day`` and one pending ledger record per Alibaba instance.

    Idempotent: a closed day is never recomputed (a second call, or a concurrent one that loses the
    UNIQUE race, returns what the first wrote). Raises DayNotOver, queries.NoPriceList.
    """
    if day > domain.last_closed_day(now):
        raise DayNotOver(f"{day} has not ended yet in Beijing time")
    existing = ClosedDay.objects.filter(day=day).first()
    if existing is not None:
        return CloseResult(day, False, existing.bills, existing.records, existing.total)
    try:
        return _close_day(day=day, now=now)
    except IntegrityError:
        existing = ClosedDay.objects.get(day=day)
        return CloseResult(day, False, existing.bills, existing.records, existing.total)


def _close_day(*, day: date, now: datetime) -> CloseResult:
    start, end = domain.day_window(day)
    price_list = queries.price_list_for(day)
    table = queries.price_table(price_list)
    with transaction.atomic():
        # The claim on the day comes first, so a concurrent close fails fast on the UNIQUE day.
        closed = ClosedDay.objects.create(day=day, closed_at=now, price_list=price_list)
        workspaces = list(
            Workspace.objects.filter(created_at__lt=end).values_list(
                "pk", "settlement", "cloud_account__instance__instance_id", "cloud_account__instance__product_code"
            )
        )
        retention: dict[int, dict[str, int]] = defaultdict(dict)
        for workspace_id, item, days in RetentionSetting.objects.values_list("workspace_id", "item", "retention_days"):
            retention[workspace_id][item] = days
        usage: dict[int, dict[str, domain.DayUsage]] = defaultdict(dict)
        # Aggregated by ranges of workspaces, so that each statement stays short (statement_timeout)
        # and walks the (workspace, item, hour) index, however many workspaces there are.
        ids = sorted(row[0] for row in workspaces)
        for chunk in range(0, len(ids), AGGREGATE_CHUNK):
            low, high = ids[chunk], ids[min(chunk + AGGREGATE_CHUNK, len(ids)) - 1]
            aggregates = (
                UsageSample.objects.filter(workspace_id__gte=low, workspace_id__lte=high, hour__gte=start, hour__lt=end)
                .values("workspace_id", "item")
                .annotate(peak=Max("quantity"), total=Sum("quantity"))
                .values_list("workspace_id", "item", "peak", "total")
            )
            for workspace_id, item, peak, total in aggregates:
                usage[workspace_id][item] = domain.DayUsage(Decimal(peak), Decimal(total))

        bills: list[tuple[Any, ...]] = []
        drafts: dict[int, domain.Bill] = {}
        per_instance: dict[str, Decimal] = defaultdict(Decimal)
        products: dict[str, str] = {}
        for workspace_id, settlement, instance_id, product_code in workspaces:
            draft = domain.compute_bill(usage.get(workspace_id, {}), table=table, retention=retention[workspace_id])
            alibaba = settlement == Workspace.Settlement.ALIYUN and instance_id
            bills.append(
                (workspace_id, day, draft.total, settlement, instance_id if alibaba else "", price_list.pk, now)
            )
            drafts[workspace_id] = draft
            if alibaba:
                per_instance[instance_id] += draft.total
                products[instance_id] = product_code
        _insert_rows(
            DailyBill,
            ["workspace_id", "day", "total", "settlement", "instance_id", "price_list_id", "created_at"],
            bills,
        )
        bill_ids = DailyBill.objects.filter(day=day).values_list("workspace_id", "pk")
        lines = [
            (bill_id, line.item, line.quantity, line.units, line.retention_days, line.price, line.fee)
            for workspace_id, bill_id in bill_ids
            for line in drafts[workspace_id].lines
        ]
        _insert_rows(DailyBillLine, ["bill_id", "item", "quantity", "units", "retention_days", "price", "fee"], lines)

        # Amount mode: the instance's day in cents. A day with no charge pushes nothing (no record).
        env = settings.ENV
        records = [
            (
                instance_id,
                products[instance_id] or env.aliyun_product_code,
                day,
                int(start.timestamp()),
                int(end.timestamp()),
                domain.cents(amount),
                env.aliyun_metering_assit,
                State.PENDING,
                "",
                "",
                "",
                0,
                now,
                now,
            )
            for instance_id, amount in sorted(per_instance.items())
            if domain.cents(amount) > 0
        ]
        _insert_rows(
            MeteringRecord,
            [
                "instance_id",
                "product_code",
                "day",
                "start_time",
                "end_time",
                "amount_cents",
                "metering_assit",
                "state",
                "reason",
                "claim_token",
                "request_id",
                "attempts",
                "created_at",
                "updated_at",
            ],
            records,
        )
        total = sum((d.total for d in drafts.values()), Decimal("0.00"))
        closed.bills, closed.records, closed.total = len(bills), len(records), total
        closed.save(update_fields=["bills", "records", "total"])
        if records:
            enqueue(PUSH_JOB)
    return CloseResult(day, True, len(bills), len(records), total)


def _insert_rows(model: Any, fields: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert plain rows in the caller's transaction: COPY on PostgreSQL (a day has ~14 lines per
    workspace; Django's bulk_create spent most of a 10,000-workspace close preparing values)."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        columns = ", ".join(model._meta.get_field(name).column for name in fields)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    model.objects.bulk_create([model(**dict(zip(fields, row, strict=True))) for row in rows], batch_size=2000)


# --- pushing ----------------------------------------------------------------------------------------


@dataclass
class PushReport:
    requests: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    next_at: datetime | None = None  # when the earliest record still pending may go; None: nothing left


def _events(records: Iterable[tuple[int, str]], *, to_state: str, at: datetime, detail: str = "") -> None:
    rows = [(pk, at, old, to_state, detail[:500]) for pk, old in records]
    _insert_rows(MeteringEvent, ["record_id", "at", "from_state", "to_state", "detail"], rows)


@dataclass(frozen=True)
class Claimed:
    """A record leased to this process, with what its request needs."""

    pk: int
    instance_id: str
    start_time: int
    end_time: int
    amount_cents: int
    metering_assit: str


def _free(*, now: datetime) -> QuerySet[MeteringRecord]:
    """Pending records nobody holds: no live claim, not told to wait."""
    return (
        MeteringRecord.objects.filter(state=State.PENDING)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
    )


def _recent_requests(*, instance_ids: Iterable[str] | QuerySet[Any], now: datetime) -> QuerySet[MeteringRecord]:
    """Records of these instances with a request (or a live claim) in the last 61 s. A claim that ran out
    before its record was marked sent never left, and does not count."""
    since = now - timedelta(seconds=domain.SECONDS_BETWEEN_REQUESTS)
    return MeteringRecord.objects.filter(instance_id__in=instance_ids, last_request_at__gt=since).exclude(
        state=State.PENDING, claimed_until__lt=now
    )


def _claim_batch(*, now: datetime, lease_seconds: int) -> tuple[str, list[Claimed]]:
    token = secrets.token_hex(8)
    with transaction.atomic():
        due = _free(now=now).order_by("product_code", "id")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        fields = ("pk", "instance_id", "product_code", "start_time", "end_time", "amount_cents", "metering_assit")
        rows = {row[0]: row for row in due.values_list(*fields)[:400]}
        candidates = [row[:3] for row in rows.values()]
        if not candidates:
            return token, []
        busy = frozenset(
            _recent_requests(instance_ids={c[1] for c in candidates}, now=now).values_list("instance_id", flat=True)
        )
        plan = domain.plan_batch((domain.Candidate(*c) for c in candidates), busy_instances=busy)
        if not plan:
            return token, []
        ids = [c.record_id for c in plan]
        # last_request_at reserves the instances: a concurrent claim sees them busy for 61 s.
        MeteringRecord.objects.filter(pk__in=ids).update(
            claimed_until=now + timedelta(seconds=lease_seconds), claim_token=token, last_request_at=now, updated_at=now
        )
    return token, [Claimed(pk, *rows[pk][1:2], *rows[pk][3:]) for pk in ids]


def _mark_sent(*, token: str, records: list[Claimed], now: datetime) -> list[Claimed]:
    with transaction.atomic():
        ids = [r.pk for r in records]
        marked = MeteringRecord.objects.filter(pk__in=ids, claim_token=token, state=State.PENDING).update(
            state=State.SENT, sent_at=now, last_request_at=now, attempts=F("attempts") + 1, updated_at=now
        )
        # Normally every claimed record is still ours; only a lease that ran out (a stalled process)
        # lets another take some, and then we find out which.
        if marked != len(ids):
            ids = list(
                MeteringRecord.objects.filter(pk__in=ids, claim_token=token, state=State.SENT, sent_at=now).values_list(
                    "pk", flat=True
                )
            )
        _events(((pk, State.PENDING) for pk in ids), to_state=State.SENT, at=now)
    keep = set(ids)
    return [r for r in records if r.pk in keep]


def _record_answer(*, token: str, records: list[Claimed], answer: PushAnswer, now: datetime) -> None:
    ids = [r.pk for r in records]
    reason = f"{answer.code}: {answer.message}".strip(": ")[:500]
    with transaction.atomic():
        # A sweep may already have called a slow answer unknown; the answer, once it comes, is the truth.
        mine = MeteringRecord.objects.filter(pk__in=ids, claim_token=token, state__in=[State.SENT, State.UNKNOWN])
        before = list(mine.values_list("pk", "state"))
        common: dict[str, Any] = {"answered_at": now, "last_request_at": now, "updated_at": now, "claimed_until": None}
        outcome = answer.outcome
        if outcome is domain.Outcome.ACCEPTED:
            mine.update(state=State.ACCEPTED, reason="", request_id=answer.request_id[:128], **common)
            to_state = State.ACCEPTED
        elif outcome is domain.Outcome.REJECTED:
            mine.update(state=State.REJECTED, reason=reason, request_id=answer.request_id[:128], **common)
            to_state = State.REJECTED
        elif outcome is domain.Outcome.RETRY:
            not_before = now + timedelta(seconds=domain.SECONDS_BETWEEN_REQUESTS)
            mine.update(state=State.PENDING, reason=reason, not_before=not_before, **common)
            to_state = State.PENDING
        else:
            mine.update(state=State.UNKNOWN, reason=reason, **common)
            to_state = State.UNKNOWN
        _events(before, to_state=to_state, at=now, detail=reason)
        if to_state in (State.REJECTED, State.UNKNOWN):
            _raise_alarm(record_ids=[pk for pk, _ in before], now=now, why=to_state)


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
    """
    report = PushReport()
    lock = threading.Lock()

    def loop() -> None:
        while True:
            token, records = _claim_batch(now=clock(), lease_seconds=lease_seconds)
            if records:
                step("after_claim")
                records = _mark_sent(token=token, records=records, now=clock())
            if not records:
                return
            with lock:
                report.requests += 1
            metering = [
                domain.metering_entry(
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
            _record_answer(token=token, records=records, answer=answer, now=clock())

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
    report.next_at = next_push_at(now=clock())
    return report


def next_push_at(*, now: datetime) -> datetime | None:
    """When the earliest pending record may be pushed (None if nothing is pending)."""
    pending = MeteringRecord.objects.filter(state=State.PENDING)
    if not pending.exists():
        return None
    free = _free(now=now)
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
    with transaction.atomic():
        stale = MeteringRecord.objects.filter(state=State.SENT, claimed_until__lt=now)
        before = list(stale.values_list("pk", "state"))
        if not before:
            return 0
        MeteringRecord.objects.filter(pk__in=[pk for pk, _ in before]).update(
            state=State.UNKNOWN,
            reason="no answer recorded (the pushing process stopped): check the marketplace bill",
            updated_at=now,
        )
        _events(before, to_state=State.UNKNOWN, at=now, detail="no answer recorded")
        _raise_alarm(record_ids=[pk for pk, _ in before], now=now, why=State.UNKNOWN)
    return len(before)


# --- alarms -----------------------------------------------------------------------------------------


def _raise_alarm(*, record_ids: list[int], now: datetime, why: str) -> int:
    """Flag the records (admin) and queue one operator email listing them; records already flagged stay quiet."""
    fresh = list(
        MeteringRecord.objects.filter(pk__in=record_ids, alarm_at__isnull=True)
        .order_by("day", "instance_id")
        .values_list("pk", "instance_id", "day", "state", "amount_cents", "reason")
    )
    if not fresh:
        return 0
    MeteringRecord.objects.filter(pk__in=[row[0] for row in fresh]).update(alarm_at=now)
    listed = [
        {"instance_id": i, "day": d.isoformat(), "state": s, "amount": str(Decimal(c) / 100), "reason": r}
        for _, i, d, s, c, r in fresh[:200]
    ]
    enqueue_email(
        message_type=ALARM_EMAIL,
        to=settings.ENV.operator_email,
        language="zh-hans",
        context={"why": why, "count": len(fresh), "records": listed, "more": max(0, len(fresh) - 200)},
        now=now,
    )
    log.warning("billing alarm (%s): %d metering record(s) need an operator", why, len(fresh))
    return len(fresh)


def do_check_deadline(*, now: datetime) -> int:
    """At 01:30 Beijing, every record of the day before that is not accepted raises the alarm."""
    last = domain.last_closed_day(now)
    cutoff = last if now >= domain.alarm_time(last) else last - timedelta(days=1)
    late = MeteringRecord.objects.filter(day__lte=cutoff, alarm_at__isnull=True).exclude(state=State.ACCEPTED)
    ids = list(late.values_list("pk", flat=True)[:5000])
    if not ids:
        return 0
    with transaction.atomic():
        return _raise_alarm(record_ids=ids, now=now, why="deadline")


# --- operators --------------------------------------------------------------------------------------


class NotRetryable(Exception):
    """Only a rejected record (or an unknown one an operator confirmed was not received) may be pushed again."""


def do_retry_metering_record(*, record_id: int, now: datetime, acting: str) -> None:
    """Operator: the cause of a rejection is fixed; push the record again."""
    _reopen(record_id=record_id, now=now, allowed={State.REJECTED}, detail=f"retry by {acting}")


def do_resolve_unknown_record(*, record_id: int, received: bool, now: datetime, acting: str) -> None:
    """Operator, after reconciling with the marketplace bill: it was received (accepted), or not (push again)."""
    if received:
        with transaction.atomic():
            record = MeteringRecord.objects.select_for_update().get(pk=record_id)
            if record.state != State.UNKNOWN:
                raise NotRetryable(f"record {record_id} is {record.state}, not unknown")
            MeteringRecord.objects.filter(pk=record_id).update(state=State.ACCEPTED, updated_at=now)
            _events([(record_id, State.UNKNOWN)], to_state=State.ACCEPTED, at=now, detail=f"reconciled by {acting}")
        return
    _reopen(record_id=record_id, now=now, allowed={State.UNKNOWN}, detail=f"not received, per {acting}")


def _reopen(*, record_id: int, now: datetime, allowed: set[str], detail: str) -> None:
    with transaction.atomic():
        record = MeteringRecord.objects.select_for_update().get(pk=record_id)
        if record.state not in allowed:
            raise NotRetryable(f"record {record_id} is {record.state}")
        MeteringRecord.objects.filter(pk=record_id).update(
            state=State.PENDING,
            reason="",
            claimed_until=None,
            claim_token="",
            not_before=None,
            alarm_at=None,
            updated_at=now,
        )
        _events([(record_id, record.state)], to_state=State.PENDING, at=now, detail=detail)
        enqueue(PUSH_JOB)
