"""Retries, which django-tasks leaves out: how many attempts a task gets, and how it asks to run later.

A task that raises is run again after ``domain.retry_delay`` until it has had its attempts (8, or what
``@retried`` gives it); then it stays FAILED and an operator can replay it. One that raises ``GiveUp``
is FAILED at once. A task that raises ``RetryLater`` has not failed: its run is recorded as done and
the same call is queued again for ``at`` (a new task, with a fresh count of attempts). ``TaskRun`` in
``models.py`` applies these rules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

DEFAULT_ATTEMPTS = 8

F = TypeVar("F", bound=Callable[..., object])
# Attempts by task path (module.function), which is what a task row stores.
_attempts: dict[str, int] = {}


class GiveUp(Exception):
    """A failure another attempt cannot mend: the task is FAILED at once, whatever attempts remain."""


class RetryLater(Exception):
    """Not now (a rate limit, records another process holds): run this task again at ``at``."""

    def __init__(self, message: str, *, at: datetime) -> None:
        super().__init__(message)
        self.at = at


def retried(*, attempts: int) -> Callable[[F], F]:
    """Give the function under ``@task`` this many attempts instead of ``DEFAULT_ATTEMPTS``::

    @task()
    @retried(attempts=12)
    def send_email(...): ...
    """
    if attempts < 1:
        raise ValueError("a task needs at least one attempt")

    def mark(function: F) -> F:
        _attempts[f"{function.__module__}.{function.__qualname__}"] = attempts
        return function

    return mark


def attempts_for(task_path: str) -> int:
    return _attempts.get(task_path, DEFAULT_ATTEMPTS)
