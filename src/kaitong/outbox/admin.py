from django.contrib import admin, messages
from django.utils import timezone

from kaitong.outbox.actions import do_replay_job
from kaitong.outbox.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "attempts", "run_after", "last_error", "created_at"]
    list_filter = ["status", "kind"]
    readonly_fields = [f.name for f in Job._meta.fields]
    actions = ["replay"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    @admin.action(description="Replay failed jobs")
    def replay(self, request, queryset):  # type: ignore[no-untyped-def]
        now = timezone.now()
        for job in queryset.filter(status=Job.Status.FAILED):
            do_replay_job(job_id=job.pk, now=now)
        messages.success(request, "Replayed.")
