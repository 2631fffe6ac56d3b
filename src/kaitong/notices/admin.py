"""Operator view of every notice sent about a workspace, read-only (only actions write them); the
recipient masked, as on the operator's timeline."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from kaitong.marketplace.admin import ReadOnlyAdmin
from kaitong.notices.domain import mask_recipient
from kaitong.notices.models import SentNotice


@admin.register(SentNotice)
class SentNoticeAdmin(ReadOnlyAdmin):
    list_display = ["queued_at", "workspace", "kind", "channel", "masked_recipient", "language", "state", "sent_at"]
    list_filter = ["kind", "channel", "state"]
    search_fields = ["workspace__id__exact", "workspace__name"]
    search_help_text = _("按工作空间 ID 或名称查找")
    list_select_related = ["workspace"]
    date_hierarchy = "queued_at"
    # Listed, so that the address itself is never shown.
    fields = ["workspace", "kind", "channel", "masked_recipient", "language", "state", "detail", "queued_at", "sent_at"]
    readonly_fields = ["masked_recipient"]

    @admin.display(description=_("收件人"))
    def masked_recipient(self, notice: SentNotice) -> str:
        return mask_recipient(notice.channel, notice.recipient)
