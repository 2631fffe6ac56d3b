"""Operator console: the price list, daily bills, and the metering ledger with its repair actions."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kaitong.billing import repair
from kaitong.billing.models import (
    ClosedDay,
    DailyBill,
    DailyBillLine,
    MeteringEvent,
    MeteringRecord,
    PriceItem,
    PriceList,
    PushBreaker,
)
from kaitong.marketplace.admin import ReadOnlyAdmin, ReadOnlyInline


@admin.register(PushBreaker)
class PushBreakerAdmin(ReadOnlyAdmin):
    """Whether pushing is paused because the Market API does not answer, and when it probes next."""

    list_display = ["name", "state", "failures", "probes", "opened_at", "retry_at", "reason", "updated_at"]
    exclude = ["claim_token"]


class PriceItemInline(admin.TabularInline):
    model = PriceItem
    extra = 0


@admin.register(PriceList)
class PriceListAdmin(admin.ModelAdmin):
    """A new version is added with a future ``effective_from``; a list in use is never edited."""

    list_display = ["version", "effective_from", "currency", "note"]
    inlines = [PriceItemInline]


@admin.register(ClosedDay)
class ClosedDayAdmin(ReadOnlyAdmin):
    list_display = ["day", "closed_at", "bills", "records", "total", "price_list"]


class DailyBillLineInline(ReadOnlyInline):
    model = DailyBillLine
    readonly_fields = ["item", "quantity", "units", "retention_days", "price", "fee"]


@admin.register(DailyBill)
class DailyBillAdmin(ReadOnlyAdmin):
    list_display = ["day", "workspace", "total", "settlement", "instance_id"]
    list_filter = ["day", "settlement"]
    search_fields = ["instance_id", "workspace__name"]
    inlines = [DailyBillLineInline]


class MeteringEventInline(ReadOnlyInline):
    model = MeteringEvent
    readonly_fields = ["at", "from_state", "to_state", "detail"]


def _refusal(exc: repair.NotRetryable) -> str:
    """The operator's words for a repair the ledger's transition table refuses."""
    if not exc.record_state:
        return gettext("记录 %(id)s 不存在。") % {"id": exc.record_id}
    state = MeteringRecord.State(exc.record_state).label
    return gettext("记录 %(id)s 的状态是「%(state)s」，不能这样处理。") % {"id": exc.record_id, "state": state}


@admin.register(MeteringRecord)
class MeteringRecordAdmin(ReadOnlyAdmin):
    list_display = ["day", "instance_id", "amount_cents", "state", "reason", "attempts", "alarm_at", "answered_at"]
    list_filter = ["state", "day", ("alarm_at", admin.EmptyFieldListFilter), "product_code"]
    search_fields = ["instance_id", "reason", "request_id"]
    inlines = [MeteringEventInline]
    actions = ["retry_rejected", "unknown_was_received", "unknown_not_received"]

    def _each(self, request, queryset, function, **kwargs):  # type: ignore[no-untyped-def]
        now, done, refused = timezone.now(), 0, []
        for pk in queryset.values_list("pk", flat=True):
            try:
                function(record_id=pk, now=now, acting=request.user.get_username(), **kwargs)
                done += 1
            except repair.NotRetryable as exc:
                refused.append(_refusal(exc))
        if done:
            messages.success(request, gettext("已更新 %(count)d 条记录。") % {"count": done})
        for message in refused[:20]:
            messages.warning(request, message)

    @admin.action(description=_("重新推送被拒绝的记录（请先排除原因）"))
    def retry_rejected(self, request, queryset):  # type: ignore[no-untyped-def]
        self._each(request, queryset, repair.do_retry_metering_record)

    @admin.action(description=_("结果未知 → 已收到（云市场账单上有）"))
    def unknown_was_received(self, request, queryset):  # type: ignore[no-untyped-def]
        self._each(request, queryset, repair.do_resolve_unknown_record, received=True)

    @admin.action(description=_("结果未知 → 未收到（重新推送）"))
    def unknown_not_received(self, request, queryset):  # type: ignore[no-untyped-def]
        self._each(request, queryset, repair.do_resolve_unknown_record, received=False)
