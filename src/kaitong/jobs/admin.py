"""Operator console: the tasks (django-tasks-db's admin, with a replay action and sealed arguments
masked) and the firings of periodic duties.

The tasks are shown through ``TaskRun``, this app's proxy of django-tasks-db's row, so that they are
listed under this app (任务) with this app's names instead of the package's English ones
("Tasks Database Backend", "Task Results"), which a third party's model cannot change.
"""

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
from kaitong.jobs.models import STATUS_LABELS, DutyRun, TaskRun
from kaitong.jobs.sealing import is_sealed
from kaitong.marketplace.admin import Labelled, ReadOnlyAdmin, choices_filter

SEALED_SHOWN_AS = "‹sealed›"

admin.site.unregister(DBTaskResult)


@admin.register(TaskRun)
class TaskAdmin(Labelled, DBTaskResultAdmin):
    list_display = ("id", "task_name", "state", "attempts", "run_after", "enqueued_at", "finished_at", "last_error")
    # The package declares its filters as names only; a filter class is as valid to Django.
    list_filter = (choices_filter("status", _("状态"), STATUS_LABELS.items()), "task_path", "queue_name")  # type: ignore[assignment]
    search_fields = ["id", "task_path"]
    search_help_text = _("按任务 ID 或任务路径查找")
    actions = ["replay"]
    labels = {
        "id": _("任务 ID"),
        "task_name": _("任务名称"),
        "enqueued_at": _("入队时间"),
        "started_at": _("开始时间"),
        "finished_at": _("结束时间"),
        "priority": _("优先级"),
        "task_path": _("任务路径"),
        "worker_ids": _("执行者"),
        "queue_name": _("队列"),
        "backend_name": _("后端"),
        "run_after": _("计划执行时间"),
        "display_run_after": _("计划执行时间"),
        "return_value": _("返回值"),
        "exception_class_path": _("异常类型"),
        "formatted_traceback": _("错误堆栈"),
    }

    def get_readonly_fields(self, request: HttpRequest, obj: DBTaskResult | None = None) -> list[str]:
        fields = super().get_readonly_fields(request, obj)
        # The arguments as stored, but a sealed one (a verification code's envelope) is never shown.
        fields[fields.index("args_kwargs")] = "arguments"
        fields[fields.index("status")] = "state"
        return fields

    @admin.display(description=_("状态"), ordering="status")
    def state(self, obj: DBTaskResult) -> str:
        return str(STATUS_LABELS.get(obj.status, obj.status))

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
    search_help_text = _("按周期任务或时段查找")
