from __future__ import annotations

from django.db import models


class Job(models.Model):
    """A durable unit of follow-up work, written in the transaction of the change that needs it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"  # gave up after max_attempts; an operator can replay it from the admin

    kind = models.CharField(max_length=64, db_index=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    run_after = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    last_error = models.TextField(blank=True)
    # A claim expires, so a worker killed mid-job does not strand it: another worker takes it later.
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # Unique when set: enqueueing the same logical job twice (a periodic duty, a retry) is a no-op.
    dedup_key = models.CharField(max_length=128, null=True, blank=True, unique=True)

    class Meta:
        indexes = [models.Index(fields=["status", "run_after"], name="outbox_due")]
        ordering = ["run_after", "id"]

    def __str__(self) -> str:
        return f"{self.kind}#{self.pk} {self.status}"
