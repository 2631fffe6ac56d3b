"""The engine's own rows: one per firing of a periodic duty; and the task rows of django-tasks-db seen
through ``TaskRun``, which records a run's outcome the way this project needs it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from traceback import format_exception
from typing import Any

from django.db import InterfaceError, OperationalError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tasks_db.models import DBTaskResult

from kaitong.jobs import domain
from kaitong.jobs.framework import TaskResultStatus
from kaitong.jobs.retries import GiveUp, RetryLater, attempts_for
from kaitong.jobs.sealing import without_sealed

log = logging.getLogger("kaitong.jobs")
# What a database that is down (PostgreSQL restarting, SQLite's write lock held past busy_timeout)
# raises through Django. The worker rides these out; they are never a task's fault alone.
DATABASE_DOWN = (OperationalError, InterfaceError)


# The framework's own labels of these states have no Chinese.
STATUS_LABELS = {
    TaskResultStatus.READY: _("待执行"),
    TaskResultStatus.RUNNING: _("执行中"),
    TaskResultStatus.SUCCESSFUL: _("成功"),
    TaskResultStatus.FAILED: _("失败"),
}


class LeaseExpired(Exception):
    """The worker that took the task did not finish it within the lease: it died, or hangs."""


class DutyRun(models.Model):
    """One firing of a periodic duty: the (duty, slot) pair is UNIQUE and is written in the transaction
    that queues the duty's task, so however many workers' schedulers look, each slot fires once."""

    duty = models.CharField(_("周期任务"), max_length=64)
    slot = models.CharField(_("时段"), max_length=64)
    fired_at = models.DateTimeField(_("触发时间"))
    task_id = models.UUIDField(_("任务"), null=True, blank=True)

    class Meta:
        verbose_name = _("周期任务触发")
        verbose_name_plural = _("周期任务触发")
        ordering = ["-fired_at"]
        constraints = [models.UniqueConstraint(fields=["duty", "slot"], name="jobs_duty_fires_once_per_slot")]

    def __str__(self) -> str:
        return f"{self.duty} @ {self.slot}"


class TaskRun(DBTaskResult):
    """A task row, recorded by the engine's rules instead of django-tasks-db's bare ones.

    The django-tasks-db worker calls ``set_successful`` or ``set_failed`` when a task returns or raises;
    here a failure is retried with backoff while attempts remain (``retries.py``), ``RetryLater``
    queues the same call for later, and a finished task keeps no sealed argument (``sealing.py``).
    """

    # The outcome being recorded; if the database refused it, the worker records it once it is back.
    outcome: Callable[[], None] | None = None

    class Meta:
        proxy = True
        verbose_name = _("任务")
        verbose_name_plural = _("任务")

    def __str__(self) -> str:
        # The operator console's title of a task (the package's own is "DBTaskResult object (…)").
        return f"{self.task_name} ({self.pk})"

    @classmethod
    def adopt(cls, result: DBTaskResult) -> TaskRun:
        """The same row seen through this proxy, without reading it again."""
        run = cls.__new__(cls)
        run.__dict__.update(result.__dict__)
        return run

    @property
    def attempts(self) -> int:
        """Runs so far, this one included: each claim adds the worker's id (the framework's own count)."""
        return len(self.worker_ids)

    def set_successful(self, return_value: Any) -> None:
        self.outcome = partial(self._succeed, return_value)
        self.outcome()

    def set_failed(self, exc: BaseException) -> None:
        if self.outcome is not None and isinstance(exc, DATABASE_DOWN):
            # The task is done; only writing its outcome failed. The outcome stands: the worker writes
            # it when the database is back (running the task again would send its email twice).
            raise exc
        self.outcome = partial(self._fail, exc)
        self.outcome()

    def release(self) -> None:
        """Make the task due again now (its run was interrupted before it had an outcome)."""
        self._write(status=TaskResultStatus.READY, run_after=timezone.now())

    def _succeed(self, return_value: Any) -> None:
        self._write(
            status=TaskResultStatus.SUCCESSFUL,
            finished_at=timezone.now(),
            return_value=return_value,
            exception_class_path="",
            traceback="",
            args_kwargs=without_sealed(self.args_kwargs),
        )

    def _fail(self, exc: BaseException) -> None:
        now = timezone.now()
        if isinstance(exc, RetryLater):
            with transaction.atomic():
                later = self.task.using(run_after=max(exc.at, now)).enqueue(
                    *self.args_kwargs["args"], **self.args_kwargs["kwargs"]
                )
                self._write(
                    status=TaskResultStatus.SUCCESSFUL,
                    finished_at=now,
                    return_value={"retry_later": str(exc), "at": exc.at.isoformat(), "continued_by": later.id},
                    exception_class_path="",
                    traceback="",
                    args_kwargs=without_sealed(self.args_kwargs),
                )
            return
        error = {
            "exception_class_path": f"{type(exc).__module__}.{type(exc).__qualname__}",
            "traceback": "".join(format_exception(exc)),
            "return_value": None,
        }
        if self.attempts < attempts_for(self.task_path) and not isinstance(exc, GiveUp):
            # A task whose worker died is due at once (the lease made it wait already); a failure waits
            # its backoff. The last error stays on the row, for the admin, until the next try.
            wait = timedelta(0) if isinstance(exc, LeaseExpired) else domain.retry_delay(attempts=self.attempts)
            self._write(status=TaskResultStatus.READY, run_after=now + wait, **error)
            log.warning(
                "task %s (%s) failed, attempt %d of %d; again in %d s: %s",
                self.pk,
                self.task_path,
                self.attempts,
                attempts_for(self.task_path),
                wait.total_seconds(),
                f"{type(exc).__name__}: {exc}"[:300],
            )
        else:
            self._write(
                status=TaskResultStatus.FAILED,
                finished_at=now,
                args_kwargs=without_sealed(self.args_kwargs),
                **error,
            )

    def _write(self, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(self, name, value)
        self.save(update_fields=list(fields))
