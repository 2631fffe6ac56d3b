"""Operator view of the buyers' grants and the exclusive workspaces' SLS projects: read-only, and never
the secret (not even sealed): the grant's page shows the AccessKey ID masked and which way is used."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from kaitong.marketplace.admin import ReadOnlyAdmin
from kaitong.notices.labels import SLS_PROBLEMS
from kaitong.sls.domain import Problem, mask_key_id
from kaitong.sls.models import AliyunGrant, SlsStorage


@admin.register(AliyunGrant)
class AliyunGrantAdmin(ReadOnlyAdmin):
    # secret_key_id and secret_sealed are left out on purpose: the operator has no use for them.
    list_display = ["ali_uid", "method_label", "masked_key_id", "state", "problem_label", "verified_at", "checked_at"]
    fields = readonly_fields = (
        "ali_uid",
        "method_label",
        "masked_key_id",
        "role_name",
        "external_id",
        "state",
        "problem_label",
        "verified_at",
        "checked_at",
        "notified_at",
    )
    list_filter = ["state"]
    search_fields = ["ali_uid__exact"]
    search_help_text = _("按阿里云账号 ID 查找")

    @admin.display(description=_("授权方式"))
    def method_label(self, grant: AliyunGrant) -> str:
        return str(_("第三方快捷授权") if grant.method == "role" else _("RAM 账号授权"))

    @admin.display(description=_("问题"))
    def problem_label(self, grant: AliyunGrant) -> str:
        # The words the owner's notice uses, in the operator's language; never the stored code.
        if not grant.problem:
            return "-"
        known = grant.problem in Problem.__members__.values()
        return str(SLS_PROBLEMS[Problem(grant.problem)]) if known else grant.problem  # an unknown code as is

    @admin.display(description=_("AccessKey ID"))
    def masked_key_id(self, grant: AliyunGrant) -> str:
        return mask_key_id(grant.access_key_id) if grant.access_key_id else "-"


@admin.register(SlsStorage)
class SlsStorageAdmin(ReadOnlyAdmin):
    list_display = ["workspace", "ali_uid", "region", "project", "state", "adopted", "created_at", "ready_at"]
    list_filter = ["state", "region", "adopted"]
    search_fields = ["workspace__id__exact", "ali_uid__exact", "project"]
    search_help_text = _("按工作空间 ID、阿里云账号 ID 或 Project 查找")
    list_select_related = ["workspace"]
