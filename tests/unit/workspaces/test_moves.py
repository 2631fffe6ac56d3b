"""A buyer's moves of a workspace's settlement (issue 12): once per Beijing calendar month, one move after
the settling instance lapsed, never away from a subscribed cloud account; and the unlock link's rules.
Pure: no database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaitong.workspaces import domain

OWN = domain.BY_BILLING_ACCOUNT
A, B = domain.by_instance("100001"), domain.by_instance("100002")
R = domain.Reason
# Beijing is UTC+8 all year: 16:00 UTC on the last day of a month is 00:00 of the next month in Beijing.
BEIJING_DEC_1 = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)


def facts(current=OWN, *, subscribed=None, last_move_at=None, fell_back=False) -> domain.MoveFacts:  # type: ignore[no-untyped-def]
    return domain.MoveFacts(
        current=current, instance_subscribed=subscribed, last_move_at=last_move_at, fell_back_since_last_move=fell_back
    )


class TestOnceAMonthInBeijingTime:
    def test_a_workspace_never_moved_may_move(self):
        domain.check_move(facts(), now=BEIJING_DEC_1)

    @pytest.mark.parametrize(
        ("moved", "now"),
        [
            # Both in Beijing's November: 16:00 UTC on October 31 is November 1, 00:00 in Beijing.
            (datetime(2026, 10, 31, 16, 0, tzinfo=UTC), datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)),
            (datetime(2026, 11, 15, 3, 0, tzinfo=UTC), datetime(2026, 11, 15, 3, 1, tzinfo=UTC)),
        ],
    )
    def test_a_second_move_in_the_same_beijing_month_is_refused_until_the_next(self, moved, now):
        with pytest.raises(domain.MoveRefused) as refused:
            domain.check_move(facts(last_move_at=moved), now=now)
        assert refused.value.rule is domain.MoveRule.ONCE_A_MONTH
        assert refused.value.next_move_from == BEIJING_DEC_1
        assert domain.move_refusal_params(refused.value) == {"date": "2026-12-01"}

    def test_the_beijing_month_turns_at_16_00_utc(self):
        """November 30, 23:59:59 Beijing is still November; one second later it is December."""
        moved = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
        with pytest.raises(domain.MoveRefused):
            domain.check_move(facts(last_move_at=moved), now=BEIJING_DEC_1 - timedelta(seconds=1))
        domain.check_move(facts(last_move_at=moved), now=BEIJING_DEC_1)

    def test_a_move_on_the_utc_last_day_that_is_beijing_next_month_counts_for_that_month(self):
        """Dec 1, 01:00 Beijing is Nov 30 in UTC: it is December's move, not November's."""
        moved = BEIJING_DEC_1 + timedelta(hours=1)
        with pytest.raises(domain.MoveRefused):
            domain.check_move(facts(last_move_at=moved), now=datetime(2026, 12, 31, 15, 59, tzinfo=UTC))
        domain.check_move(facts(last_move_at=moved), now=datetime(2026, 12, 31, 16, 0, tzinfo=UTC))

    def test_december_is_followed_by_january(self):
        assert domain.next_month_start(datetime(2026, 12, 20, tzinfo=UTC)) == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


class TestTheLapseException:
    MOVED = datetime(2026, 11, 10, tzinfo=UTC)
    NOW = datetime(2026, 11, 20, tzinfo=UTC)

    def test_an_expired_or_released_settling_instance_allows_one_move_whatever_the_month(self):
        domain.check_move(facts(A, subscribed=False, last_move_at=self.MOVED), now=self.NOW)

    def test_a_release_that_fell_the_workspace_back_allows_one_move(self):
        """The release moved it to the billing-center account already: the lapse still counts once."""
        domain.check_move(facts(OWN, last_move_at=self.MOVED, fell_back=True), now=self.NOW)

    def test_after_that_one_move_the_month_counts_again(self):
        """The move after the lapse is the last move now; no lapse since: the month's limit holds."""
        with pytest.raises(domain.MoveRefused):
            domain.check_move(facts(OWN, last_move_at=self.NOW, fell_back=False), now=self.NOW + timedelta(hours=1))


