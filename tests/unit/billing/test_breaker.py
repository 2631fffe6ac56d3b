"""The circuit breaker's pure rules (``billing.breaker``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from kaitong.billing import breaker
from kaitong.billing.breaker import Breaker, State

T0 = datetime(2026, 11, 20, 16, 10, tzinfo=UTC)


def feed(answers: list[bool]) -> tuple[Breaker, int]:
    """Apply answers (True: unknown) as non-probe answers; return the breaker and how often it opened."""
    current, opened = Breaker(), 0
    for unknown in answers:
        change = breaker.answered(current, unknown=unknown, probe=False, now=T0)
        current, opened = change.after, opened + change.opened
    return current, opened


def test_threshold_unknowns_in_a_row_open_it_and_any_other_answer_resets_the_count():
    almost = [True] * (breaker.THRESHOLD - 1)
    assert feed(almost)[0].state is State.CLOSED
    assert feed([*almost, False, *almost])[0] == Breaker(failures=breaker.THRESHOLD - 1)
    opened, times = feed([*almost, True])
    assert (opened.state, opened.retry_at, times) == (State.OPEN, T0 + breaker.FIRST_WAIT, 1)


def test_probes_wait_twice_as_long_each_time_up_to_fifteen_minutes():
    waits = [breaker.wait_after(n) for n in range(7)]
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8, 15, 15, 15)]
    assert breaker.wait_after(10**6) == breaker.LONGEST_WAIT  # no overflow however long it lasts


def test_an_unanswered_probe_moves_the_next_one_and_an_answer_closes_it():
    opened, _ = feed([True] * breaker.THRESHOLD)
    assert not breaker.may_probe(opened, now=T0) and breaker.may_probe(opened, now=opened.retry_at)
    later = opened.retry_at
    missed = breaker.answered(opened, unknown=True, probe=True, now=later)
    assert missed.after.retry_at == later + timedelta(minutes=2) and not missed.opened
    # A late unknown answer of a request sent before it opened moves nothing.
    assert breaker.answered(missed.after, unknown=True, probe=False, now=later).after.retry_at == missed.after.retry_at
    closed = breaker.answered(missed.after, unknown=False, probe=True, now=later)
    assert closed.closed and closed.after == Breaker()


@given(st.lists(st.booleans(), max_size=40))
def test_it_is_open_exactly_when_the_last_answers_were_unknown(answers):
    # Without probes, the breaker is open iff THRESHOLD unknowns came in a row since the last other answer.
    state, times = feed(answers)
    run = 0
    for unknown in answers:
        run = run + 1 if unknown else 0
    assert (state.state is State.OPEN) == (run >= breaker.THRESHOLD)
    assert times <= answers.count(True) // breaker.THRESHOLD
