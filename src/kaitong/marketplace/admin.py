"""Operator view: instances and the raw inbox are read-only; only SPI calls change them.

What every page of the operator console shares lives here too: read-only admins and inlines, labels in
the operator's language for fields whose model has none (or an English one: a third party's model), list
filters under such a label, and links from one record to the records it belongs to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.utils import display_for_field
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from kaitong.marketplace.models import (
    InstanceEvent,
    MarketplaceInstance,
    ReconciliationResult,
    SpiCall,
    UnauthenticatedCallTally,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

EMPTY = "-"


class Labelled:
    """``labels`` name fields (or attributes) wherever the admin shows them: as list columns, as list
    filters, and on the detail page and in inlines (through the form's ``labels``, which Django's
    read-only fields honour too). ``help_texts`` replace a field's help text the same way.

    Why here and not on the models: a model field's ``verbose_name`` is migration state, and a third
    party's model (django-tasks-db's task row) cannot be changed at all.
    """

    labels: ClassVar[Mapping[str, StrOrPromise]] = {}
    help_texts: ClassVar[Mapping[str, StrOrPromise]] = {}
    model: type[models.Model]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs = {"labels": self.labels, "help_texts": self.help_texts, **kwargs}
        return super().get_form(request, obj, change, **kwargs)  # type: ignore[misc]

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        kwargs = {"labels": self.labels, "help_texts": self.help_texts, **kwargs}
        return super().get_formset(request, obj, **kwargs)  # type: ignore[misc]

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        columns, shown = self._labelled_columns, super().get_list_display(request)  # type: ignore[misc]
        return [columns.get(name, name) if isinstance(name, str) else name for name in shown]

    def get_list_display_links(self, request: HttpRequest, list_display: Any) -> Any:
        links = super().get_list_display_links(request, list_display)  # type: ignore[misc]
        columns = self._labelled_columns
        return [columns.get(name, name) if isinstance(name, str) else name for name in links] if links else links

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        return [
            (name, titled(self.labels[name])) if isinstance(name, str) and name in self.labels else name
            for name in super().get_list_filter(request)  # type: ignore[misc]
        ]

    @cached_property
    def _labelled_columns(self) -> dict[str, Callable[[Any], Any]]:
        # Made once per admin: the changelist compares columns by identity (sorting, links).
        return {name: _column(self.model, name, label) for name, label in self.labels.items()}


def _column(model: type[models.Model], name: str, label: StrOrPromise) -> Callable[[Any], Any]:
    """A list column showing ``name`` as Django shows a field (choices, booleans, dates), under ``label``."""
    try:
        field: Any = model._meta.get_field(name)
    except FieldDoesNotExist:
        field = None

    def value(obj: Any) -> Any:
        raw = getattr(obj, name)
        return display_for_field(raw, field, EMPTY) if field is not None else raw

    value.__name__ = name  # the column's CSS class, as for the field itself
    return admin.display(description=label, ordering=name if field is not None else None)(value)


def titled(title: StrOrPromise) -> type[admin.FieldListFilter]:
    """The list filter Django picks for a field, under ``title`` instead of the field's own name."""

    class Titled(admin.FieldListFilter):
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            chosen = admin.FieldListFilter.create(*args, **kwargs)
            chosen.title = title
            return chosen

    return Titled


def choices_filter(
    field: str, title: StrOrPromise, choices: Iterable[tuple[str, StrOrPromise]]
) -> type[admin.SimpleListFilter]:
    """A list filter over a column holding codes, offering ``choices``' labels (a column without
    ``choices`` of its own, or a third party's with English ones)."""
    options = list(choices)

    class Choices(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
            return options

        def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
            return queryset.filter(**{field: self.value()}) if self.value() else queryset

    Choices.title = title
    return Choices


def link_to(obj: models.Model | None, text: object = None) -> SafeString | str:
    """A link to ``obj``'s page in the operator console."""
    if obj is None:
        return EMPTY
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj if text is None else text)


def list_of(model: type[models.Model], text: object, **filters: object) -> SafeString:
    """A link to the list of ``model``'s records matching ``filters`` (e.g. ``billing_account__id__exact``)."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(filters), text)


class ReadOnlyAdmin(Labelled, admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class ReadOnlyInline(Labelled, admin.TabularInline):
    """Rows shown under their parent, never added or deleted here (an action writes them)."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class InstanceEventInline(ReadOnlyInline):
    model = InstanceEvent
    readonly_fields = ["at", "action", "from_state", "to_state", "detail", "spi_call"]


class ReconciliationResultInline(ReadOnlyInline):
    model = ReconciliationResult
    readonly_fields = ["at", "outcome", "note"]
    ordering = ["-at", "-id"]


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
        "billing_account",
        "sku_id",
        "expires_at",
        "trial",
        "created_at",
        "unreconciled_since",
        "reconcile_note",
    ]
    list_filter = [ReconciliationFilter, "state", "trial", "product_code", "sku_id"]
    search_fields = ["instance_id", "ali_uid", "order_id"]
    search_help_text = _("按实例 ID、阿里云账号 ID 或订单 ID 查找")
    list_select_related = ["cloud_account__billing_account"]
    date_hierarchy = "created_at"
    readonly_fields = ["billing_account", "timeline"]
    inlines = [InstanceEventInline, ReconciliationResultInline]
    labels = {"applied_orders": _("已执行的续费、升级订单"), "extra": _("其他参数")}
    help_texts = {
        "applied_orders": _("已生效的续费、升级订单号：同一订单再次到达时不会重复生效"),
        "extra": _("SPI 调用中文档未列出的参数，原样保存"),
    }

    @admin.display(description=_("时间线"))
    def timeline(self, instance: MarketplaceInstance) -> SafeString:
        """The instance's one timeline: SPI calls, reconciliation, settlement changes, notices, ledger."""
        url = reverse("instance_timeline", args=[instance.instance_id])
        return format_html('<a href="{}" data-testid="timeline-link">{}</a>', url, _("查看时间线"))

    @admin.display(description=_("费用中心账号"))
    def billing_account(self, instance: MarketplaceInstance) -> SafeString | str:
        """The billing-center account this instance is a cloud account of (none until a buyer binds it)."""
        cloud_account = getattr(instance, "cloud_account", None)
        return link_to(cloud_account.billing_account) if cloud_account else EMPTY


@admin.register(SpiCall)
class SpiCallAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "action", "instance_id", "verdict", "message", "remote_addr"]
    list_filter = ["verdict", "action"]
    search_fields = ["instance_id", "message"]
    search_help_text = _("按实例 ID 或说明查找")
    date_hierarchy = "received_at"


@admin.register(UnauthenticatedCallTally)
class UnauthenticatedCallTallyAdmin(ReadOnlyAdmin):
    """Calls refused before authentication, counted per source, action and day (never stored one by one)."""

    list_display = ["day", "source", "action", "count", "throttled", "first_seen", "last_seen", "last_reason"]
    list_filter = ["action"]
    search_fields = ["source"]
    date_hierarchy = "day"
