"""How the billing center writes money, prices and quantities (pure rules, both languages alike)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaitong.billing import formatting


class TestMoney:
    @pytest.mark.parametrize(
        ("amount", "shown"),
        [
            ("0", "¥0.00"),
            ("0.00", "¥0.00"),
            ("3", "¥3.00"),
            ("1.5", "¥1.50"),
            ("1234.5", "¥1,234.50"),
            ("1234567.89", "¥1,234,567.89"),
            ("999.99", "¥999.99"),
            ("1000", "¥1,000.00"),
            ("-12.5", "-¥12.50"),
        ],
    )
    def test_yuan_sign_two_decimals_thousands_grouped(self, amount, shown):
        assert formatting.money(Decimal(amount)) == shown

    def test_finer_than_a_cent_is_cut_down_never_rounded_up(self):
        # A page never shows more than a bill charges (bills truncate to the cent).
        assert formatting.money(Decimal("0.019")) == "¥0.01"
        assert formatting.money(Decimal("1234.999")) == "¥1,234.99"

    def test_no_negative_zero(self):
        assert formatting.money(Decimal("-0.001")) == "¥0.00"
        assert formatting.money(Decimal("-0")) == "¥0.00"


class TestPrices:
    def test_the_precision_of_a_list_is_its_finest_price(self):
        # cn-2023-04 as the database stores it (four places): its finest price is 0.007.
        stored = [Decimal(p) for p in ("0.6000", "3.0000", "1.5000", "0.0070", "10.0000")]
        assert formatting.price_decimals(stored) == 3

    def test_never_fewer_than_two_decimals(self):
        assert formatting.price_decimals([Decimal("3.0000"), Decimal("10")]) == 2
        assert formatting.price_decimals([Decimal("0.5")]) == 2
        assert formatting.price_decimals([]) == 2

    def test_every_price_of_a_list_has_the_same_decimals(self):
        # The bug: "3" next to "1.5000".
        shown = [formatting.price(Decimal(p), 3) for p in ("3.0000", "1.5000", "0.0070", "1234.5")]
        assert shown == ["¥3.000", "¥1.500", "¥0.007", "¥1,234.500"]

    def test_decimals_of(self):
        assert formatting.decimals_of(Decimal("1.5000")) == 1
        assert formatting.decimals_of(Decimal("3.0000")) == 0
        assert formatting.decimals_of(Decimal("1E+3")) == 0
        assert formatting.decimals_of(Decimal("0.000001")) == 6


class TestQuantities:
    @pytest.mark.parametrize(
        ("value", "shown"),
        [
            ("16.060000", "16.06"),  # the bug: "16.060000"
            ("16060000.000000", "16,060,000"),
            ("2.00", "2"),
            ("2.5", "2.5"),
            ("0E-6", "0"),
            ("0.000001", "0.000001"),
            ("1016.06", "1,016.06"),
            ("1E+3", "1,000"),
        ],
    )
    def test_no_trailing_zeros_thousands_grouped(self, value, shown):
        assert formatting.quantity(Decimal(value)) == shown

    @given(st.decimals(min_value=0, max_value=Decimal(10) ** 17, places=6, allow_nan=False))
    def test_the_digits_shown_are_the_value(self, value):
        text = formatting.quantity(value)
        assert Decimal(text.replace(",", "")) == value
        assert not ("." in text and text.endswith("0"))
        whole = text.split(".")[0]
        assert all(len(group) == 3 for group in whole.split(",")[1:]) and 1 <= len(whole.split(",")[0]) <= 3

    @given(st.decimals(min_value=0, max_value=Decimal(10) ** 15, places=2, allow_nan=False))
    def test_money_shows_the_amount_exactly(self, amount):
        text = formatting.money(amount)
        assert text.startswith("¥") and len(text.split(".")[1]) == 2
        assert Decimal(text[1:].replace(",", "")) == amount
