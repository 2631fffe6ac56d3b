"""A username, once registered, cannot change: the database itself refuses (reliability C.14)."""

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from kaitong.accounts import actions
from kaitong.accounts.models import BillingAccount, ConsoleAccount

pytestmark = pytest.mark.django_db


def register(username: str, email: str) -> BillingAccount:
    return actions.do_register_verified_console_account(
        username=username, password_hash="!", email=email, enterprise_name="", now=timezone.now()
    )


def test_billing_account_username_cannot_change():
    account = register("alice", "a@example.com")
    with pytest.raises(DatabaseError), transaction.atomic():
        BillingAccount.objects.filter(pk=account.pk).update(username="mallory")
    account.refresh_from_db()
    assert account.username == "alice"
    # Other fields still change freely.
    BillingAccount.objects.filter(pk=account.pk).update(enterprise_name="Alice Co.")
    assert BillingAccount.objects.get(pk=account.pk).enterprise_name == "Alice Co."


def test_console_account_username_cannot_change():
    user = register("bob01", "b@example.com").console_account
    assert user is not None
    with pytest.raises(DatabaseError), transaction.atomic():
        ConsoleAccount.objects.filter(pk=user.pk).update(username="eve01")
    user.refresh_from_db()
    assert user.username == "bob01"
    user.email = "new@example.com"
    user.save()
