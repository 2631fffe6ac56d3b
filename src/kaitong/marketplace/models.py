"""Marketplace instances, the raw SPI inbox, and the audit trail of every state change.

Thin data only: the rules live in ``domain.py`` and the only writer is ``actions.py``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from kaitong.marketplace.domain import Instance, State

# The labels operators read in the admin; a state the domain adds without one fails at import.
STATE_LABELS = {State.ACTIVE: _("正常"), State.EXPIRED: _("已过期"), State.RELEASED: _("已释放")}
STATE_CHOICES = [(state.value, STATE_LABELS[state]) for state in State]


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

    def __str__(self) -> str:
        return f"{self.action} {self.from_state}→{self.to_state}"


# The login-free entry keeps its own table in a module of its own (see sso_models.py).
from kaitong.marketplace.sso_models import LoginFreeUse  # noqa: E402, F401
