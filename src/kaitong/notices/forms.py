"""The high-spend alert's form: one amount in RMB, two decimals at most."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

# Twelve digits, two of them decimals (the column); a threshold beyond this alerts nobody anyway.
MAX_THRESHOLD = Decimal("9999999999.99")


class SpendThresholdForm(forms.Form):
    threshold = forms.DecimalField(
        label=_("预警阈值（元）"),
        min_value=Decimal("0.01"),
        max_value=MAX_THRESHOLD,
        max_digits=12,
        decimal_places=2,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": _("例如 500")}),
        error_messages={
            "required": _("请输入预警阈值；不需要预警时请点「关闭预警」。"),
            "invalid": _("请输入金额（元），例如 500 或 1200.50。"),
            "min_value": _("预警阈值至少为 ¥0.01。"),
            "max_value": _("预警阈值不能超过 ¥9,999,999,999.99。"),
            "max_digits": _("预警阈值不能超过 ¥9,999,999,999.99。"),
            "max_whole_digits": _("预警阈值不能超过 ¥9,999,999,999.99。"),
            "max_decimal_places": _("金额最多保留两位小数。"),
        },
    )
