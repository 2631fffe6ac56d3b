"""Marketplace instances, the raw SPI inbox, and the audit trail of every state change.

Thin data only: the rules live in ``domain.py`` and the only writer is ``actions.py``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from kaitong.marketplace.domain import Instance, State


class MarketplaceInstance(models.Model):
    # The marketplace recommends instanceId = orderBizId; UNIQUE makes createInstance idempotent.
    instance_id = models.CharField(_("实例 ID"), max_length=64, unique=True)
    ali_uid = models.CharField(_("阿里云账号 ID"), max_length=64, db_index=True)
    order_id = models.CharField(max_length=64)
    product_code = models.CharField(max_length=64)
    sku_id = models.CharField("SKU", max_length=64)
    trial = models.BooleanField(_("试用"), default=False)
    state = models.CharField(
        _("状态"), max_length=16, choices=[(s.value, s.value) for s in State], default=State.ACTIVE
    )
    expires_at = models.DateTimeField(_("到期时间"), null=True, blank=True)
    refunded = models.BooleanField(default=False)
    applied_orders = models.JSONField(default=list, blank=True, help_text="renew/upgrade orders applied")
    extra = models.JSONField(default=dict, blank=True, help_text="parameters beyond the documented ones")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

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
        RECEIVED = "received"  # stored; the decision is not recorded yet (a crash would leave this)
        APPLIED = "applied"  # changed the instance
        UNCHANGED = "unchanged"  # valid, acknowledged, nothing to change (duplicate, stale, unknown)
        REFUSED = "refused"  # valid but cannot be honoured (renew of a released instance)
        REJECTED = "rejected"  # bad token, malformed, unknown action

    received_at = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    instance_id = models.CharField(max_length=64, blank=True, db_index=True)
    params = models.JSONField()
    verdict = models.CharField(max_length=16, choices=Verdict.choices, default=Verdict.RECEIVED)
    answer = models.JSONField(null=True)
    message = models.CharField(max_length=255, blank=True)
    remote_addr = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("SPI 调用")
        verbose_name_plural = _("SPI 收件箱")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.instance_id} {self.verdict}"


class InstanceEvent(models.Model):
    """Audit row written in the same transaction as the state change it records."""

    instance = models.ForeignKey(MarketplaceInstance, on_delete=models.CASCADE, related_name="events")
    spi_call = models.ForeignKey(SpiCall, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=32)
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16)
    detail = models.JSONField(default=dict)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.from_state}→{self.to_state}"


# The login-free entry keeps its own table in a module of its own (see sso_models.py).
from kaitong.marketplace.sso_models import LoginFreeUse  # noqa: E402, F401
