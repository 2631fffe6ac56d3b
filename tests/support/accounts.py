"""Accounts built through the actions, as the product makes them."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.utils import timezone

from kaitong.accounts import actions
from kaitong.accounts.models import ConsoleAccount

OPERATOR_PASSWORD = "a-long-operator-password"


def operator(username: str = "ops") -> ConsoleAccount:
    """An operator of the operator console (/ops/)."""
    operator_id = actions.do_create_operator(
        username=username,
        email=f"{username}@example.com",
        password_hash=make_password(OPERATOR_PASSWORD),
        now=timezone.now(),
    )
    return ConsoleAccount.objects.get(pk=operator_id)
