"""Lock countdowns, their history, and dissolved workspaces. Thin data: the rules are ``domain.py`` and
the only writer is ``actions.py``.

A ``Countdown`` row is one episode: started by a cause, perhaps locked, ended by a lift (or still open).
A workspace has at most one open episode (a partial UNIQUE constraint decides between racing starters).
The lock applies from ``locks_at`` whether or not the periodic duty has recorded it yet (``locked_at``).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kaitong.countdown.domain import Cause, Lift, Phase

CAUSE_LABELS = {
    Cause.INSTANCE_EXPIRED: _("云市场实例已过期"),
    Cause.INSTANCE_RELEASED: _("云市场实例已关闭"),
    Cause.UNPAID_BILL: _("费用中心账单逾期未付"),
}
LIFT_LABELS = {
    Lift.INSTANCE_RENEWED: _("云市场实例已续费"),
    Lift.INSTANCE_RESUMED: _("云市场实例已恢复"),
    Lift.SETTLEMENT_MOVED: _("已更改结算方式"),
    Lift.BILL_PAID: _("账单已付清"),
}
PHASE_LABELS = {Phase.CLEAR: _("正常"), Phase.COUNTING: _("锁定倒计时"), Phase.LOCKED: _("已锁定")}


class Countdown(models.Model):
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.PROTECT, related_name="countdowns", verbose_name=_("工作空间")
    )
    cause = models.CharField(_("原因"), max_length=24, choices=[(c.value, CAUSE_LABELS[c]) for c in Cause])
    instance_id = models.CharField(_("云市场实例"), max_length=64, blank=True)
    started_at = models.DateTimeField(_("开始时间"))
    locks_at = models.DateTimeField(_("锁定时间"))
    ending_noticed_at = models.DateTimeField(_("到期提醒时间"), null=True, blank=True)
    locked_at = models.DateTimeField(_("锁定记录时间"), null=True, blank=True)
    lifted_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    lift = models.CharField(
        _("解除原因"), max_length=24, blank=True, choices=[(lift.value, LIFT_LABELS[lift]) for lift in Lift]
    )
    data_cleared_at = models.DateTimeField(_("数据清除时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("锁定倒计时")
        verbose_name_plural = _("锁定倒计时")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace"], condition=Q(lifted_at__isnull=True), name="one_open_countdown"
            ),
            models.CheckConstraint(condition=Q(locks_at__gt=models.F("started_at")), name="countdown_locks_later"),
            # Lifted if and only if a reason says why.
            models.CheckConstraint(
                condition=Q(lifted_at__isnull=True, lift="") | (Q(lifted_at__isnull=False) & ~Q(lift="")),
                name="countdown_lift_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["lifted_at", "locks_at"], name="countdown_open_by_lock")]

    def __str__(self) -> str:
        return f"{self.workspace_id}: {self.cause} → {self.locks_at:%Y-%m-%d}"


class CountdownEvent(models.Model):
    """The history of countdowns: every start, notice, lock, lift, clearing and dissolution, with who or
    what did it, written in the transaction of the change itself."""

    class Kind(models.TextChoices):
        STARTED = "started", _("开始倒计时")
        CAUSE_CHANGED = "cause_changed", _("原因变化")
        ENDING_NOTICED = "ending_noticed", _("到期前提醒")
        LOCKED = "locked", _("锁定")
        LIFTED = "lifted", _("解除")
        DATA_CLEARED = "data_cleared", _("数据已清除")
        DATA_PLATFORM_TOLD = "data_platform_told", _("已通知数据平台")
        DISSOLVED = "dissolved", _("解散")

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.PROTECT, related_name="countdown_events", verbose_name=_("工作空间")
    )
    countdown = models.ForeignKey(
        Countdown, on_delete=models.PROTECT, null=True, blank=True, related_name="events", verbose_name=_("倒计时")
    )
    at = models.DateTimeField(_("时间"))
    kind = models.CharField(_("事件"), max_length=24, choices=Kind.choices)
    # "marketplace releaseInstance (SPI call #N)", "countdown duty", "operator <name>", "buyer <username>".
    acting = models.CharField(_("操作者"), max_length=200)
    detail = models.JSONField(_("详情"), default=dict, blank=True)

    class Meta:
        verbose_name = _("倒计时事件")
        verbose_name_plural = _("倒计时事件")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["workspace", "at"], name="countdown_event_history")]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class Dissolution(models.Model):
    """A workspace its owner dissolved (解散): from ``at`` on it is gone for everyone but the books — its
    token and usage are refused, it has no bills, its usage samples are cleared; its past bills and audit
    rows stay (they are records of money)."""

    workspace = models.OneToOneField(
        "workspaces.Workspace", on_delete=models.PROTECT, related_name="dissolution", verbose_name=_("工作空间")
    )
    at = models.DateTimeField(_("解散时间"))
    acting = models.CharField(_("操作者"), max_length=200)
    name = models.CharField(_("工作空间名称"), max_length=64)  # as confirmed by the owner, typed

    class Meta:
        verbose_name = _("已解散的工作空间")
        verbose_name_plural = _("已解散的工作空间")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.name}"
