"""Operator console: the tasks (django-tasks-db's admin, with a replay action and sealed arguments
masked) and the firings of periodic duties."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

from kaitong.jobs import actions
from kaitong.jobs.models import DutyRun
from kaitong.jobs.sealing import is_sealed
from kaitong.marketplace.admin import ReadOnlyAdmin

SEALED_SHOWN_AS = "‹sealed›"

admin.site.unregister(DBTaskResult)


@admin.register(DBTaskResult)
class TaskAdmin(DBTaskResultAdmin):
    list_display = ("id", "task_name", "status", "attempts", "run_after", "enqueued_at", "finished_at", "last_error")
    list_filter = ("status", "task_path", "queue_name")
    search_fields = ["id", "task_path"]
    actions = ["replay"]

    def get_readonly_fields(self, request: HttpRequest, obj: DBTaskResult | None = None) -> list[str]:
        fields = super().get_readonly_fields(request, obj)
        # The arguments as stored, but a sealed one (a verification code's envelope) is never shown.
        fields[fields.index("args_kwargs")] = "arguments"
        return fields

    @admin.display(description=_("参数"))
    def arguments(self, obj: DBTaskResult) -> str:
        kwargs = {
            name: SEALED_SHOWN_AS if is_sealed(name) else value for name, value in obj.args_kwargs["kwargs"].items()
        }
        return json.dumps({"args": obj.args_kwargs["args"], "kwargs": kwargs}, ensure_ascii=False, indent=1)

    @admin.display(description=_("尝试次数"))
    def attempts(self, obj: DBTaskResult) -> int:
        return len(obj.worker_ids)

    @admin.display(description=_("最近错误"))
    def last_error(self, obj: DBTaskResult) -> str:
        lines = obj.traceback.strip().splitlines()
        return lines[-1][:200] if lines else ""

    @admin.action(description=_("重新执行失败的任务"))
    def replay(self, request: HttpRequest, queryset: QuerySet[DBTaskResult]) -> None:
        now, replayed, skipped = timezone.now(), 0, 0
        for pk in queryset.values_list("pk", flat=True):
            try:
                actions.do_replay_task(task_id=str(pk), now=now)
                replayed += 1
            except actions.NotReplayable:
                skipped += 1
        text = gettext("已重新排队 %(n)d 个任务。") % {"n": replayed}
        if skipped:
            text += " " + gettext("%(n)d 个任务未失败，未处理。") % {"n": skipped}
        messages.success(request, text)


@admin.register(DutyRun)
class DutyRunAdmin(ReadOnlyAdmin):
    list_display = ["duty", "slot", "fired_at", "task_id"]
    list_filter = ["duty"]
    search_fields = ["duty", "slot"]
