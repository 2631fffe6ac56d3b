"""The one module that names Django's tasks framework.

Django 6 ships it as ``django.tasks``; on Django 5.2 the ``django-tasks`` backport provides the same
API. Everything else imports ``task`` and friends from here, so moving to Django 6 is a settings change
(drop ``"django_tasks"`` from ``INSTALLED_APPS``, and the backport from the dependencies); the database
backend, ``django-tasks-db``, serves both.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING

if TYPE_CHECKING or find_spec("django.tasks") is None:
    from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, TaskResult, TaskResultStatus, task
    from django_tasks.base import Task
else:  # Django 6
    from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, Task, TaskResult, TaskResultStatus, task

__all__ = ["DEFAULT_TASK_BACKEND_ALIAS", "Task", "TaskResult", "TaskResultStatus", "task"]
