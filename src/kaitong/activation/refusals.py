"""Every refusal a buyer can meet, from the login-free entry to 开通成功, in one table.

A refusal is an expected failure: an exception an action or a rule raises (with its verdict or reason
where it has one). The table says how each is answered: the HTTP status, the message (Chinese source,
English in the catalogue) and either the form field it goes under (None: above the form) or the page
that answers instead of the form. Views call ``answer`` and never choose words themselves;
tests/functional/test_activation_state.py checks that every exception the pages can meet is here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from kaitong.accounts import actions as account_actions
from kaitong.accounts import domain as account_rules
from kaitong.activation.session import NoEntry
from kaitong.marketplace import sso
from kaitong.sls import domain as sls_rules
from kaitong.workspaces import actions as workspace_actions
from kaitong.workspaces import domain as workspace_rules

NO_ENTRY_PAGE = "activation/no_entry.html"
INSTANCE_GONE_PAGE = "activation/instance_gone.html"
NOT_FOUND_PAGE = "activation/not_found.html"
SSO_REFUSED_PAGE = "marketplace/sso_refused.html"


def _no_params(exc: Exception) -> dict[str, object]:
    return {}


@dataclass(frozen=True)
class Refusal:
    """How one refusal is answered. ``params`` fills the named placeholders from the exception."""

    status: int
    message: Promise
    field: str | None = None
    page: str = ""
    title: Promise | str = ""  # a page's heading
    hint: Promise | str = ""  # a page's "what to do now"
    params: Callable[[Any], dict[str, object]] = _no_params
    retry_after: Callable[[Any], int] | None = None  # seconds from the exception, for a Retry-After header


@dataclass(frozen=True)
class Answer:
    """A refusal in the reader's language, ready for a view and a template."""

    status: int
    message: str
    field: str | None
    page: str
    title: str
    hint: str
    retry_after: int | None
    code: str  # a stable name of the refusal, for pages (data-refusal) and scripts


class FormNotFromPage(Exception):
    """A form came without the token its page gives it (not posted from our page, or from a page older
    than the token): without it a repeat could not be told from a new submission."""


