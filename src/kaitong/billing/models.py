"""Usage samples, the price list, daily bills and the marketplace metering ledger.

Thin data only: the arithmetic lives in ``domain.py``; samples are written by ``ingest.py``, bills and
new ledger records by ``closing.py``, and every later change of a record's state by the one writer in
``ledger_writer.py``, following the transition table in ``ledger.py``.
Money is ``Decimal`` (RMB, two places); amounts pushed to the marketplace are integer cents.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class PriceList(models.Model):
    """One version of the price list; it applies from ``effective_from`` (a Beijing day) on."""

    version = models.CharField(_("版本"), max_length=32, unique=True)
    effective_from = models.DateField(_("生效日期"), unique=True)
    currency = models.CharField(max_length=3, default="CNY")
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = _("价格表")
        verbose_name_plural = _("价格表")
        ordering = ["-effective_from"]

    def __str__(self) -> str:
        return f"{self.version} ({self.effective_from})"


class PriceItem(models.Model):
    """A price for one billing item at one retention (``retention_days`` 0 = the price does not depend on it)."""

    class DailyRule(models.TextChoices):
        MAX = "max", _("取 24 小时最大值")
        SUM = "sum", _("24 小时求和")

    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="items")
    item = models.CharField(_("计费项"), max_length=32)
    name_zh = models.CharField(max_length=64)
    name_en = models.CharField(max_length=64)
    unit_size = models.DecimalField(_("计费单位数量"), max_digits=24, decimal_places=6)
    unit_zh = models.CharField(max_length=32)
    unit_en = models.CharField(max_length=32)
    daily_rule = models.CharField(max_length=3, choices=DailyRule.choices)
    retention_days = models.PositiveIntegerField(default=0)
    default_retention = models.BooleanField(default=False)
    price = models.DecimalField(_("单价"), max_digits=12, decimal_places=4)

    class Meta:
        verbose_name = _("价格")
        verbose_name_plural = _("价格")
        constraints = [
            models.UniqueConstraint(fields=["price_list", "item", "retention_days"], name="price_item_once"),
        ]
        ordering = ["price_list", "item", "retention_days"]

    def __str__(self) -> str:
        return f"{self.item}@{self.retention_days}d {self.price}"


class RetentionSetting(models.Model):
    """A workspace's chosen retention for an item; absent → the price list's default retention."""

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    item = models.CharField(max_length=32)
    retention_days = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "item"], name="retention_once")]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.item} {self.retention_days}d"


class UsageSample(models.Model):
    """One hourly sample per (workspace, item, hour); a re-sent sample overwrites (latest wins)."""

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    item = models.CharField(max_length=32)
    hour = models.DateTimeField()
    quantity = models.DecimalField(max_digits=24, decimal_places=6)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "item", "hour"], name="usage_sample_once")]
        indexes = [models.Index(fields=["hour"], name="usage_sample_hour")]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.item} {self.hour:%Y-%m-%dT%H} {self.quantity}"


class ClosedDay(models.Model):
    """A Beijing day whose bills are final; closing it again changes nothing."""

    day = models.DateField(unique=True)
    closed_at = models.DateTimeField()
    price_list = models.ForeignKey(PriceList, on_delete=models.PROTECT, related_name="+")
    bills = models.PositiveIntegerField(default=0)
    records = models.PositiveIntegerField(default=0)
    total = models.DecimalField(max_digits=18, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("已结算日")
        verbose_name_plural = _("已结算日")
        ordering = ["-day"]

    def __str__(self) -> str:
        return str(self.day)


class DailyBill(models.Model):
    """A workspace's bill for one Beijing day, whatever its settlement method."""

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.PROTECT, related_name="+", verbose_name=_("工作空间")
    )
    day = models.DateField(_("账期日"))
    total = models.DecimalField(_("金额"), max_digits=18, decimal_places=2)
    settlement = models.CharField(_("结算方式"), max_length=16)
    # The marketplace instance that settles this bill (snapshot at close), or "" for billing-center accounts.
    instance_id = models.CharField(_("实例 ID"), max_length=64, blank=True)
    price_list = models.ForeignKey(PriceList, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("日账单")
        verbose_name_plural = _("日账单")
        constraints = [models.UniqueConstraint(fields=["workspace", "day"], name="daily_bill_once")]
        indexes = [models.Index(fields=["day", "instance_id"], name="daily_bill_day_instance")]
        ordering = ["-day", "workspace_id"]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.day} {self.total}"


class DailyBillLine(models.Model):
    bill = models.ForeignKey(DailyBill, on_delete=models.CASCADE, related_name="lines")
    item = models.CharField(max_length=32)
    quantity = models.DecimalField(max_digits=24, decimal_places=6)
    units = models.DecimalField(max_digits=24, decimal_places=6)
    retention_days = models.PositiveIntegerField(default=0)
    price = models.DecimalField(max_digits=12, decimal_places=4)
    fee = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bill", "item"], name="bill_line_once")]
        ordering = ["bill", "item"]

    def __str__(self) -> str:
        return f"{self.item} {self.fee}"


