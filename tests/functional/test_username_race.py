"""Twenty simultaneous registrations of one username: the UNIQUE constraint lets exactly one through."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from kaitong.accounts import actions
from kaitong.accounts.models import BillingAccount, ConsoleAccount

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgresql():  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent writers")


def test_one_winner_and_every_loser_told_the_name_is_taken():
    outcomes: list[str] = []
    barrier = threading.Barrier(20)

    def register(i: int) -> None:
        try:
            barrier.wait()
            actions.do_register_verified_console_account(
                username="Racer",
                password_hash="!",
                email=f"racer{i}@race.example",
                enterprise_name="",
                now=timezone.now(),
            )
            outcomes.append("created")
        except actions.UsernameTaken:
            outcomes.append("taken")
        except Exception as exc:  # anything else is a bug, recorded for the assertion
            outcomes.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=register, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] + ["taken"] * 19
    assert ConsoleAccount.objects.filter(username="racer").count() == 1
    assert BillingAccount.objects.filter(username="racer").count() == 1
