"""Operator view: workspaces and every change of how they settle, read-only (only actions write them);
a workspace is found by its ID, name, owner, billing-center account, aliUid or instance, and links to them."""

from django.contrib import admin
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from kaitong.marketplace.admin import ReadOnlyAdmin, ReadOnlyInline, link_to
from kaitong.workspaces.models import SettlementChange, Workspace

_CHANGE_COLUMNS = ("at", "reason", "from_method", "from_instance_id", "to_method", "to_instance_id", "acting")


class SettlementChangeInline(ReadOnlyInline):
    model = SettlementChange
    fields = readonly_fields = _CHANGE_COLUMNS
    ordering = ["-at", "-id"]


@admin.register(Workspace)
class WorkspaceAdmin(ReadOnlyAdmin):
    list_display = ["id", "name", "account_link", "owner", "settlement", "cloud_account", "language", "created_at"]
    list_display_links = ["id", "name"]
    list_filter = ["settlement", "language"]
    search_fields = [
        # IDs whole: 12 finds workspace 12, not 112 nor an aliUid with 12 in it.
        "id__exact",
        "name",
        "billing_account__username",
        "billing_account__email",
        "owner__username",
        "owner__email",
        "cloud_account__ali_uid__exact",
        "cloud_account__instance__instance_id__exact",
    ]
    search_help_text = _("按工作空间 ID、名称、所有者或费用中心账号的用户名或邮箱、阿里云账号 ID、云市场实例 ID 查找")
    list_select_related = ["billing_account", "owner", "cloud_account__instance"]
    # Listed, so that the token (the workspace's DataKit credential) is never shown.
    fields = ["id", "name", "language", "owner", "billing_account", "settlement", "cloud_account", "created_at"]
    readonly_fields = ["id"]
    inlines = [SettlementChangeInline]
    labels = {"id": _("工作空间 ID"), "owner": _("所有者（控制台账号）")}

    @admin.display(description=_("费用中心账号"), ordering="billing_account__username")
    def account_link(self, workspace: Workspace) -> SafeString | str:
        return link_to(workspace.billing_account)


@admin.register(SettlementChange)
class SettlementChangeAdmin(ReadOnlyAdmin):
    list_display = ["at", "workspace", *_CHANGE_COLUMNS[1:]]
    list_filter = ["reason", "to_method", "from_method"]
    search_fields = ["workspace__id__exact", "workspace__name", "from_instance_id", "to_instance_id", "acting"]
    search_help_text = _("按工作空间 ID 或名称、云市场实例 ID、操作者查找")
    list_select_related = ["workspace"]
    date_hierarchy = "at"
