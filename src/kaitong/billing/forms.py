"""The billing center's forms: 更改结算方式."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kaitong.workspaces.domain import Method

FORM_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
ALI_UID = re.compile(r"\d{1,64}")


class SettlementForm(forms.Form):
    """Pick a settlement method; Alibaba settlement names the account ID and the instance ID, as the seed's
    开通方式 step does (there they come filled in from the login-free entry; here the buyer types them)."""

    method = forms.ChoiceField(
        label=_("结算方式"),
        choices=[(Method.BILLING_ACCOUNT.value, _("费用中心账号结算")), (Method.ALIYUN.value, _("阿里云账号结算"))],
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择结算方式"), "invalid_choice": _("请选择结算方式")},
    )
    ali_uid = forms.CharField(
        label=_("阿里云账号 ID"),
        required=False,
        max_length=64,
        help_text=_("购买观测云的阿里云账号 ID（阿里云控制台右上角头像 → 账号 ID）"),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    instance_id = forms.CharField(
        label=_("商品实例 ID"),
        required=False,
        max_length=64,
        help_text=_("云市场「已购买的服务」中观测云的实例 ID"),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("method") != Method.ALIYUN.value:
            return data
        ali_uid, instance_id = data.get("ali_uid", "").strip(), data.get("instance_id", "").strip()
        if not ali_uid:
            self.add_error("ali_uid", _("请填写阿里云账号 ID"))
        elif not ALI_UID.fullmatch(ali_uid):
            self.add_error("ali_uid", _("阿里云账号 ID 由数字组成，请检查后重新填写"))
        if not instance_id:
            self.add_error("instance_id", _("请填写商品实例 ID"))
        data["ali_uid"], data["instance_id"] = ali_uid, instance_id
        return data
