"""Workspaces: name, immutable language, token, owner, and how the workspace is settled."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Workspace(models.Model):
    class Language(models.TextChoices):
        ZH = "zh", "中文"
        EN = "en", "English"

    class Settlement(models.TextChoices):
        BILLING_ACCOUNT = "billing_account", _("费用中心账号结算")
        ALIYUN = "aliyun", _("阿里云账号结算")

    name = models.CharField(_("工作空间名称"), max_length=64)
    # Chosen once at creation; it selects event/alert/SMS templates and never changes.
    language = models.CharField(_("工作空间语言"), max_length=2, choices=Language.choices)
    token = models.CharField(max_length=36, unique=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="workspaces")
    billing_account = models.ForeignKey(
        "accounts.BillingAccount", null=True, blank=True, on_delete=models.PROTECT, related_name="workspaces"
    )
    settlement = models.CharField(max_length=16, choices=Settlement.choices, default=Settlement.BILLING_ACCOUNT)
    cloud_account = models.ForeignKey(
        "accounts.CloudAccount", null=True, blank=True, on_delete=models.PROTECT, related_name="workspaces"
    )
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("工作空间")
        verbose_name_plural = _("工作空间")
        constraints = [
            # Exactly one settlement method: a cloud account if and only if settled by Alibaba.
            models.CheckConstraint(
                condition=(Q(settlement="aliyun", cloud_account__isnull=False))
                | (Q(settlement="billing_account", cloud_account__isnull=True)),
                name="workspace_one_settlement_method",
            ),
        ]

    def __str__(self) -> str:
        return self.name
