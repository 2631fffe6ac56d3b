"""解散 (dissolve): the owner types the workspace's name to confirm, as a guard against a slip of the hand."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class DissolveForm(forms.Form):
    name = forms.CharField(
        label=_("请输入工作空间名称以确认解散"),
        max_length=64,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={"required": _("请输入工作空间名称")},
    )
