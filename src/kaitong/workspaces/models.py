"""Workspaces: name, immutable language, token, owner, how the workspace is settled, and the audit of
every change of that settlement. Thin data: the settlement fields are written by ``settlement.py`` alone."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kaitong.workspaces.domain import Method, Reason


class Workspace(models.Model):
    class Language(models.TextChoices):
        ZH = "zh", "中文"
        EN = "en", "English"

    class Storage(models.TextChoices):
        GUANCE = "guance", _("观测云")
        SLS = "sls", _("日志服务 SLS")

    class Settlement(models.TextChoices):
        BILLING_ACCOUNT = "billing_account", _("费用中心账号结算")
        ALIYUN = "aliyun", _("阿里云账号结算")

    name = models.CharField(_("工作空间名称"), max_length=64)
    # Chosen once at creation; it selects event/alert/SMS templates and never changes.
    language = models.CharField(_("工作空间语言"), max_length=2, choices=Language.choices)
    token = models.CharField(max_length=36, unique=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="workspaces")
    billing_account = models.ForeignKey(
        "accounts.BillingAccount",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="workspaces",
        verbose_name=_("费用中心账号"),
    )
    settlement = models.CharField(
        _("结算方式"), max_length=16, choices=Settlement.choices, default=Settlement.BILLING_ACCOUNT
    )
    cloud_account = models.ForeignKey(
        "accounts.CloudAccount",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="workspaces",
        verbose_name=_("云账号"),
    )
    # Where the workspace's data lives, decided at creation and never changed (the database refuses):
    # "sls" for a workspace created under an exclusive-edition instance (the buyer's own Log Service,
    # kaitong.sls), "guance" otherwise. A commercial workspace never becomes exclusive, nor the reverse.
    storage = models.CharField(_("数据存储"), max_length=8, choices=Storage.choices, default=Storage.GUANCE)
    created_at = models.DateTimeField(_("创建时间"))

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


# The domain's methods and the column's choices are one list; a method added on one side only fails here.
assert set(Workspace.Settlement.values) == {method.value for method in Method}

REASON_LABELS = {
    Reason.CREATED: _("创建工作空间（运营或演示）"),
    Reason.CREATED_BOUND: _("开通时创建工作空间"),
    Reason.REGISTERED: _("注册观测云账号并创建工作空间"),
    Reason.COMMERCIAL_OPENED: _("注册观测云商业版"),
    Reason.BOUND: _("绑定云市场实例"),
    Reason.INSTANCE_RELEASED: _("云市场实例已释放"),
    Reason.MOVED: _("更改结算方式"),
}


class SettlementChange(models.Model):
    """One setting or change of how a workspace settles, written by the settlement door
    (``workspaces/settlement.py``) in the transaction of the change itself: who, when, from what, to
    what, why. The first row of a workspace has no "from": it was created settled so."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.PROTECT, related_name="settlement_changes", verbose_name=_("工作空间")
    )
    at = models.DateTimeField(_("时间"))
    # "buyer <email the code proved>", "marketplace releaseInstance (SPI call #N)", "operator <name>", "demo".
    acting = models.CharField(_("操作者"), max_length=200)
    reason = models.CharField(_("原因"), max_length=32, choices=[(r.value, REASON_LABELS[r]) for r in Reason])
    from_method = models.CharField(_("原结算方式"), max_length=16, choices=Workspace.Settlement.choices, blank=True)
    from_instance_id = models.CharField(_("原云市场实例"), max_length=64, blank=True)
    to_method = models.CharField(_("新结算方式"), max_length=16, choices=Workspace.Settlement.choices)
    to_instance_id = models.CharField(_("新云市场实例"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("结算方式变更")
        verbose_name_plural = _("结算方式变更")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["workspace", "at"], name="settlement_change_history")]

    def __str__(self) -> str:
        return f"{self.workspace_id}: {self.from_method or '—'} → {self.to_method} ({self.reason})"


class UnlockLink(models.Model):
    """A one-time link (立即解锁) that opens a workspace's 更改结算方式 page for its owner without signing in.

    Only the SHA-256 of the link's token is stored (``domain.unlock_token_digest``); it works once
    (``used_at``) and until ``expires_at``. Written by ``workspaces.actions`` alone."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="unlock_links", verbose_name=_("工作空间")
    )
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("创建时间"))
    expires_at = models.DateTimeField(_("失效时间"))
    used_at = models.DateTimeField(_("使用时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("解锁链接")
        verbose_name_plural = _("解锁链接")
        # Issuing a link purges those long past their use; this keeps that purge a range scan.
        indexes = [models.Index(fields=["expires_at"], name="unlock_link_expiry")]

    def __str__(self) -> str:
        return f"unlock link of workspace {self.workspace_id} until {self.expires_at:%Y-%m-%d %H:%M}"
