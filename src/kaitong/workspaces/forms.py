from __future__ import annotations

from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class ConsoleSignInForm(AuthenticationForm):
    """Username/password sign-in; usernames are stored lower-case, so the typed one is lowered first."""

    error_messages = {
        "invalid_login": _("用户名或密码错误"),
        "inactive": _("该账号已停用"),
    }

    def clean_username(self) -> str:
        return str(self.cleaned_data.get("username", "")).strip().lower()
