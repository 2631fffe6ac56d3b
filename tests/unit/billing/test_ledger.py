"""The metering ledger's transition table: every state × event, and what any sequence of events can do."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaitong.billing import ledger
from kaitong.billing.ledger import Alarm, Event, Lease, State, Transition

S, E = State, Event

# The rules, written out again by hand: (state, event) → (new state, lease, alarm). Any pair not here is refused.
EXPECTED = {
    (S.PENDING, E.CLAIMED): (S.CLAIMED, Lease.TAKE, Alarm.KEEP),
    (S.CLAIMED, E.SENT): (S.SENT, Lease.KEEP, Alarm.KEEP),
    (S.CLAIMED, E.LEASE_EXPIRED): (S.PENDING, Lease.KEEP, Alarm.KEEP),
    (S.SENT, E.ACCEPTED): (S.ACCEPTED, Lease.END, Alarm.KEEP),
    (S.SENT, E.REJECTED): (S.REJECTED, Lease.END, Alarm.RAISE),
    (S.SENT, E.RETRY_LATER): (S.PENDING, Lease.END, Alarm.KEEP),
    (S.SENT, E.ANSWER_UNKNOWN): (S.UNKNOWN, Lease.END, Alarm.RAISE),
    (S.SENT, E.LEASE_EXPIRED): (S.UNKNOWN, Lease.KEEP, Alarm.RAISE),
    # A late answer, after the sweep called the record unknown, is still the truth.
    (S.UNKNOWN, E.ACCEPTED): (S.ACCEPTED, Lease.END, Alarm.KEEP),
    (S.UNKNOWN, E.REJECTED): (S.REJECTED, Lease.END, Alarm.RAISE),
    (S.UNKNOWN, E.RETRY_LATER): (S.PENDING, Lease.END, Alarm.KEEP),
    (S.UNKNOWN, E.ANSWER_UNKNOWN): (S.UNKNOWN, Lease.END, Alarm.RAISE),
    (S.UNKNOWN, E.RECONCILED_RECEIVED): (S.ACCEPTED, Lease.KEEP, Alarm.KEEP),
    (S.UNKNOWN, E.RECONCILED_NOT_RECEIVED): (S.PENDING, Lease.DROP, Alarm.CLEAR),
    (S.REJECTED, E.OPERATOR_RETRY): (S.PENDING, Lease.DROP, Alarm.CLEAR),
}
# Events that prove the marketplace recorded nothing of the last request: only after one may it go again.
NOTHING_RECORDED = {E.REJECTED, E.RETRY_LATER, E.RECONCILED_NOT_RECEIVED}


class TestTable:
    @pytest.mark.parametrize("event", list(Event))
    @pytest.mark.parametrize("state", list(State))
    def test_every_state_and_event(self, state, event):
        if (state, event) in EXPECTED:
            assert ledger.transition(state, event) == Transition(*EXPECTED[(state, event)])
        else:
            with pytest.raises(ledger.Refused) as refused:
                ledger.transition(state, event)
            assert (refused.value.state, refused.value.event) == (state, event)

    def test_sources_are_the_states_an_event_is_legal_in(self):
        for event in Event:
            assert ledger.sources(event) == {s for s, e in EXPECTED if e is event}

    def test_claimed_is_stored_as_pending_and_seen_as_claimed_only_by_its_holder(self):
        assert [s.stored for s in State] == ["pending", "pending", "sent", "accepted", "rejected", "unknown"]
        assert ledger.observed("pending", held=True) is S.CLAIMED
        assert ledger.observed("pending", held=False) is S.PENDING
        assert ledger.observed("unknown", held=True) is S.UNKNOWN

    def test_accepted_and_rejected_are_terminal_unknown_waits_for_an_answer_or_an_operator(self):
        assert {S.ACCEPTED, S.REJECTED} == ledger.TERMINAL

    def test_only_a_holder_applies_sent_and_answers_and_only_where_it_holds_the_record(self):
        for event in ledger.HOLDER_EVENTS:
            assert ledger.sources(event) <= {S.CLAIMED, S.SENT, S.UNKNOWN}

    def test_only_operators_take_a_record_away_from_its_holder(self):
        dropping = {e for (s, e), (_, lease, _) in EXPECTED.items() if lease is Lease.DROP}
        assert dropping <= ledger.OPERATOR_EVENTS

    def test_alarm_exactly_on_the_way_into_rejected_or_unknown(self):
        for (_, event), (to, _, alarm) in EXPECTED.items():
            assert (alarm is Alarm.RAISE) == (to in (S.REJECTED, S.UNKNOWN)), event

    def test_every_record_can_still_end_accepted(self):
        reachable = {S.ACCEPTED}
        while True:
            more = {s for (s, _), (to, _, _) in EXPECTED.items() if to in reachable} - reachable
            if not more:
                break
            reachable |= more
        assert reachable == set(State)


def run(events):
    """Apply ``events`` from pending, skipping the refused ones; the trace of (before, event, transition)."""
    state, trace = S.PENDING, []
    for event in events:
        try:
            step = ledger.transition(state, event)
        except ledger.Refused:
            continue
        trace.append((state, event, step))
        state = step.to
    return trace


any_events = st.lists(st.sampled_from(list(Event)), max_size=60)


class TestAnySequence:
    @given(any_events)
    def test_accepted_is_never_left_nor_followed_by_a_resend(self, events):
        trace = run(events)
        accepted_at = next((n for n, (_, _, step) in enumerate(trace) if step.to is S.ACCEPTED), None)
        if accepted_at is not None:
            assert trace[accepted_at + 1 :] == []

    @given(any_events)
    def test_a_terminal_state_is_left_only_by_an_operator(self, events):
        for before, event, _ in run(events):
            if before in ledger.TERMINAL:
                assert event in ledger.OPERATOR_EVENTS

    @given(any_events)
    def test_never_sent_again_unless_nothing_was_recorded(self, events):
        """No blind resend: between two sends something proved the first one recorded nothing."""
        proof = True
        for _, event, _ in run(events):
            if event is E.SENT:
                assert proof
                proof = False
            elif event in NOTHING_RECORDED:
                proof = True

    @given(any_events)
    def test_sent_only_by_a_claim_holder_and_every_send_needs_its_own_claim(self, events):
        claims = sends = 0
        for before, event, _ in run(events):
            if event is E.CLAIMED:
                claims += 1
            if event is E.SENT:
                assert before is S.CLAIMED
                sends += 1
                assert sends <= claims

    @given(any_events)
    def test_unknown_is_left_only_by_an_answer_or_an_operator(self, events):
        for before, event, _ in run(events):
            if before is S.UNKNOWN:
                assert event in ledger.ANSWERS | ledger.OPERATOR_EVENTS

    @given(any_events)
    def test_the_alarm_is_raised_for_every_record_that_needs_an_operator(self, events):
        trace = run(events)
        raised = False
        for _, _, step in trace:
            if step.alarm is Alarm.RAISE:
                raised = True
            elif step.alarm is Alarm.CLEAR:
                raised = False
        final = trace[-1][2].to if trace else S.PENDING
        if final in (S.REJECTED, S.UNKNOWN):
            assert raised


def test_no_billing_module_but_the_writer_changes_a_records_state():
    """``ledger_writer`` is the one writer: nothing else in billing updates ``state`` or assigns it
    (``ledger`` itself is pure and cannot write a row)."""
    billing = Path(__file__).resolve().parents[3] / "src" / "kaitong" / "billing"
    offenders = []
    for path in sorted(billing.rglob("*.py")):
        if "migrations" in path.parts or path.name in ("ledger_writer.py", "ledger.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            # ``.update(state=…)``, or ``.update(**columns)`` that could hide it.
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "update"
                and any(keyword.arg in ("state", None) for keyword in node.keywords)
            ):
                offenders.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Attribute) and t.attr == "state" for t in targets):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
