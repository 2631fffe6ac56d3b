"""Console accounts (观测云账号), billing-center accounts (费用中心账号), their cloud accounts, and codes.

Usernames of both kinds are stored canonical (lower-case, see ``domain.canonical_username``) in a
UNIQUE column: the database decides who gets a name, never a check before the insert.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class ConsoleAccount(AbstractUser):
    """A console (控制台) sign-in; operators are console accounts with is_staff."""

    phone = models.CharField(_("手机号"), max_length=32, blank=True)
    language = models.CharField(max_length=8, default="zh-hans")

    class Meta:
        verbose_name = _("控制台账号")
        verbose_name_plural = _("控制台账号")


class BillingAccount(models.Model):
    """费用中心账号 (formerly 企业账号): bills many workspaces; username unique and immutable."""

    username = models.CharField(_("用户名"), max_length=32, unique=True)
    email = models.EmailField(_("邮箱"), max_length=254, db_index=True)
    password = models.CharField(max_length=256, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    enterprise_name = models.CharField(_("企业名称"), max_length=100, blank=True)
    industry = models.CharField(max_length=64, blank=True)
    console_account = models.OneToOneField(
        ConsoleAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="billing_account"
    )
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("费用中心账号")
        verbose_name_plural = _("费用中心账号")
        constraints = [
            # Stored canonical: the UNIQUE column then compares names case-insensitively.
            models.CheckConstraint(condition=models.Q(username=Lower("username")), name="billing_username_lower"),
        ]

    def __str__(self) -> str:
        return self.username


class CloudAccount(models.Model):
    """A marketplace subscription registered to a billing-center account (账户管理 > 云账号)."""

    billing_account = models.ForeignKey(BillingAccount, on_delete=models.PROTECT, related_name="cloud_accounts")
    provider = models.CharField(max_length=16, default="aliyun")
    ali_uid = models.CharField(_("阿里云账号 ID"), max_length=64, db_index=True)
    instance = models.OneToOneField(
        "marketplace.MarketplaceInstance", on_delete=models.PROTECT, related_name="cloud_account"
    )
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("云账号")
        verbose_name_plural = _("云账号")

    def __str__(self) -> str:
        # The marketplace's instance ID, not the row's key (``instance_id`` is the foreign key's column).
        return f"{self.ali_uid} / {self.instance.instance_id}"


class VerificationCode(models.Model):
    """A 6-digit email code, stored as a keyed HMAC, bound to (email, purpose)."""

    email = models.EmailField(max_length=254)
    purpose = models.CharField(max_length=32)
    code_hmac = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)
    requested_ip = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["email", "purpose", "created_at"], name="code_lookup")]

    def __str__(self) -> str:
        return f"{self.purpose} code for {self.email}"


class Throttle(models.Model):
    """A counter per (key, hour window), bumped atomically; used where the answer itself leaks data."""

    key = models.CharField(max_length=128)
    window_start = models.DateTimeField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window_start"], name="throttle_one_row_per_window")]
        # Every counted hit purges windows older than two hours; this keeps that purge a range scan.
        indexes = [models.Index(fields=["window_start"], name="throttle_window")]

    def __str__(self) -> str:
        return f"{self.key} {self.window_start:%Y-%m-%d %H:00} ×{self.hits}"


class FormSubmission(models.Model):
    """A form submitted once: the digest of its token under a UNIQUE constraint, written first in the
    transaction of the change the form makes, and what that change led to (``outcome``), so a repeat
    of the same submission (a double click, a retried request) is answered with it instead of making
    the change again."""

    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    outcome = models.JSONField(default=dict)

    class Meta:
        # Every new submission purges those past their memory; this keeps that purge a range scan.
        indexes = [models.Index(fields=["created_at"], name="submission_created")]

    def __str__(self) -> str:
        return f"submission {self.token_digest[:12]} at {self.created_at:%Y-%m-%d %H:%M}"
