"""How a call refused before authentication is counted: under which source, action and day."""

from datetime import UTC, date, datetime

import pytest

from kaitong.marketplace import domain


class TestTallyRules:
    @pytest.mark.parametrize(
        ("address", "source"),
        [
            ("203.0.113.7", "203.0.113.7"),
            ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 client on a dual-stack socket
            ("2001:db8:0:1::1", "2001:db8:0:1::/64"),
            ("2001:db8:0:1:ffff:ffff:ffff:ffff", "2001:db8:0:1::/64"),
            ("", ""),
            ("not-an-address", "not-an-address"),
        ],
    )
    def test_source_is_the_address_or_its_ipv6_network(self, address, source):
        assert domain.tally_source(address) == source

    @pytest.mark.parametrize(
        ("action", "counted_as"),
        [
            ("createInstance", "createInstance"),
            ("releaseInstance", "releaseInstance"),
            ("verify", "(other)"),
            ("createInstance\n", "(other)"),
            ("x" * 500, "(other)"),
            ("", "(none)"),
            (None, "(unparsed)"),
        ],
    )
    def test_action_is_one_of_a_fixed_few(self, action, counted_as):
        assert domain.tally_action(action) == counted_as

    def test_the_day_and_the_wait_follow_beijing_time(self):
        evening_utc = datetime(2026, 11, 30, 16, 0, 0, tzinfo=UTC)  # 00:00 on 1 December in Beijing
        assert domain.tally_day(evening_utc) == date(2026, 12, 1)
        assert domain.seconds_until_next_day(evening_utc) == 24 * 3600
        assert domain.seconds_until_next_day(datetime(2026, 11, 30, 15, 59, 59, 900_000, tzinfo=UTC)) == 1
