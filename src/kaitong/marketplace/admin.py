"""Operator view: instances and the raw inbox are read-only; only SPI calls change them."""

from django.contrib import admin

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


@admin.register(MarketplaceInstance)
class MarketplaceInstanceAdmin(ReadOnlyAdmin):
    list_display = ["instance_id", "state", "ali_uid", "sku_id", "expires_at", "trial", "created_at"]
    list_filter = ["state", "trial", "product_code", "sku_id"]
    search_fields = ["instance_id", "ali_uid", "order_id"]
    date_hierarchy = "created_at"
    inlines = [InstanceEventInline]


@admin.register(SpiCall)
class SpiCallAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "action", "instance_id", "verdict", "message", "remote_addr"]
    list_filter = ["verdict", "action"]
    search_fields = ["instance_id", "message"]
    date_hierarchy = "received_at"