def _minutes(exc: Any) -> dict[str, object]:
    return {"m": max(1, (exc.retry_after + 59) // 60)}


def _retry_after(exc: Any) -> int:
    return int(exc.retry_after)


def _instance(exc: sso.EntryRefused) -> dict[str, object]:
    return {"instance": exc.instance_id}


def _entry_page(status: int, *, title: Promise, message: Promise, hint: Promise) -> Refusal:
    """A refusal of the login-free entry: its page says what happened and what to do now."""
    return Refusal(status, message, page=SSO_REFUSED_PAGE, title=title, hint=hint, params=_instance)


_CODE = account_rules.Verdict
_ISSUE = account_rules.IssueLimit
_USERNAME = account_rules.UsernameRule
_ENTRY = sso.Refusal
_MOVE = workspace_rules.MoveRule
_INVALID_LINK = _entry_page(
    400,
    title=_("免登链接无效"),
    message=_("该链接的签名校验失败或参数不完整，可能被修改或复制不完整。"),
    hint=_("请回到阿里云市场「已购买的服务」，重新点击「免登」。"),
)

# (exception class, its verdict/reason or None) → how it is answered.
TABLE: dict[tuple[type[Exception], Enum | None], Refusal] = {
    # -- email codes ---------------------------------------------------------------------------------
    (account_actions.CodeRefused, _CODE.WRONG): Refusal(
        400, _("验证码错误，还可尝试 %(n)s 次"), field="code", params=lambda exc: {"n": exc.tries_left}
    ),
    (account_actions.CodeRefused, _CODE.MISSING): Refusal(400, _("请先获取验证码"), field="code"),
    (account_actions.CodeRefused, _CODE.EXPIRED): Refusal(400, _("验证码已过期，请重新获取"), field="code"),
    (account_actions.CodeRefused, _CODE.USED): Refusal(400, _("验证码已使用，请重新获取"), field="code"),
    (account_actions.CodeRefused, _CODE.BURNED): Refusal(
        400, _("验证码错误次数过多，已失效，请重新获取"), field="code"
    ),
    # Throttled answers are 429 with Retry-After; the page shows the form and says how long to wait.
    (account_actions.CodeRefused, _CODE.LOCKED): Refusal(
        429, _("验证码错误次数过多，请 %(m)s 分钟后再试"), field="code", params=_minutes, retry_after=_retry_after
    ),
    # 获取验证码 refused: said beside the button. Within the cooldown the notice of the code sent a
    # moment ago stays, this added to it (the button counts the seconds down).
    (account_rules.IssueRefused, _ISSUE.COOLDOWN): Refusal(
        429,
        _("如未收到，请 %(s)s 秒后重新获取"),
        field="email",
        params=lambda exc: {"s": exc.retry_after},
        retry_after=_retry_after,
    ),
    (account_rules.IssueRefused, _ISSUE.EMAIL_CAP): Refusal(
        429, _("获取验证码次数已达上限，请 %(m)s 分钟后再试"), field="email", params=_minutes, retry_after=_retry_after
    ),
    (account_rules.IssueRefused, _ISSUE.IP_CAP): Refusal(
        429, _("获取验证码次数已达上限，请 %(m)s 分钟后再试"), field="email", params=_minutes, retry_after=_retry_after
    ),
    # -- forms ---------------------------------------------------------------------------------------
    (FormNotFromPage, None): Refusal(400, _("页面已过期，请检查后重新提交")),
    # -- accounts ------------------------------------------------------------------------------------
    (account_rules.UsernameError, _USERNAME.LENGTH): Refusal(400, _("用户名长度须为 4–32 个字符"), field="username"),
    (account_rules.UsernameError, _USERNAME.CHARSET): Refusal(
        400, _("用户名只能包含小写字母、数字、下划线(_)、点(.)和连字符(-)"), field="username"
    ),
    (account_rules.UsernameError, _USERNAME.START): Refusal(400, _("用户名须以字母开头"), field="username"),
    (account_actions.UsernameTaken, None): Refusal(409, _("该用户名已被注册，请更换用户名"), field="username"),
    (account_actions.TooManyAttempts, None): Refusal(
        429, _("尝试次数过多，请 %(m)s 分钟后再试"), params=_minutes, retry_after=_retry_after
    ),
    (account_actions.AccountMismatch, None): Refusal(400, _("用户名与邮箱不匹配，请检查后重试"), field="username"),
    (account_actions.InstanceBoundElsewhere, None): Refusal(
        400, _("此云市场实例已绑定其他费用中心账号，无法重复绑定。")
    ),
    # -- the session's instance ------------------------------------------------------------------------
    (NoEntry, None): Refusal(
        403,
        _("开通页面需要通过阿里云市场的免登链接进入。请前往阿里云市场「已购买的服务」，在观测云实例右侧点击「免登」。"),
        page=NO_ENTRY_PAGE,
        title=_("请从阿里云市场免登进入"),
    ),
    (account_actions.InstanceNotActive, None): Refusal(
        409,
        _(
            "该云市场实例已到期或已释放，无法用于结算。请在阿里云市场续费或重新购买后，再从「已购买的服务」点击「免登」进入。"
        ),
        page=INSTANCE_GONE_PAGE,
        title=_("云市场实例已不可用"),
    ),
    # The exclusive edition on a site without SLS (only cn1 and cn3 have it): nothing is opened here.
    (sls_rules.SiteWithoutSls, None): Refusal(
        409,
        _(
            "观测云专属版的数据存储在您阿里云账号的日志服务 SLS 中，只能在中国区1（杭州）或中国区3（张家口）站点开通。"
            "本站点不提供专属版，未记录任何信息。请前往上述站点开通，或在阿里云市场购买观测云商业版。"
        ),
        page=INSTANCE_GONE_PAGE,  # the same page: a title and what happened
        title=_("本站点不提供观测云专属版"),
    ),
    # -- 绑定阿里云账号 (the exclusive edition): each above the form of the way it concerns ---------------------
    (sls_rules.InvalidAccessKey, None): Refusal(400, _("该 AccessKey 无效，请重新填写")),
    (sls_rules.KeyOfAnotherAccount, None): Refusal(
        400, _("该 AccessKey 不属于购买本实例的阿里云账号。请使用该主账号或其 RAM 用户的 AccessKey。")
    ),
    (sls_rules.NoSlsPermission, None): Refusal(
        403,
        _("没有日志服务 SLS 的操作权限。请为 RAM 用户添加观测云的权限策略（或重新完成第三方快捷授权）后再验证。"),
    ),
    (sls_rules.SlsNotActivated, None): Refusal(
        409, _("您的阿里云账号尚未开通日志服务 SLS。请先在阿里云控制台开通日志服务，再点击「验证」。")
    ),
    (sls_rules.RoleNotAuthorised, None): Refusal(
        409, _("尚未完成第三方快捷授权，或授权已被撤销。请点击「立即前往授权」，在阿里云页面同意授权后再验证。")
    ),
    (sls_rules.CloudUnavailable, None): Refusal(409, _("暂时无法连接阿里云，请稍后再点击「验证」。")),
    (sls_rules.GrantNeeded, None): Refusal(409, _("请先绑定阿里云账号，验证后才能创建专属版工作空间。")),
    (sls_rules.GrantRevoked, None): Refusal(
        409, _("阿里云账号的授权已失效，请重新绑定阿里云账号并验证后，再创建专属版工作空间。")
    ),
    # -- workspaces ----------------------------------------------------------------------------------
    (workspace_rules.WorkspaceNameError, None): Refusal(400, _("请填写工作空间名称"), field="name"),
    (workspace_actions.WorkspaceNotFound, None): Refusal(
        404, _("该工作空间不存在，或不属于当前费用中心账号。"), page=NOT_FOUND_PAGE, title=_("未找到该工作空间")
    ),
    (workspace_rules.AlreadyBoundElsewhere, None): Refusal(400, _("该工作空间已由其他云市场实例结算，无法绑定。")),
    # 绑定 is a move of the workspace's settlement: the billing center's rules hold here too.
    (workspace_rules.MoveRefused, _MOVE.ONCE_A_MONTH): Refusal(
        409, _("该工作空间本月已更改过结算方式，%(date)s 起可再次更改。"), params=workspace_rules.move_refusal_params
    ),
    (workspace_rules.MoveRefused, _MOVE.STILL_SUBSCRIBED): Refusal(
        409, _("该工作空间由仍在订阅中的云账号结算，无法更改结算方式。")
    ),
    (workspace_actions.NotTheWorkspaceEmail, None): Refusal(
        400, _("请输入该工作空间所属费用中心账号或拥有者的邮箱"), field="email"
    ),
    (workspace_actions.NotTheConsoleEmail, None): Refusal(400, _("请输入注册观测云账号时使用的邮箱"), field="email"),
    (workspace_actions.NoConsoleAccount, None): Refusal(
        400, _("该费用中心账号没有控制台账号，请通过「已有企业账号，去绑定」创建工作空间。")
    ),
    (workspace_rules.StorageMismatch, None): Refusal(
        409, _("专属版与商业版的工作空间不能互换：该工作空间不能由此云市场实例结算。")
    ),
    # -- the login-free entry (免登): a page each ----------------------------------------------------------
    (sso.EntryRefused, _ENTRY.MALFORMED): _INVALID_LINK,
    (sso.EntryRefused, _ENTRY.BAD_TOKEN): replace(_INVALID_LINK, status=401),
    (sso.EntryRefused, _ENTRY.STALE): _entry_page(
        401,
        title=_("免登链接已过期"),
        message=_("该免登链接的时间戳已超出有效时间。"),
        hint=_("请回到阿里云市场「已购买的服务」，重新点击「免登」。如果仍然失败，请检查电脑的系统时间是否准确。"),
    ),
    (sso.EntryRefused, _ENTRY.REPLAYED): _entry_page(
        401,
        title=_("免登链接已使用"),
        message=_("每个免登链接只能使用一次，该链接已被使用过。"),
        hint=_("请回到阿里云市场「已购买的服务」，重新点击「免登」获取新的链接。"),
    ),
    (sso.EntryRefused, _ENTRY.UNKNOWN_INSTANCE): _entry_page(
        404,
        title=_("未找到该实例"),
        message=_("我们尚未收到该云市场实例的开通信息，可能仍在处理中。"),
        hint=_("请稍候一分钟，再回到阿里云市场「已购买的服务」重新点击「免登」。"),
    ),
    (sso.EntryRefused, _ENTRY.EXPIRED): _entry_page(
        403,
        title=_("实例已到期"),
        message=_("云市场实例 %(instance)s 已到期。"),
        hint=_("请在阿里云市场续费后，再从「已购买的服务」点击「免登」进入。"),
    ),
    (sso.EntryRefused, _ENTRY.RELEASED): _entry_page(
        403,
        title=_("实例已释放"),
        message=_("云市场实例 %(instance)s 已释放，无法再开通或绑定观测云。"),
        hint=_("如需继续使用，请在阿里云市场重新购买观测云，再从「已购买的服务」点击「免登」进入。"),
    ),
}

# The attribute that tells apart the refusals one exception class stands for.
_VARIANT = {
    account_actions.CodeRefused: "verdict",
    account_rules.IssueRefused: "reason",
    account_rules.UsernameError: "reason",
    sso.EntryRefused: "refusal",
    workspace_rules.MoveRefused: "rule",
}

# What views catch around an action: every exception class the table answers.
REFUSED: tuple[type[Exception], ...] = tuple(dict.fromkeys(cls for cls, _variant in TABLE))


def _key(exc: Exception) -> tuple[type[Exception], Enum | None]:
    attribute = _VARIANT.get(type(exc))
    return type(exc), getattr(exc, attribute) if attribute else None


def refusal_for(exc: Exception) -> Refusal:
    """The table's row for ``exc``; KeyError for an exception it does not know (a bug, not a refusal)."""
    return TABLE[_key(exc)]


def answer(exc: Exception) -> Answer:
    """How to answer ``exc``, in the active language (call it while answering the request)."""
    refusal = refusal_for(exc)
    params = refusal.params(exc)
    cls, variant = _key(exc)
    return Answer(
        status=refusal.status,
        message=str(refusal.message) % params if params else str(refusal.message),
        field=refusal.field,
        page=refusal.page,
        title=str(refusal.title),
        hint=str(refusal.hint),
        retry_after=refusal.retry_after(exc) if refusal.retry_after else None,
        code=variant.value if variant is not None else cls.__name__,
    )
