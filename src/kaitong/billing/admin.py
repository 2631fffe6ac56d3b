"""Operator console: the price list, daily bills, and the metering ledger with its repair actions."""

from django.contrib import admin, messages
from django.utils import timezone

from kaitong.billing import repair
from kaitong.billing.models import (
    ClosedDay,
    DailyBill,
    DailyBillLine,
    MeteringEvent,
    MeteringRecord,
    PriceItem,
    PriceList,
)
from kaitong.marketplace.admin import ReadOnlyAdmin, ReadOnlyInline


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
                refused.append(str(exc))
        if done:
            messages.success(request, f"{done} record(s) updated.")
        for message in refused[:20]:
            messages.warning(request, message)

    @admin.action(description="Retry rejected record(s) — after fixing the cause")
    def retry_rejected(self, request, queryset):  # type: ignore[no-untyped-def]
        self._each(request, queryset, repair.do_retry_metering_record)

    @admin.action(description="Unknown → received (found on the marketplace bill)")
    def unknown_was_received(self, request, queryset):  # type: ignore[no-untyped-def]
        self._each(request, queryset, repair.do_resolve_unknown_record, received=True)

    @admin.action(description="Unknown → not received (push again)")
    def unknown_not_received(self, request, queryset):  # type: ignore[no-untyped-def]
        self._each(request, queryset, repair.do_resolve_unknown_record, received=False)
