"""The buyer's grant to the vendor (one per Alibaba account) and each exclusive workspace's SLS project.

Thin data, written by ``actions.py`` alone. The AccessKey secret is stored only sealed (AES-GCM,
``kaitong.sealing``) beside the id of the key that sealed it; the role needs no secret at all."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class AliyunGrant(models.Model):
    """How the vendor reaches one Alibaba account's Log Service: a role the buyer authorised
    (``role_name`` set: preferred), or a RAM user's AccessKey (``access_key_id`` and the sealed secret)."""

    class State(models.TextChoices):
        OK = "ok", _("正常")
        REVOKED = "revoked", _("授权已失效")

    ali_uid = models.CharField(_("阿里云账号 ID"), max_length=64, unique=True)
    access_key_id = models.CharField(_("AccessKey ID"), max_length=64, blank=True)
    secret_key_id = models.CharField(_("加密密钥 ID"), max_length=32, blank=True)
    secret_sealed = models.TextField(_("AccessKey Secret（密文）"), blank=True)
    role_name = models.CharField(_("授权角色"), max_length=128, blank=True)
    external_id = models.CharField(_("ExternalId"), max_length=64, blank=True)
    verified_at = models.DateTimeField(_("验证时间"), null=True, blank=True)
    checked_at = models.DateTimeField(_("最近检查"), null=True, blank=True)
    state = models.CharField(_("状态"), max_length=8, choices=State.choices, default=State.OK)
    # A kaitong.sls.domain.Problem value when revoked: why the last check failed.
    problem = models.CharField(_("问题"), max_length=32, blank=True)
    # When the owners were told of the loss (once per loss; cleared on recovery).
    notified_at = models.DateTimeField(_("通知时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("阿里云授权")
        verbose_name_plural = _("阿里云授权")

    def __str__(self) -> str:
        return self.ali_uid

    @property
    def method(self) -> str:
        """``role`` when the buyer authorised the role (preferred), else ``access_key``."""
        return "role" if self.role_name else "access_key"


class SlsStorage(models.Model):
    """Where an exclusive workspace's data lives: a project in the buyer's SLS, created (or adopted)
    by the job ``sls.provision_storage``."""

    class State(models.TextChoices):
        PENDING = "pending", _("创建中")
        READY = "ready", _("已就绪")
        FAILED = "failed", _("创建失败")

    workspace = models.OneToOneField(
        "workspaces.Workspace", on_delete=models.PROTECT, related_name="sls_storage", verbose_name=_("工作空间")
    )
    ali_uid = models.CharField(_("阿里云账号 ID"), max_length=64, db_index=True)
    region = models.CharField(_("地域"), max_length=32)
    project = models.CharField(_("Project"), max_length=64)
    state = models.CharField(_("状态"), max_length=8, choices=State.choices, default=State.PENDING)
    # True when a project of that name already existed in the buyer's account and was taken over.
    adopted = models.BooleanField(_("沿用已有 Project"), default=False)
    # When the project was created or adopted: a retry after a store failed goes on from the stores,
    # instead of meeting its own project as "already exists" and calling it adopted.
    project_made_at = models.DateTimeField(_("Project 创建时间"), null=True, blank=True)
    error = models.CharField(_("错误"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("创建时间"))
    ready_at = models.DateTimeField(_("就绪时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("SLS 存储")
        verbose_name_plural = _("SLS 存储")

    def __str__(self) -> str:
        return f"{self.region}/{self.project}"
