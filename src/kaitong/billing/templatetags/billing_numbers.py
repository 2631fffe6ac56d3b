"""Template filters for the billing center's numbers; the rules are ``billing.formatting``'s (pure, tested there).

After ``{% load billing_numbers %}``: ``{{ bill.total|money }}`` → ¥1,234.50,
``{{ line.price|price:detail.price_decimals }}`` → ¥1.500, ``{{ line.quantity|quantity }}`` → 16,060,000.
"""

from __future__ import annotations

from decimal import Decimal

from django import template

from kaitong.billing import formatting

register = template.Library()


@register.filter
def money(value: Decimal | int | str) -> str:
    return formatting.money(Decimal(value))


@register.filter
def price(value: Decimal | int | str, decimals: int) -> str:
    return formatting.price(Decimal(value), int(decimals))


@register.filter
def quantity(value: Decimal | int | str) -> str:
    return formatting.quantity(Decimal(value))
