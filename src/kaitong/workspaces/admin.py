"""Operator view: workspaces and every change of how they settle, read-only (only actions write them)."""

from django.contrib import admin

from kaitong.marketplace.admin import ReadOnlyAdmin, ReadOnlyInline
from kaitong.workspaces.models import SettlementChange, Workspace

_CHANGE_COLUMNS = ("at", "reason", "from_method", "from_instance_id", "to_method", "to_instance_id", "acting")


class SettlementChangeInline(ReadOnlyInline):
    model = SettlementChange
    fields = readonly_fields = _CHANGE_COLUMNS
    ordering = ["-at", "-id"]


@admin.register(Workspace)
class WorkspaceAdmin(ReadOnlyAdmin):
    list_display = ["name", "billing_account", "settlement", "cloud_account", "language", "created_at"]
    list_filter = ["settlement", "language"]
    search_fields = ["name", "billing_account__username", "cloud_account__instance__instance_id"]
    list_select_related = ["billing_account", "cloud_account__instance"]
    exclude = ["token"]  # the workspace's DataKit credential: operators have no use for it
    inlines = [SettlementChangeInline]


@admin.register(SettlementChange)
class SettlementChangeAdmin(ReadOnlyAdmin):
    list_display = ["at", "workspace", *_CHANGE_COLUMNS[1:]]
    list_filter = ["reason", "to_method", "from_method"]
    search_fields = ["workspace__name", "from_instance_id", "to_instance_id", "acting"]
    list_select_related = ["workspace"]
    date_hierarchy = "at"
