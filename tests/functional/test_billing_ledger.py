"""The one writer keeps a ledger row to the transition table, whatever happens to it and in what order.

Any sequence of claims, sends, answers (from the holder or from a stalled process whose claim was
taken over), sweeps, waits and operator actions is applied to a real record through the code the
worker and the admin use; after each step the row must be exactly what ``ledger.transition`` says,
with one audit row per change and the alarm flag where the table raises or clears it.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from kaitong.billing import ledger, pushing, repair
from kaitong.billing.ledger import Alarm, Event
from kaitong.billing.ledger_writer import do_apply_ledger_event
from kaitong.billing.models import MeteringEvent, MeteringRecord
from kaitong_base import claims
from tests.support.billing import ledger_records

T0 = datetime(2026, 11, 21, 0, 10, tzinfo=UTC)
LEASE = timedelta(seconds=30)

any_step = st.one_of(
    st.just(("claim",)),
    st.tuples(st.just("holder"), st.sampled_from(sorted(ledger.HOLDER_EVENTS)), st.booleans()),
    st.just(("sweep",)),
    st.just(("wait",)),
    st.tuples(st.just("operator"), st.sampled_from(sorted(ledger.OPERATOR_EVENTS))),
)
# Mostly a push (claim, send, then anything: the answer, a crash and the sweep, an operator…), so that
# most examples get past the first send; single steps in between take it anywhere else.
an_answer = st.tuples(st.just("holder"), st.sampled_from(sorted(ledger.ANSWERS)), st.just(False))
then = st.one_of(an_answer, any_step)
a_push = st.tuples(st.just(("claim",)), st.just(("holder", Event.SENT, False)), then, then)
steps = st.lists(st.one_of(a_push, st.tuples(any_step)), max_size=10).map(lambda parts: [s for p in parts for s in p])


def a_record() -> MeteringRecord:
    (record,) = ledger_records(1)
    return record


def operator(event: Event, pk: int, now: datetime) -> None:
    if event is Event.OPERATOR_RETRY:
        repair.do_retry_metering_record(record_id=pk, now=now, acting="ops")
    else:
        received = event is Event.RECONCILED_RECEIVED
        repair.do_resolve_unknown_record(record_id=pk, received=received, now=now, acting="ops")


def play(script) -> None:
    record = a_record()
    now, tokens = T0, []
    for step in script:
        now += timedelta(seconds=1)
        before = MeteringRecord.objects.get(pk=record.pk)
        audited = MeteringEvent.objects.filter(record=before).count()
        if step[0] == "wait":
            now += 2 * LEASE
            continue
        if step[0] == "claim":
            free = before.claimed_until is None or before.claimed_until < now
            due = before.state == "pending" and free and (before.not_before is None or before.not_before <= now)
            taken = claims.claim(pushing._due(now=now), now=now, lease=LEASE, limit=1)
            assert bool(taken.ids) == due
            tokens += [taken.token] if taken.ids else []
            after = MeteringRecord.objects.get(pk=record.pk)
            assert after.state == before.state and MeteringEvent.objects.filter(record=before).count() == audited
            continue
        token = None
        if step[0] == "holder":
            _, event, stale = step
            token = (tokens[-2] if len(tokens) > 1 else "nobody's") if stale else (tokens[-1] if tokens else "none")
            allowed = before.claim_token == token and before.claimed_until is not None
            do_apply_ledger_event(
                event=event, records=MeteringRecord.objects.filter(pk=record.pk), token=token, now=now, reason="r"
            )
        elif step[0] == "sweep":
            event = Event.LEASE_EXPIRED
            allowed = before.state == "sent" and before.claimed_until < now
            pushing.do_sweep_stale_sent(now=now)
        else:
            _, event = step
            allowed = True
            with contextlib.suppress(repair.NotRetryable):
                operator(event, record.pk, now)
        state = ledger.observed(before.state, held=token is not None and allowed)
        try:
            move = ledger.transition(state, event) if allowed else None
        except ledger.Refused:
            move = None
        after = MeteringRecord.objects.get(pk=record.pk)
        trail = list(MeteringEvent.objects.filter(record=before).values_list("from_state", "to_state"))
        if move is None:
            assert (after.state, after.alarm_at, len(trail)) == (before.state, before.alarm_at, audited), step
            continue
        hypothesis_event(f"{state} -> {move.to}")  # see --hypothesis-show-statistics
        assert after.state == move.to.stored, step
        assert trail[audited:] == [(state.stored, move.to.stored)], step
        if move.alarm is Alarm.RAISE:
            assert after.alarm_at is not None
        elif move.alarm is Alarm.CLEAR:
            assert after.alarm_at is None
        else:
            assert after.alarm_at == before.alarm_at


@pytest.mark.django_db
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=steps)
def test_a_record_follows_the_transition_table_through_any_sequence_of_steps(script):
    with transaction.atomic():
        play(script)
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_a_reopened_record_ignores_the_late_answer_of_its_old_holder():
    record = a_record()
    taken = claims.claim(pushing._due(now=T0), now=T0, lease=LEASE, limit=1)
    records = MeteringRecord.objects.filter(pk=record.pk)
    do_apply_ledger_event(event=Event.SENT, records=records, token=taken.token, now=T0)
    pushing.do_sweep_stale_sent(now=T0 + 2 * LEASE)
    repair.do_resolve_unknown_record(record_id=record.pk, received=False, now=T0 + 3 * LEASE, acting="ops")
    # The process that sent it wakes up with an answer: the operator's word stands.
    do_apply_ledger_event(event=Event.ACCEPTED, records=records, token=taken.token, now=T0 + 4 * LEASE)
    assert MeteringRecord.objects.get(pk=record.pk).state == "pending"
    trail = list(MeteringEvent.objects.filter(record=record).values_list("to_state", "detail"))
    assert trail == [("sent", ""), ("unknown", "no answer recorded"), ("pending", "not received, per ops")]
