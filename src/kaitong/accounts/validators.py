"""Password validators of settings.AUTH_PASSWORD_VALIDATORS beyond Django's own (see domain's policy)."""

from __future__ import annotations

from typing import Any

import zxcvbn
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from kaitong.accounts import domain


class GuessablePasswordValidator:
    """Refuse a password that an attacker's ordered guesses reach early: zxcvbn's estimate of the
    guesses it takes (a common or breached password, a word or name with digits, repeats, sequences,
    keyboard walks, dates, and the username or email) is below PASSWORD_MIN_GUESSES.

    This is a blocklist by rule rather than by list (NIST SP 800-63B-4 asks for "commonly used,
    expected, or compromised" values), not a composition rule: no kind of character is required.
    """

    def validate(self, password: str, user: Any = None) -> None:
        hints = [str(getattr(user, name, "") or "") for name in ("username", "email")] if user else []
        estimate = zxcvbn.zxcvbn(password[: domain.GUESS_CHECK_MAX], user_inputs=[h for h in hints if h])
        if estimate["guesses"] < domain.PASSWORD_MIN_GUESSES:
            raise ValidationError(self.get_help_text(), code="password_too_guessable")

    def get_help_text(self) -> str:
        return _("密码不能容易被猜到（如常见密码、重复或连续的字符、键盘序列、日期）")
