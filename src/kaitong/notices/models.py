"""Every notice sent about a workspace, and the owner's high-spend alert (高消费预警). Thin data;
``actions.py`` is the only writer."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kaitong.notices.domain import Channel, Notice
from kaitong.notices.labels import CHANNEL_LABELS, KIND_LABELS


class SentNotice(models.Model):
    """One notice about a workspace to one recipient over one channel: written in the transaction of the
    change it reports, delivered by a task (``notices.tasks.deliver_notice``), which stamps ``sent_at``.

    ``context`` holds the codes the notice was given (never words: they are chosen when it is rendered,
    in ``language``, the workspace's). ``recipient`` is the address or number it went to at the time."""

    class State(models.TextChoices):
        QUEUED = "queued", _("待发送")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("发送失败")

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.PROTECT, related_name="+", verbose_name=_("工作空间")
    )
    kind = models.CharField(_("通知类型"), max_length=32, choices=[(n.value, KIND_LABELS[n]) for n in Notice])
    channel = models.CharField(_("渠道"), max_length=8, choices=[(c.value, CHANNEL_LABELS[c]) for c in Channel])
    recipient = models.CharField(_("收件人"), max_length=254)
    language = models.CharField(_("语言"), max_length=2)
    context = models.JSONField(default=dict)
    state = models.CharField(_("状态"), max_length=8, choices=State.choices, default=State.QUEUED)
    detail = models.CharField(_("说明"), max_length=300, blank=True)
    queued_at = models.DateTimeField(_("时间"))
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("已发通知")
        verbose_name_plural = _("已发通知")
        ordering = ["-queued_at", "-id"]
        indexes = [models.Index(fields=["workspace", "queued_at"], name="sent_notice_history")]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.kind} {self.channel}"


class SpendThreshold(models.Model):
    """A workspace's high-spend alert: any item of one of its daily bills above ``amount`` (RMB) is
    told to its owner. No row: the alert is off (the default)."""

    workspace = models.OneToOneField("workspaces.Workspace", on_delete=models.CASCADE, related_name="spend_threshold")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    set_at = models.DateTimeField()
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="spend_threshold_positive")]

    def __str__(self) -> str:
        return f"{self.workspace_id} > {self.amount}"


class SpendThresholdChange(models.Model):
    """The audit of every setting or clearing of a workspace's high-spend alert (no amount: off)."""

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    acting = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    from_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    to_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.workspace_id}: {self.from_amount} → {self.to_amount}"


class HighSpendAlert(models.Model):
    """A daily bill item that went over its workspace's threshold and was told: at most once per
    workspace, day and item, which the UNIQUE constraint decides (closing a day again, or twice at once,
    alerts nobody twice)."""

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    item = models.CharField(max_length=32)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    threshold = models.DecimalField(max_digits=12, decimal_places=2)
    alerted_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "day", "item"], name="high_spend_alert_once")]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.day} {self.item} {self.amount}"
