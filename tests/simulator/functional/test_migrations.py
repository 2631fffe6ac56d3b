"""The simulator's models and migrations agree (it is installed only in the test settings and its own)."""

from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_missing_simulator_migration() -> None:
    call_command("makemigrations", "simulator", "--check", "--dry-run", verbosity=0)
