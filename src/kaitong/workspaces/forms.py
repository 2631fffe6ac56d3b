from __future__ import annotations

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kaitong.accounts import actions as account_actions
from kaitong.config.http import client_ip

_THROTTLED = _("登录失败次数过多，请 %(m)s 分钟后再试")


class _CountedSignIn(AuthenticationForm):
    """A sign-in counted as failed before its password is checked, and given back when the password
    proves right, so guesses sent at the same moment never get more checks than the hourly limits
    (per username and per client address). ``retry_after`` (seconds) is set when the sign-in was
    refused for too many failures; the view answers 429 with it."""

    retry_after: int | None = None

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username", ""))
        if not username or not self.cleaned_data.get("password"):
            return super().clean()  # a missing field: no password is checked, nothing to count
        ip = client_ip(self.request)
        now = timezone.now()
        try:
            account_actions.do_take_sign_in_attempt(username=username, ip=ip, now=now)
        except account_actions.TooManyAttempts as exc:
            self.retry_after = exc.retry_after
            minutes = max(1, (exc.retry_after + 59) // 60)
            raise ValidationError(_THROTTLED, code="throttled", params={"m": minutes}) from None
        failed = False
        try:
            return super().clean()
        except ValidationError as error:
            failed = error.code == "invalid_login"
            raise
        finally:
            if not failed:  # the password was right (or was never compared): no failure to count
                account_actions.do_give_back_sign_in_attempt(username=username, ip=ip, now=now)


class ConsoleSignInForm(_CountedSignIn):
    """Username/password sign-in; usernames are stored lower-case, so the typed one is lowered first."""

    error_messages = {
        "invalid_login": _("用户名或密码错误"),
        "inactive": _("该账号已停用"),
    }

    def clean_username(self) -> str:
        return str(self.cleaned_data.get("username", "")).strip().lower()


class OperatorSignInForm(_CountedSignIn, AdminAuthenticationForm):
    """The operator console's sign-in (/ops/), under the same limits as the console's."""

    def clean_username(self) -> str:
        return str(self.cleaned_data.get("username", "")).strip().lower()
