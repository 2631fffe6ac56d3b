"""Operator console: the price list, daily bills, and the metering ledger with its repair actions."""

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kaitong.billing import payments, repair
from kaitong.billing.models import (
    BillPayment,
    ClosedDay,
    DailyBill,
    DailyBillLine,
    MeteringEvent,
    MeteringRecord,
    PriceItem,
    PriceList,
    PushBreaker,
)
from kaitong.marketplace.admin import Labelled, ReadOnlyAdmin, ReadOnlyInline, choices_filter
from kaitong.workspaces.models import Workspace

_PRICE_LIST_LABELS = {"currency": _("币种"), "note": _("备注")}
_RETENTION = _("数据保存天数")


@admin.register(PushBreaker)
class PushBreakerAdmin(ReadOnlyAdmin):
    """Whether pushing is paused because the Market API does not answer, and when it probes next."""

    list_display = ["name", "state", "failures", "probes", "opened_at", "retry_at", "reason", "updated_at"]
    exclude = ["claim_token"]
    labels = {"name": _("名称"), "claimed_until": _("试探租约到期"), "updated_at": _("更新时间")}


class PriceItemInline(Labelled, admin.TabularInline):
    model = PriceItem
    extra = 0
    labels = {
        "name_zh": _("中文名称"),
        "name_en": _("英文名称"),
        "unit_zh": _("中文单位"),
        "unit_en": _("英文单位"),
        "daily_rule": _("日用量规则"),
        "retention_days": _RETENTION,
        "default_retention": _("默认保存期"),
    }


@admin.register(PriceList)
class PriceListAdmin(Labelled, admin.ModelAdmin):
    """A new version is added with a future ``effective_from``; a list in use is never edited."""

    list_display = ["version", "effective_from", "currency", "note"]
    inlines = [PriceItemInline]
    labels = _PRICE_LIST_LABELS


@admin.register(ClosedDay)
class ClosedDayAdmin(ReadOnlyAdmin):
    list_display = ["day", "closed_at", "bills", "records", "total", "price_list"]
    labels = {
        "day": _("账期日"),
        "closed_at": _("结算时间"),
        "bills": _("日账单数"),
        "records": _("计量推送记录数"),
        "total": _("合计金额"),
        "price_list": _("价格表"),
    }


class DailyBillLineInline(ReadOnlyInline):
    model = DailyBillLine
    readonly_fields = ["item", "quantity", "units", "retention_days", "price", "fee"]
    labels = {
        "item": _("计费项"),
        "quantity": _("用量"),
        "units": _("计费单位数"),
        "retention_days": _RETENTION,
        "price": _("单价"),
        "fee": _("费用"),
    }


class PaidFilter(admin.SimpleListFilter):
    title = _("付款状态")
    parameter_name = "paid"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [("yes", _("已付款")), ("no", _("未付款（费用中心账号结算）"))]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        if self.value() == "yes":
            return queryset.filter(payment__isnull=False)
        if self.value() == "no":
            return queryset.filter(payment__isnull=True, settlement=Workspace.Settlement.BILLING_ACCOUNT, total__gt=0)
        return queryset


_PAYMENT_REFUSALS = {
    payments.NOT_FOUND: _("账单 %(id)s 不存在。"),
    payments.SETTLED_BY_ALIBABA: _("账单 %(id)s 由阿里云账号结算，付款在阿里云完成，这里不记录。"),
    payments.NOTHING_DUE: _("账单 %(id)s 金额为 0，无需付款。"),
    payments.ALREADY_PAID: _("账单 %(id)s 已记录付款。"),
}


@admin.register(DailyBill)
class DailyBillAdmin(ReadOnlyAdmin):
    list_display = ["day", "workspace", "total", "settled_by", "instance_id", "paid"]
    list_filter = ["day", choices_filter("settlement", _("结算方式"), Workspace.Settlement.choices), PaidFilter]
    search_fields = ["instance_id", "workspace__id__exact", "workspace__name"]
    search_help_text = _("按云市场实例 ID、工作空间 ID 或名称查找")
    list_select_related = ["workspace"]
    fields = ["workspace", "day", "total", "settled_by", "instance_id", "price_list", "created_at"]
    readonly_fields = ["settled_by"]
    inlines = [DailyBillLineInline]
    labels = {"price_list": _("价格表"), "created_at": _("出账时间")}

    actions = ["record_payment"]

    @admin.display(description=_("结算方式"), ordering="settlement")
    def settled_by(self, bill: DailyBill) -> str:
        """The bill keeps the code of how its workspace settled that day; the operator reads its name."""
        labels = dict(Workspace.Settlement.choices)
        return str(labels.get(bill.settlement, bill.settlement))

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return (
            super().get_queryset(request).annotate(has_payment=Exists(BillPayment.objects.filter(bill=OuterRef("pk"))))
        )

    @admin.display(description=_("付款"), boolean=True)
    def paid(self, bill: DailyBill) -> bool | None:
        """Paid (recorded), unpaid, or nothing to pay here (settled by Alibaba, or 0.00)."""
        if bill.settlement != Workspace.Settlement.BILLING_ACCOUNT or bill.total <= 0:
            return None
        return bool(getattr(bill, "has_payment", False))

    @admin.action(description=_("记录已付款（费用中心账号结算的账单，全额）"))
    def record_payment(self, request, queryset):  # type: ignore[no-untyped-def]
        result = payments.do_record_bill_payments(
            bill_ids=list(queryset.values_list("pk", flat=True)),
            recorded_by=f"operator {request.user.get_username()}",
            now=timezone.now(),
        )
        if result.recorded:
            messages.success(
                request,
                gettext("已记录 %(count)d 张账单的付款；解除了 %(lifted)d 个工作空间的锁定倒计时。")
                % {"count": len(result.recorded), "lifted": result.lifted},
            )
        for bill_id, why in list(result.refused.items())[:20]:
            messages.warning(request, str(_PAYMENT_REFUSALS[why]) % {"id": bill_id})


@admin.register(BillPayment)
class BillPaymentAdmin(ReadOnlyAdmin):
    list_display = ["bill", "amount", "recorded_at", "recorded_by", "note"]
    search_fields = ["bill__workspace__id__exact", "bill__workspace__name", "recorded_by"]
    search_help_text = _("按工作空间 ID 或名称、记录人查找")
    list_select_related = ["bill__workspace"]
    date_hierarchy = "recorded_at"


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
    search_help_text = _("按云市场实例 ID、原因或请求 ID 查找")
    # Every column but the claim token (which push holds the record: nothing to an operator).
    fields = [field.name for field in MeteringRecord._meta.fields if field.name not in ("id", "claim_token")]
    inlines = [MeteringEventInline]
    labels = {
        "product_code": _("商品编码"),
        "start_time": _("计量开始（毫秒时间戳）"),
        "end_time": _("计量结束（毫秒时间戳）"),
        "metering_assit": _("计量项标识"),
        "claimed_until": _("推送租约到期"),
        "last_request_at": _("最近请求时间"),
        "not_before": _("最早推送时间"),
        "sent_at": _("发送时间"),
        "request_id": _("请求 ID"),
        "created_at": _("创建时间"),
        "updated_at": _("更新时间"),
    }
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
