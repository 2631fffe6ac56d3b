"""``kaitong worker``: django-tasks-db's worker, wrapped so that it outlives the database going away,
plus the scheduler of periodic duties in a thread beside it.

When the database is unavailable (PostgreSQL restarting, SQLite's write lock held by another process
past ``busy_timeout``) anywhere — claiming a task, inside one, recording its outcome, the scheduler —
the worker logs it once, tries again after 1 s, 2 s, 4 s … (at most 30 s apart), logs when the database
answers again, and carries on: it records the outcome of a task the outage interrupted (a sent email is
not sent twice) and goes back to claiming. It never exits on a database error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from kaitong.jobs import domain, scheduler
from kaitong.jobs.framework import DEFAULT_TASK_BACKEND_ALIAS
from kaitong.jobs.models import DATABASE_DOWN, TaskRun

log = logging.getLogger("kaitong.jobs")
SCHEDULER_SECONDS = 5.0


def database_answers() -> None:
    """Raise unless the database takes a write transaction now (SQLite: its write lock is free)."""
    for connection in connections.all(initialized_only=True):
        with contextlib.suppress(DatabaseError):
            connection.close()
    with transaction.atomic(), connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


class Outage:
    """The database being unavailable, as the worker and the scheduler see it together: logged once
    when it begins and once when it ends, however many of them wait it out."""

    def __init__(self, *, probe: Callable[[], None] = database_answers, sleep: Callable[[float], None] = time.sleep):
        self.probe, self.sleep = probe, sleep
        self._lock = threading.Lock()
        self._since: float | None = None

    def ride_out(self, error: BaseException) -> None:
        """Wait, backing off, until the database answers again."""
        delay = domain.RECONNECT_FIRST_SECONDS
        with self._lock:
            if self._since is None:
                self._since = time.monotonic()
                log.warning(
                    "database unavailable (%s): retrying in %g s, backing off to every %g s",
                    _first_line(error),
                    delay,
                    domain.RECONNECT_LONGEST_SECONDS,
                )
        while True:
            self.sleep(delay)
            try:
                self.probe()
            except DATABASE_DOWN:
                delay = domain.next_reconnect_delay(delay)
                continue
            break
        with self._lock:
            if self._since is not None:
                log.warning("database is back after %.0f s; carrying on", time.monotonic() - self._since)
                self._since = None


class ResilientWorker(Worker):
    """django-tasks-db's ``Worker`` that records outcomes through ``TaskRun`` (retries, sealed
    arguments) and rides out database outages instead of exiting."""

    def __init__(self, *, outage: Outage, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.outage = outage
        # The task being run; still set after run_task only if an outage interrupted it.
        self.interrupted: TaskRun | None = None

    def run(self) -> None:
        while self.running:
            try:
                self.finish_interrupted()
                super().run()
                return
            except DATABASE_DOWN as error:
                self.startup_delay = False
                self.outage.ride_out(error)

    def run_task(self, db_task_result: DBTaskResult) -> None:
        run = TaskRun.adopt(db_task_result)
        self.interrupted = run
        super().run_task(run)
        self.interrupted = None

    def finish_interrupted(self) -> None:
        """Write the outcome the outage kept from being written (or, with none, make the task due)."""
        run = self.interrupted
        if run is None:
            return
        if run.outcome is not None:
            run.outcome()
        else:
            run.release()
        self.interrupted = None


class SchedulerThread(threading.Thread):
    """``scheduler.tick`` every few seconds, beside the worker, with its own database connection."""

    def __init__(self, *, outage: Outage, lease: timedelta, every: float = SCHEDULER_SECONDS) -> None:
        super().__init__(name="kaitong-scheduler", daemon=True)
        self.outage, self.lease, self.every = outage, lease, every
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    scheduler.tick(now=timezone.now(), lease=self.lease)
                except DATABASE_DOWN as error:
                    self.outage.ride_out(error)
                    continue
                except Exception:
                    log.exception("the scheduler's tick failed; it runs again in %g s", self.every)
                self.stopping.wait(self.every)
        finally:
            connections.close_all()


def worker_id() -> str:
    """Unique across the pool and telling an operator where a task ran: host, process, a random tail."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"


def run_worker(*, interval: float = 1.0) -> None:
    """Run tasks of every queue and the scheduler until SIGINT or SIGTERM (a running task finishes)."""
    outage = Outage()
    ticker = SchedulerThread(outage=outage, lease=timedelta(seconds=settings.ENV.job_lease_seconds))
    worker = ResilientWorker(
        outage=outage,
        queue_names=["*"],
        excluded_queue_names=[],
        interval=interval,
        batch=False,
        backend_name=DEFAULT_TASK_BACKEND_ALIAS,
        startup_delay=True,
        max_tasks=None,
        worker_id=worker_id(),
    )
    worker.configure_signals()
    ticker.start()
    try:
        worker.run()
    finally:
        ticker.stopping.set()