class TestStillSubscribed:
    @pytest.mark.parametrize("last_move_at", [None, datetime(2026, 1, 1, tzinfo=UTC)])
    def test_a_subscribed_cloud_account_keeps_its_workspace(self, last_move_at):
        with pytest.raises(domain.MoveRefused) as refused:
            domain.check_move(facts(A, subscribed=True, last_move_at=last_move_at), now=BEIJING_DEC_1)
        assert refused.value.rule is domain.MoveRule.STILL_SUBSCRIBED
        assert refused.value.next_move_from is None

    def test_even_right_after_a_lapse_that_was_renewed(self):
        """Expired, then renewed: subscribed again, so it stays, even though the month is fresh."""
        with pytest.raises(domain.MoveRefused):
            domain.check_move(facts(A, subscribed=True, last_move_at=None, fell_back=False), now=BEIJING_DEC_1)

    def test_an_instance_standing_exactly_when_an_instance_settles(self):
        with pytest.raises(ValueError):
            facts(A, subscribed=None)
        with pytest.raises(ValueError):
            facts(OWN, subscribed=True)


moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))


@given(moved=moments, now=moments)
def test_without_a_lapse_two_moves_are_never_in_one_beijing_month(moved, now):
    """The property the countdown's state machine relies on: a refusal exactly when both moments share a
    Beijing calendar month, and then the next allowed moment is the first of the following month."""
    now = max(now, moved)
    same_month = moved.astimezone(domain.BEIJING).strftime("%Y-%m") == now.astimezone(domain.BEIJING).strftime("%Y-%m")
    try:
        domain.check_move(facts(last_move_at=moved), now=now)
    except domain.MoveRefused as refused:
        assert same_month
        opens = refused.next_move_from
        assert opens is not None and opens > now and opens.astimezone(domain.BEIJING).day == 1
        assert opens - now <= timedelta(days=31)
    else:
        assert not same_month


class TestWhichChangesAMoveMakes:
    def test_a_move_may_take_a_workspace_from_one_instance_to_another(self):
        """更改结算方式 off a lapsed instance to a new one (check_move says whether now)."""
        assert domain.settlement_changes(current=A, to=B, reason=R.MOVED) is True

    def test_binding_still_never_does(self):
        with pytest.raises(domain.AlreadyBoundElsewhere):
            domain.settlement_changes(current=A, to=B, reason=R.BOUND)

    def test_moves_are_the_buyers_bindings_and_changes(self):
        assert {R.BOUND, R.MOVED} == domain.MOVE_REASONS


class TestUnlockLinks:
    NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)

    def test_a_token_is_long_random_and_stored_only_as_its_digest(self):
        token = domain.new_unlock_token()
        assert domain.UNLOCK_TOKEN_RE.fullmatch(token)
        assert token != domain.new_unlock_token()
        digest = domain.unlock_token_digest(token)
        assert len(digest) == 64 and token not in digest

    @pytest.mark.parametrize(
        ("expires_at", "used_at", "state"),
        [
            (NOW + timedelta(seconds=1), None, domain.UnlockLinkState.USABLE),
            (NOW, None, domain.UnlockLinkState.EXPIRED),
            (NOW + timedelta(minutes=5), NOW - timedelta(minutes=1), domain.UnlockLinkState.USED),
            (NOW - timedelta(minutes=5), NOW - timedelta(minutes=10), domain.UnlockLinkState.USED),
            (None, None, domain.UnlockLinkState.UNKNOWN),
        ],
    )
    def test_states(self, expires_at, used_at, state):
        assert domain.unlock_link_state(expires_at=expires_at, used_at=used_at, now=self.NOW) is state

    def test_short_lived(self):
        assert timedelta(minutes=30) == domain.UNLOCK_LINK_LIFETIME
