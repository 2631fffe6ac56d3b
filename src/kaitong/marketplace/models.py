"""Marketplace instances, the raw SPI inbox, and the audit trail of every state change.

Thin data only: the rules live in ``domain.py`` and the only writer is ``actions.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from django.db import models
from django.utils.translation import gettext_lazy as _

from kaitong.marketplace.domain import EARLIEST_TIME, END_OF_TIME, Instance, State

# The labels operators read in the admin; a state the domain adds without one fails at import.
STATE_LABELS = {State.ACTIVE: _("正常"), State.EXPIRED: _("已过期"), State.RELEASED: _("已释放")}
STATE_CHOICES = [(state.value, STATE_LABELS[state]) for state in State]


class PlausibleTime(models.Func):
    """True when a stored time can be read back and shown: ``earliest <= time < end``.

    Used in CHECK constraints, so that no writer (the SPI, a migration, an operator in psql) can store a
    time that would take down every page that lists its row: PostgreSQL keeps years Python cannot hold
    (year 1 BC, ``infinity``), and a year-9999 time overflows when shown in Beijing time. PostgreSQL's
    type guarantees the rest. SQLite keeps a time as text, so there the text must also be a real calendar
    time in the layout Django writes (``2026-02-30 00:00:00`` would fail when read). The bounds are
    arguments, so that a migration records them and a change of the window makes a new migration."""

    conditional = True
    output_field = models.BooleanField()
    arity = 1

    def __init__(self, field: str, *, earliest: datetime, end: datetime) -> None:
        super().__init__(field)
        self.earliest, self.end = earliest, end

    def as_sql(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        column, column_params = compiler.compile(self.source_expressions[0])
        field: models.DateTimeField = models.DateTimeField()
        earliest, end = (field.get_db_prep_value(moment, connection) for moment in (self.earliest, self.end))
        return f"({column} >= %s AND {column} < %s)", [*column_params, earliest, *column_params, end]

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, list[Any]]:
        window, window_params = self.as_sql(compiler, connection)
        column, column_params = compiler.compile(self.source_expressions[0])
        # date() with a modifier normalises an impossible date (Feb 30 becomes Mar 2), so it differs from
        # the text; time() refuses minute or second 60 but keeps hour 24, hence the last test. Date and
        # time are checked apart: a modifier on the whole text rounds 23:59:59.9999995 to the next day.
        # No ", " in the SQL: Django's SQLite introspection splits a table's SQL at ", " to find columns.
        calendar = (
            f"date(substr({column},1,10),'+0 days') IS substr({column},1,10)"
            f" AND time(substr({column},12,8)) IS substr({column},12,8)"
            f" AND substr({column},12,2) < '24'"
        )
        return f"({window} AND {calendar})", [*window_params, *column_params * calendar.count(column)]


def plausible_time(field: str, *, null: bool = False) -> models.CheckConstraint:
    """The CHECK constraint that keeps ``field`` readable: in domain.PLAUSIBLE_YEARS (see PlausibleTime)."""
    plausible = PlausibleTime(field, earliest=EARLIEST_TIME, end=END_OF_TIME)
    condition = cast(models.Q, models.Q(**{f"{field}__isnull": True}) | plausible) if null else plausible
    return models.CheckConstraint(
        condition=condition,
        name=f"%(app_label)s_%(class)s_{field}_plausible",
    )


class MarketplaceInstance(models.Model):
    # The marketplace recommends instanceId = orderBizId; UNIQUE makes createInstance idempotent.
    instance_id = models.CharField(_("实例 ID"), max_length=64, unique=True)
    ali_uid = models.CharField(_("阿里云账号 ID"), max_length=64, db_index=True)
    order_id = models.CharField(_("订单 ID"), max_length=64)
    product_code = models.CharField(_("商品编码"), max_length=64)
    sku_id = models.CharField("SKU", max_length=64)
    trial = models.BooleanField(_("试用"), default=False)
    state = models.CharField(_("状态"), max_length=16, choices=STATE_CHOICES, default=State.ACTIVE)
    expires_at = models.DateTimeField(_("到期时间"), null=True, blank=True)
    refunded = models.BooleanField(_("已退款"), default=False)
    applied_orders = models.JSONField(default=list, blank=True, help_text="renew/upgrade orders applied")
    extra = models.JSONField(default=dict, blank=True, help_text="parameters beyond the documented ones")
    created_at = models.DateTimeField(_("创建时间"))
    updated_at = models.DateTimeField(_("更新时间"))
    # Reconciliation with the marketplace (``reconciliation.py``): set when an SPI call was applied without
    # the marketplace confirming it, or when the marketplace was seen to say otherwise; cleared when the
    # reconciliation finds both sides agreeing.
    unreconciled_since = models.DateTimeField(_("待核对自"), null=True, blank=True, db_index=True)
    # A database default: the SPI create writes its row with raw SQL naming only the columns it sets.
    reconcile_note = models.CharField(_("核对说明"), max_length=255, blank=True, db_default="")
    reconciled_at = models.DateTimeField(_("上次核对"), null=True, blank=True, db_index=True)
    drift_alarm_at = models.DateTimeField(_("不一致告警"), null=True, blank=True)

    class Meta:
        verbose_name = _("云市场实例")
        verbose_name_plural = _("云市场实例")
        ordering = ["-created_at"]
        constraints = [
            plausible_time("expires_at", null=True),
            plausible_time("created_at"),
            plausible_time("updated_at"),
            plausible_time("unreconciled_since", null=True),
            plausible_time("reconciled_at", null=True),
            plausible_time("drift_alarm_at", null=True),
        ]

    def __str__(self) -> str:
        return self.instance_id

    def as_domain(self) -> Instance:
        return Instance(
            state=State(self.state),
            sku_id=self.sku_id,
            expires_at=self.expires_at,
            refunded=self.refunded,
            applied_orders=frozenset(self.applied_orders),
        )


class SpiCall(models.Model):
    """One call as received, stored before anything else happens (the token is never stored)."""

    class Verdict(models.TextChoices):
        RECEIVED = "received", _("已收到")  # stored; the decision is not recorded yet (a crash would leave this)
        APPLIED = "applied", _("已生效")  # changed the instance
        UNCHANGED = "unchanged", _("无变化")  # valid, acknowledged, nothing to change (duplicate, stale, unknown)
        # Valid, acknowledged, ignored: the marketplace's own view rules it out (a replayed URL, an overtaken call).
        CONTRADICTED = "contradicted", _("与云市场不符")
        REFUSED = "refused", _("无法执行")  # valid but cannot be honoured (renew of a released instance)
        REJECTED = "rejected", _("已驳回")  # bad token, malformed, unknown action

    received_at = models.DateTimeField(_("收到时间"), db_index=True)
    action = models.CharField(_("动作"), max_length=64, db_index=True)
    instance_id = models.CharField(_("实例 ID"), max_length=64, blank=True, db_index=True)
    params = models.JSONField(_("参数"))
    verdict = models.CharField(_("结论"), max_length=16, choices=Verdict.choices, default=Verdict.RECEIVED)
    answer = models.JSONField(_("应答"), null=True)
    message = models.CharField(_("说明"), max_length=255, blank=True)
    remote_addr = models.CharField(_("来源地址"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("SPI 调用")
        verbose_name_plural = _("SPI 收件箱")
        ordering = ["-received_at", "-id"]
        constraints = [plausible_time("received_at")]

    def __str__(self) -> str:
        return f"{self.action} {self.instance_id} {self.verdict}"


class InstanceEvent(models.Model):
    """Audit row written in the same transaction as the state change it records."""

    instance = models.ForeignKey(MarketplaceInstance, on_delete=models.CASCADE, related_name="events")
    spi_call = models.ForeignKey(SpiCall, verbose_name=_("SPI 调用"), on_delete=models.PROTECT, related_name="events")
    action = models.CharField(_("动作"), max_length=32)
    from_state = models.CharField(_("原状态"), max_length=16, blank=True)
    to_state = models.CharField(_("新状态"), max_length=16)
    detail = models.JSONField(_("详情"), default=dict)
    at = models.DateTimeField(_("时间"))

    class Meta:
        verbose_name = _("实例事件")
        verbose_name_plural = _("实例事件")
        ordering = ["at", "id"]
        constraints = [plausible_time("at")]

    def __str__(self) -> str:
        return f"{self.action} {self.from_state}→{self.to_state}"


class UnauthenticatedCallTally(models.Model):
    """SPI calls refused before they were authenticated (no token, a wrong one, too malformed to check),
    counted per source, action and Beijing day rather than stored one by one: anyone can send them, and
    each used to add up to 8 KB to the inbox. Written only by actions.py, in one upsert per call."""

    day = models.DateField(_("日期"))
    source = models.CharField(_("来源地址"), max_length=64)  # an IPv6 source is its /64 network
    action = models.CharField(_("动作"), max_length=32)
    count = models.PositiveBigIntegerField(_("调用次数"))
    throttled = models.PositiveBigIntegerField(_("其中限流"), help_text=_("超过每日上限、以 429 应答的次数"))
    first_seen = models.DateTimeField(_("首次出现"))
    last_seen = models.DateTimeField(_("最近出现"))
    last_reason = models.CharField(_("最近的原因"), max_length=255)

    class Meta:
        verbose_name = _("未通过验证的 SPI 调用")
        verbose_name_plural = _("未通过验证的 SPI 调用")
        ordering = ["-day", "-last_seen"]
        constraints = [
            # The upsert's conflict target; it also serves the day's total per source and the pruning by day.
            models.UniqueConstraint(fields=["day", "source", "action"], name="tally_one_row_per_source_action_day"),
            plausible_time("first_seen"),
            plausible_time("last_seen"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.source} {self.action} ×{self.count}"


# The login-free entry keeps its own table in a module of its own (see sso_models.py).
from kaitong.marketplace.sso_models import LoginFreeUse  # noqa: E402, F401