class MeteringRecord(models.Model):
    """The ledger: one record per marketplace instance per Beijing day, and what became of its push.

    pending → sent → accepted | rejected(reason) | unknown (the whole table is in ``ledger.py``). A record
    is "claimed" (leased, ``kaitong_base.claims``) while a worker prepares its request; only a committed
    ``sent`` means the request may have left.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("待推送")
        SENT = "sent", _("已发送")
        ACCEPTED = "accepted", _("已接受")
        REJECTED = "rejected", _("被拒绝")
        UNKNOWN = "unknown", _("结果未知")

    instance_id = models.CharField(_("实例 ID"), max_length=64)
    product_code = models.CharField(max_length=64)
    day = models.DateField(_("账期日"))
    start_time = models.BigIntegerField()
    end_time = models.BigIntegerField()
    amount_cents = models.BigIntegerField(_("金额（分）"))
    metering_assit = models.CharField(max_length=128)
    state = models.CharField(_("状态"), max_length=16, choices=State.choices, default=State.PENDING)
    reason = models.CharField(_("原因"), max_length=500, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveIntegerField(_("推送次数"), default=0)
    last_request_at = models.DateTimeField(null=True, blank=True, db_index=True)
    not_before = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(_("应答时间"), null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    alarm_at = models.DateTimeField(_("告警时间"), null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("计量推送记录")
        verbose_name_plural = _("计量推送台账")
        constraints = [models.UniqueConstraint(fields=["instance_id", "day"], name="metering_record_once")]
        indexes = [
            models.Index(fields=["state", "product_code"], name="metering_due"),
            # The worker's deadline check looks for unsettled, un-alarmed days about once a second; over
            # a ledger that is almost all accepted, only this keeps it from reading every row.
            models.Index(
                fields=["day"],
                name="metering_unsettled",
                condition=models.Q(alarm_at__isnull=True) & ~models.Q(state="accepted"),
            ),
        ]
        ordering = ["-day", "instance_id"]

    def __str__(self) -> str:
        return f"{self.instance_id} {self.day} {self.state}"


class MeteringEvent(models.Model):
    """Audit row for every ledger transition, written in the transaction that makes it."""

    record = models.ForeignKey(MeteringRecord, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("时间"))
    from_state = models.CharField(_("原状态"), max_length=16, choices=MeteringRecord.State.choices)
    to_state = models.CharField(_("新状态"), max_length=16, choices=MeteringRecord.State.choices)
    detail = models.CharField(_("说明"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("台账变更")
        verbose_name_plural = _("台账变更")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_state}→{self.to_state}"


class PushBreaker(models.Model):
    """The circuit breaker on PushMeteringData (rules: ``breaker.py``): one row that every pushing
    process reads before each request and writes with each answer, so that all of them stop together.

    Written only by ``breaker_writer.py``. ``claimed_until``/``claim_token`` are the lease of the one
    probe (``kaitong_base.claims``).
    """

    class State(models.TextChoices):
        CLOSED = "closed", _("正常推送")
        OPEN = "open", _("已暂停（云市场无应答）")

    name = models.CharField(max_length=32, unique=True)
    state = models.CharField(_("状态"), max_length=8, choices=State.choices, default=State.CLOSED)
    failures = models.PositiveIntegerField(_("连续无应答次数"), default=0)
    probes = models.PositiveIntegerField(_("试探失败次数"), default=0)
    opened_at = models.DateTimeField(_("暂停时间"), null=True, blank=True)
    retry_at = models.DateTimeField(_("下次试探时间"), null=True, blank=True)
    reason = models.CharField(_("最后一次无应答"), max_length=500, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("计量推送熔断器")
        verbose_name_plural = _("计量推送熔断器")

    def __str__(self) -> str:
        return f"{self.name} {self.state}"


class BillPayment(models.Model):
    """A billing-center bill paid (issue 12, Balance): recorded by an operator, since no payment provider is
    integrated. A bill settled by the billing-center account is due when its day closes; one unpaid a
    day later starts its workspace's lock countdown, and paying every overdue bill lifts it. Written only
    by ``payments.py``; the row is the audit (who, when, how much)."""

    bill = models.OneToOneField(DailyBill, on_delete=models.PROTECT, related_name="payment", verbose_name=_("日账单"))
    amount = models.DecimalField(_("金额"), max_digits=18, decimal_places=2)
    recorded_at = models.DateTimeField(_("记录时间"))
    recorded_by = models.CharField(_("记录人"), max_length=200)
    note = models.CharField(_("备注"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("账单付款")
        verbose_name_plural = _("账单付款")
        ordering = ["-recorded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.bill_id} {self.amount}"
