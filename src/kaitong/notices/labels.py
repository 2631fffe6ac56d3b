"""The words for the codes a notice is given, in the catalogue's two languages: a notice shows these,
never a code. Rendered inside ``translation.override`` of the workspace's language (``rendering.py``);
the kinds and channels also label the operator's lists."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kaitong.notices.domain import Cause, Channel, Notice, Settlement, SlsProblem, UnlockReason

KIND_LABELS = {
    Notice.COUNTDOWN_STARTED: _("锁定倒计时开始"),
    Notice.COUNTDOWN_ENDING: _("锁定前 3 天提醒"),
    Notice.LOCKED: _("工作空间已锁定"),
    Notice.UNLOCKED: _("工作空间已解锁"),
    Notice.SETTLEMENT_CHANGED: _("结算方式变更"),
    Notice.HIGH_SPEND: _("高消费预警"),
    Notice.SLS_ACCESS_LOST: _("SLS 授权已失效"),
}
CHANNEL_LABELS = {Channel.EMAIL: _("邮件"), Channel.SMS: _("短信")}

# In an email: the whole cause. In an SMS (context "sms", so that its English can be as terse as one
# segment needs without changing the same Chinese words elsewhere): as few words as say it.
CAUSES = {
    Cause.INSTANCE_EXPIRED: _("结算该工作空间的阿里云云市场实例已到期"),
    Cause.INSTANCE_RELEASED: _("结算该工作空间的阿里云云市场实例已释放（关闭）"),
    Cause.UNPAID_BILL: _("费用中心账号有逾期未付的账单"),
}
CAUSES_SHORT = {
    Cause.INSTANCE_EXPIRED: pgettext_lazy("sms", "云市场实例已到期"),
    Cause.INSTANCE_RELEASED: pgettext_lazy("sms", "云市场实例已释放"),
    Cause.UNPAID_BILL: pgettext_lazy("sms", "账单逾期未付"),
}
# What the owner can do about each cause (any of them ends the countdown, or the lock, by itself).
REMEDIES = {
    Cause.INSTANCE_EXPIRED: _("在阿里云云市场续费该实例，或在费用中心「工作空间管理」中更改结算方式。"),
    Cause.INSTANCE_RELEASED: _("在阿里云云市场恢复该实例，或在费用中心「工作空间管理」中更改结算方式。"),
    Cause.UNPAID_BILL: _("支付费用中心的逾期账单，或在费用中心「工作空间管理」中更改结算方式。"),
}
UNLOCK_REASONS = {
    UnlockReason.INSTANCE_RENEWED: _("阿里云云市场实例已续费"),
    UnlockReason.INSTANCE_RESUMED: _("阿里云云市场实例已恢复"),
    UnlockReason.SETTLEMENT_MOVED: _("结算方式已更改"),
    UnlockReason.BILL_PAID: _("逾期账单已支付"),
}
UNLOCK_REASONS_SHORT = {
    UnlockReason.INSTANCE_RENEWED: pgettext_lazy("sms", "实例已续费"),
    UnlockReason.INSTANCE_RESUMED: pgettext_lazy("sms", "实例已恢复"),
    UnlockReason.SETTLEMENT_MOVED: pgettext_lazy("sms", "结算方式已更改"),
    UnlockReason.BILL_PAID: pgettext_lazy("sms", "账单已支付"),
}
# The same words as the workspace pages' settlement labels (one msgid, one translation).
SETTLEMENTS = {
    Settlement.BILLING_ACCOUNT: _("费用中心账号结算"),
    Settlement.ALIYUN: _("阿里云账号结算"),
}
SETTLEMENTS_SHORT = {
    Settlement.BILLING_ACCOUNT: pgettext_lazy("sms", "费用中心账号"),
    Settlement.ALIYUN: pgettext_lazy("sms", "阿里云账号"),
}
# Why the vendor can no longer reach a buyer's SLS (the exclusive edition's periodic check).
SLS_PROBLEMS = {
    SlsProblem.INVALID_KEY: _("AccessKey 已失效（被删除、禁用或 Secret 已更换）"),
    SlsProblem.OTHER_ACCOUNT: _("AccessKey 不属于该阿里云账号"),
    SlsProblem.NO_SLS_PERMISSION: _("授权已没有日志服务 SLS 的权限"),
    SlsProblem.SLS_NOT_ACTIVATED: _("日志服务 SLS 已关闭"),
    SlsProblem.ROLE_NOT_AUTHORISED: _("第三方快捷授权已被撤销"),
    SlsProblem.UNAVAILABLE: _("暂时无法访问阿里云"),
}
