"""Operator view of lock countdowns, their history and dissolved workspaces: read-only (actions write them)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from kaitong.countdown.models import Countdown, CountdownEvent, Dissolution
from kaitong.marketplace.admin import ReadOnlyAdmin, ReadOnlyInline

_EVENT_COLUMNS = ("at", "kind", "acting", "detail")


class CountdownEventInline(ReadOnlyInline):
    model = CountdownEvent
    fields = readonly_fields = _EVENT_COLUMNS
    ordering = ["at", "id"]


@admin.register(Countdown)
class CountdownAdmin(ReadOnlyAdmin):
    list_display = ["workspace", "cause", "instance_id", "started_at", "locks_at", "locked_at", "lifted_at", "lift"]
    list_filter = [
        "cause",
        "lift",
        ("lifted_at", admin.EmptyFieldListFilter),
        ("locked_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["workspace__id__exact", "workspace__name", "instance_id__exact"]
    search_help_text = _("按工作空间 ID 或名称、云市场实例 ID 查找")
    list_select_related = ["workspace"]
    date_hierarchy = "started_at"
    inlines = [CountdownEventInline]


@admin.register(CountdownEvent)
class CountdownEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "workspace", "kind", "acting", "detail"]
    list_filter = ["kind"]
    search_fields = ["workspace__id__exact", "workspace__name", "countdown__instance_id__exact", "acting"]
    search_help_text = _("按工作空间 ID 或名称、云市场实例 ID、操作者查找")
    list_select_related = ["workspace"]
    date_hierarchy = "at"


@admin.register(Dissolution)
class DissolutionAdmin(ReadOnlyAdmin):
    list_display = ["workspace", "name", "at", "acting"]
    search_fields = ["workspace__id__exact", "name"]
    search_help_text = _("按工作空间 ID 或名称查找")
    list_select_related = ["workspace"]
