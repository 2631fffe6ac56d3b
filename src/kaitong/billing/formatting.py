"""How the billing center writes numbers: money, prices, quantities. Pure: no Django, no locale state.

- Money is ``¥`` and exactly two decimals (``¥1,234.50``). Amounts are already truncated to the cent by
  the billing rules; anything finer is cut down, never rounded up, so a page never shows more than a
  bill charges.
- A price is written with the precision of its price list: every price of one list with the same number
  of decimals (``¥0.600``, ``¥3.000``, ``¥0.007`` for a list whose finest price is 0.007), at least two.
- Quantities and billed units carry no trailing zeros (``16.06``, ``2``, not ``16.060000``).
- Thousands are grouped with ``,`` and the decimal mark is ``.`` in Chinese and English alike (CLDR's
  zh and en agree), so the same digits are shown in both languages.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_DOWN, Decimal

CURRENCY = "¥"
MONEY_DECIMALS = 2
MIN_PRICE_DECIMALS = 2


def _fixed(value: Decimal, decimals: int) -> str:
    """``value`` cut down to ``decimals`` places, thousands grouped: 1234.5 → ``1,234.50``."""
    quantum = Decimal(1).scaleb(-decimals)
    cut = value.quantize(quantum, rounding=ROUND_DOWN)
    if cut.is_zero():
        cut = abs(cut)  # never "-0.00"
    return f"{cut:,f}"


def _in_yuan(text: str) -> str:
    return f"-{CURRENCY}{text[1:]}" if text.startswith("-") else f"{CURRENCY}{text}"


def money(amount: Decimal) -> str:
    """``¥`` and two decimals, grouped: Decimal("1234.5") → ``¥1,234.50``; negative → ``-¥1.00``."""
    return _in_yuan(_fixed(amount, MONEY_DECIMALS))


def decimals_of(value: Decimal) -> int:
    """How many decimals ``value`` needs once trailing zeros are gone: 1.5000 → 1, 3.0000 → 0."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def price_decimals(prices: Iterable[Decimal]) -> int:
    """The precision of a price list: the decimals its finest price needs, and never fewer than two."""
    return max([MIN_PRICE_DECIMALS, *(decimals_of(price) for price in prices)])


def price(value: Decimal, decimals: int) -> str:
    """A unit price at its list's precision: (Decimal("1.5"), 3) → ``¥1.500``."""
    return _in_yuan(_fixed(value, max(decimals, MIN_PRICE_DECIMALS)))


def quantity(value: Decimal) -> str:
    """A quantity or a count of billed units, grouped, without trailing zeros: 16060000.000000 →
    ``16,060,000``; 16.060000 → ``16.06``."""
    return _fixed(value, decimals_of(value))
