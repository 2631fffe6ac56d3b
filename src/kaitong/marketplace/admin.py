"""Operator view: instances and the raw inbox are read-only; only SPI calls change them."""

from django.contrib import admin
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from kaitong.marketplace.models import InstanceEvent, MarketplaceInstance, SpiCall


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class ReadOnlyInline(admin.TabularInline):
    """Rows shown under their parent, never added or deleted here (an action writes them)."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class InstanceEventInline(ReadOnlyInline):
    model = InstanceEvent
    readonly_fields = ["at", "action", "from_state", "to_state", "detail", "spi_call"]


class ReconciliationFilter(admin.SimpleListFilter):
    """Instances the reconciliation with the marketplace has flagged (reconciliation.py)."""

    title = _("与云市场核对")
    parameter_name = "reconcile"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [("flagged", _("待核对")), ("alarm", _("已告警（不一致）"))]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:  # type: ignore[no-untyped-def]
        if self.value() == "flagged":
            return queryset.filter(unreconciled_since__isnull=False)
        if self.value() == "alarm":
            return queryset.filter(drift_alarm_at__isnull=False)
        return queryset


@admin.register(MarketplaceInstance)
class MarketplaceInstanceAdmin(ReadOnlyAdmin):
    list_display = [
        "instance_id",
        "state",
        "ali_uid",
        "sku_id",
        "expires_at",
        "trial",
        "created_at",
        "unreconciled_since",
        "reconcile_note",
    ]
    list_filter = [ReconciliationFilter, "state", "trial", "product_code", "sku_id"]
    search_fields = ["instance_id", "ali_uid", "order_id"]
    date_hierarchy = "created_at"
    inlines = [InstanceEventInline]


@admin.register(SpiCall)
class SpiCallAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "action", "instance_id", "verdict", "message", "remote_addr"]
    list_filter = ["verdict", "action"]
    search_fields = ["instance_id", "message"]
    date_hierarchy = "received_at"
