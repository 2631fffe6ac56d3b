from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kaitong.accounts import actions as account_actions
from kaitong.config.http import client_ip


class ConsoleSignInForm(AuthenticationForm):
    """Username/password sign-in; usernames are stored lower-case, so the typed one is lowered first."""

    error_messages = {
        "invalid_login": _("用户名或密码错误"),
        "inactive": _("该账号已停用"),
        "throttled": _("登录失败次数过多，请一小时后再试"),
    }

    def clean_username(self) -> str:
        return str(self.cleaned_data.get("username", "")).strip().lower()

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username", ""))
        ip = client_ip(self.request)
        now = timezone.now()
        try:
            account_actions.check_sign_in_allowed(username=username, ip=ip, now=now)
        except account_actions.TooManyAttempts:
            raise ValidationError(self.error_messages["throttled"], code="throttled") from None
        try:
            return super().clean()
        except ValidationError as error:
            if error.code == "invalid_login":
                account_actions.do_count_failed_sign_in(username=username, ip=ip, now=now)
            raise
