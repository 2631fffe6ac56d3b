"""Retry and reconnect timing, and the slots periodic duties fire in."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaitong.jobs import domain


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(1, 5), (2, 10), (3, 20), (4, 40), (8, 640), (9, 900), (12, 900), (40, 900)]
)
def test_retries_back_off_exponentially_up_to_15_minutes(attempts, seconds):
    assert domain.retry_delay(attempts=attempts) == timedelta(seconds=seconds)


def test_reconnects_back_off_from_1_s_to_every_30_s():
    delays = [domain.RECONNECT_FIRST_SECONDS]
    for _ in range(7):
        delays.append(domain.next_reconnect_delay(delays[-1]))
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_minute_slot_is_named_by_its_start():
    slot = domain.every(timedelta(minutes=1))
    assert slot(datetime(2026, 11, 30, 1, 29, 59, 999999, tzinfo=UTC)) == "2026-11-30T01:29:00+00:00"
    assert slot(datetime(2026, 11, 30, 1, 30, tzinfo=UTC)) == "2026-11-30T01:30:00+00:00"


@given(st.datetimes(timezones=st.just(UTC)), st.integers(min_value=1, max_value=86400))
def test_a_moment_falls_in_the_slot_that_starts_at_most_one_period_before_it(now, seconds):
    name = domain.every(timedelta(seconds=seconds))(now)
    start = datetime.fromisoformat(name)
    assert start <= now < start + timedelta(seconds=seconds)


def test_a_period_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        domain.every(timedelta(0))
