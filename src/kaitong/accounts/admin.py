"""Operator console: look up billing-center accounts, their cloud accounts and console accounts, read-only,
by username, email, aliUid, instance ID or workspace ID; each links to what it belongs to.

Secrets are never shown: the detail pages list their fields explicitly, so neither password hash is on
any page, and verification codes (stored as HMACs) have no page at all.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from kaitong.accounts.models import BillingAccount, CloudAccount, ConsoleAccount
from kaitong.marketplace.admin import EMPTY, ReadOnlyAdmin, ReadOnlyInline, link_to, list_of
from kaitong.workspaces.models import Workspace

# IDs are searched whole (``…__exact``): a workspace ID "12" must not find every aliUid with a 12 in it.
# A numeric column is compared as text (Django casts it), so a term that is no number is no error.
SEARCH_WORKSPACE_ID = "workspaces__id__exact"


def _count_link(model: type, count: int, **filters: object) -> SafeString | str:
    return list_of(model, count, **filters) if count else "0"


class CloudAccountInline(ReadOnlyInline):
    model = CloudAccount
    fields = readonly_fields = ("ali_uid", "instance", "instance_state", "created_at")
    labels = {"instance": _("云市场实例"), "created_at": _("登记时间")}

    def get_queryset(self, request: HttpRequest) -> QuerySet[CloudAccount]:
        return super().get_queryset(request).select_related("instance")

    @admin.display(description=_("实例状态"))
    def instance_state(self, cloud_account: CloudAccount) -> str:
        return cloud_account.instance.get_state_display()


class WorkspaceInline(ReadOnlyInline):
    model = Workspace
    fk_name = "billing_account"
    fields = readonly_fields = ("workspace_id", "name", "settlement", "cloud_account", "language", "created_at")
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Workspace]:
        return super().get_queryset(request).select_related("cloud_account__instance")

    @admin.display(description=_("工作空间 ID"))
    def workspace_id(self, workspace: Workspace) -> int:
        # A method: Django's inlines never show the primary key as a column.
        return workspace.pk


@admin.register(BillingAccount)
class BillingAccountAdmin(ReadOnlyAdmin):
    list_display = [
        "username",
        "email",
        "enterprise_name",
        "console_account",
        "cloud_accounts_link",
        "workspaces_link",
        "created_at",
    ]
    search_fields = [
        "username",
        "email",
        "cloud_accounts__ali_uid__exact",
        "cloud_accounts__instance__instance_id__exact",
        SEARCH_WORKSPACE_ID,
    ]
    search_help_text = _("按用户名、邮箱、阿里云账号 ID、云市场实例 ID 或工作空间 ID 查找")
    list_select_related = ["console_account"]
    ordering = ["-created_at", "-id"]
    date_hierarchy = "created_at"
    # Listed, so that the password hash is never shown.
    fields = [
        "username",
        "email",
        "phone",
        "enterprise_name",
        "industry",
        "console_account",
        "created_at",
        "cloud_accounts_link",
        "workspaces_link",
    ]
    readonly_fields = ["cloud_accounts_link", "workspaces_link"]
    inlines = [CloudAccountInline, WorkspaceInline]
    labels = {
        "phone": _("手机号"),
        "industry": _("行业"),
        "console_account": _("控制台账号"),
        "created_at": _("注册时间"),
    }

    def get_queryset(self, request: HttpRequest) -> QuerySet[BillingAccount]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                cloud_account_count=Count("cloud_accounts", distinct=True),
                workspace_count=Count("workspaces", distinct=True),
            )
        )

    @admin.display(description=_("云账号"), ordering="cloud_account_count")
    def cloud_accounts_link(self, account: BillingAccount) -> SafeString | str:
        return _count_link(CloudAccount, account.cloud_account_count, billing_account__id__exact=account.pk)  # type: ignore[attr-defined]

    @admin.display(description=_("工作空间"), ordering="workspace_count")
    def workspaces_link(self, account: BillingAccount) -> SafeString | str:
        return _count_link(Workspace, account.workspace_count, billing_account__id__exact=account.pk)  # type: ignore[attr-defined]


@admin.register(CloudAccount)
class CloudAccountAdmin(ReadOnlyAdmin):
    list_display = ["ali_uid", "instance", "instance_state", "billing_account", "workspaces_link", "created_at"]
    list_filter = ["instance__state"]
    search_fields = [
        "ali_uid__exact",
        "instance__instance_id__exact",
        "billing_account__username",
        "billing_account__email",
        SEARCH_WORKSPACE_ID,
    ]
    search_help_text = _("按阿里云账号 ID、云市场实例 ID、费用中心账号的用户名或邮箱、工作空间 ID 查找")
    list_select_related = ["instance", "billing_account"]
    ordering = ["-created_at", "-id"]
    fields = ["billing_account", "provider", "ali_uid", "instance", "instance_state", "created_at", "workspaces_link"]
    readonly_fields = ["instance_state", "workspaces_link"]
    labels = {
        "billing_account": _("费用中心账号"),
        "provider": _("云平台"),
        "instance": _("云市场实例"),
        "created_at": _("登记时间"),
    }

    def get_queryset(self, request: HttpRequest) -> QuerySet[CloudAccount]:
        return super().get_queryset(request).annotate(workspace_count=Count("workspaces", distinct=True))

    @admin.display(description=_("实例状态"), ordering="instance__state")
    def instance_state(self, cloud_account: CloudAccount) -> str:
        return cloud_account.instance.get_state_display()

    @admin.display(description=_("结算的工作空间"), ordering="workspace_count")
    def workspaces_link(self, cloud_account: CloudAccount) -> SafeString | str:
        return _count_link(Workspace, cloud_account.workspace_count, cloud_account__id__exact=cloud_account.pk)  # type: ignore[attr-defined]


@admin.register(ConsoleAccount)
class ConsoleAccountAdmin(ReadOnlyAdmin):
    list_display = [
        "username",
        "email",
        "billing_account_link",
        "workspaces_link",
        "is_staff",
        "is_active",
        "last_login",
        "date_joined",
    ]
    list_filter = ["is_staff", "is_active"]
    search_fields = [
        "username",
        "email",
        "billing_account__cloud_accounts__ali_uid__exact",
        "billing_account__cloud_accounts__instance__instance_id__exact",
        SEARCH_WORKSPACE_ID,
    ]
    search_help_text = _("按用户名、邮箱、阿里云账号 ID、云市场实例 ID 或所拥有的工作空间 ID 查找")
    list_select_related = ["billing_account"]
    ordering = ["-date_joined", "-id"]
    # Listed, so that the password hash is never shown.
    fields = [
        "username",
        "email",
        "phone",
        "language",
        "is_active",
        "is_staff",
        "is_superuser",
        "last_login",
        "date_joined",
        "billing_account_link",
        "workspaces_link",
    ]
    readonly_fields = ["billing_account_link", "workspaces_link"]
    labels = {"language": _("界面语言"), "is_staff": _("运营人员"), "is_superuser": _("超级运营人员")}

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConsoleAccount]:
        return super().get_queryset(request).annotate(workspace_count=Count("workspaces", distinct=True))

    @admin.display(description=_("费用中心账号"), ordering="billing_account__username")
    def billing_account_link(self, user: ConsoleAccount) -> SafeString | str:
        account = getattr(user, "billing_account", None)
        return link_to(account) if account is not None else EMPTY

    @admin.display(description=_("拥有的工作空间"), ordering="workspace_count")
    def workspaces_link(self, user: ConsoleAccount) -> SafeString | str:
        return _count_link(Workspace, user.workspace_count, owner__id__exact=user.pk)  # type: ignore[attr-defined]
