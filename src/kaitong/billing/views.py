"""Billing center (费用中心) pages: today's estimate, the last 30 days, daily bills per workspace and item,
and what was pushed to the marketplace; 工作空间管理 with 更改结算方式; 账户管理 > 云账号; and the
one-time unlock link (立即解锁) that opens a workspace's 更改结算方式 page without signing in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from kaitong.accounts import actions as account_actions
from kaitong.activation.session import UnlockGrant
from kaitong.billing import domain, forms, overview, queries
from kaitong.countdown import queries as countdown_queries
from kaitong.workspaces import domain as workspace_rules
from kaitong.workspaces import management
from kaitong.workspaces import queries as workspace_queries


# The words the chart script shows (it holds no text of its own, so both languages come from the catalogue).
def _chart_text() -> dict[str, str]:
    return {
        "estimated": _("预估，未出账"),
        "not_closed": _("尚未出账"),
        "total": _("合计"),
        "axis": _("费用（元）"),
        # Translators: the colon between a label and its amount in the chart's tooltip.
        "colon": _("："),
    }


@login_required
def bills(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    language = get_language() or "zh-hans"
    workspace_ids, instance_ids = queries.scope_for_user(user_id=int(request.user.pk or 0))
    workspaces = queries.workspace_names(workspace_ids=workspace_ids)
    estimate = queries.today_estimate(workspaces=workspaces, now=now) if workspaces else None
    chart_data = None
    if workspaces:
        chart = queries.daily_chart(
            workspaces=workspaces,
            today=domain.beijing_day(now),
            estimate=estimate.by_workspace() if estimate else {},
            others_name=_("其他工作空间"),
        )
        chart_data = overview.chart_json(chart, text=_chart_text())
    return render(
        request,
        "billing/bills.html",
        {
            "estimate": estimate,
            "estimate_rows": queries.estimate_rows(estimate, language=language) if estimate else [],
            "chart_data": chart_data,
            "bills": queries.bills_for_workspaces(workspace_ids=workspace_ids),
            "pushes": queries.pushes_for_instances(instance_ids=instance_ids),
            "section": "bills",
        },
    )


@login_required
def bill_detail(request: HttpRequest, workspace_id: int, day: str) -> HttpResponse:
    workspace_ids, _scope = queries.scope_for_user(user_id=int(request.user.pk or 0))
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        raise Http404 from None
    # Missing and not yours look the same.
    found = (
        queries.bill_detail(workspace_id=workspace_id, day=parsed, language=get_language() or "zh-hans")
        if workspace_id in workspace_ids
        else None
    )
    if found is None:
        raise Http404
    return render(
        request,
        "billing/bill_detail.html",
        {"detail": found, "bill": found.head, "lines": found.lines, "section": "bills"},
    )


# -- 工作空间管理 and 更改结算方式 ---------------------------------------------------------------------------


def _user_id(request: HttpRequest) -> int | None:
    return int(request.user.pk) if request.user.is_authenticated and request.user.pk is not None else None


@login_required
def workspaces(request: HttpRequest) -> HttpResponse:
    user_id = _user_id(request)
    assert user_id is not None
    rows = workspace_queries.managed_workspaces(user_id=user_id, now=timezone.now())
    return render(request, "billing/workspaces.html", {"rows": rows, "section": "workspaces"})


@dataclass(frozen=True)
class _Refusal:
    status: int
    message: Promise
    field: str | None = None  # None: above the form


_MOVE = workspace_rules.MoveRule
# Every refusal of 更改结算方式, and its words. Nothing changed when one is shown (the action rolled back).
_REFUSALS: dict[Any, _Refusal] = {
    management.InstanceNotOfAccount: _Refusal(
        400, gettext_lazy("未找到该阿里云账号下的这个实例，请核对阿里云账号 ID 和商品实例 ID。"), "instance_id"
    ),
    account_actions.InstanceNotActive: _Refusal(
        409,
        gettext_lazy("该云市场实例已到期或已释放，无法用于结算。请在阿里云市场续费或重新购买后再试。"),
        "instance_id",
    ),
    account_actions.InstanceBoundElsewhere: _Refusal(
        409, gettext_lazy("此云市场实例已绑定其他费用中心账号，无法用于本账号的工作空间。"), "instance_id"
    ),
    _MOVE.ONCE_A_MONTH: _Refusal(409, gettext_lazy("该工作空间本月已更改过结算方式，%(date)s 起可再次更改。")),
    _MOVE.STILL_SUBSCRIBED: _Refusal(
        409,
        gettext_lazy(
            "该工作空间由仍在订阅中的云账号结算，无法更改结算方式。如需更改，请先在阿里云市场关闭该实例或待其到期。"
        ),
    ),
    workspace_rules.StorageMismatch: _Refusal(
        409,
        gettext_lazy(
            "专属版与商业版的工作空间不能互换：专属版工作空间只能由专属版云市场实例结算，商业版工作空间不能由专属版实例结算。"
        ),
    ),
    "form_token": _Refusal(400, gettext_lazy("页面已过期，请检查后重新提交")),
}
REFUSED = (
    management.InstanceNotOfAccount,
    account_actions.InstanceNotActive,
    account_actions.InstanceBoundElsewhere,
    workspace_rules.MoveRefused,
    workspace_rules.StorageMismatch,
)


def refusal_message(exc: Exception) -> tuple[int, str, str | None]:
    """(status, message, field) of a refusal of 更改结算方式, in the active language."""
    if isinstance(exc, workspace_rules.MoveRefused):
        refusal = _REFUSALS[exc.rule]
        return refusal.status, str(refusal.message) % workspace_rules.move_refusal_params(exc), refusal.field
    refusal = _REFUSALS[type(exc)]
    return refusal.status, str(refusal.message), refusal.field


def move_notice(row: workspace_queries.ManagedWorkspace) -> str:
    """Why the workspace cannot move now, said before the buyer tries (empty: it can)."""
    if row.move_refused is None:
        return ""
    return refusal_message(workspace_rules.MoveRefused(row.move_refused, row.next_move_from))[1]


def _settlement_access(request: HttpRequest, workspace_id: int) -> str | None:
    """How this browser may open the workspace's 更改结算方式 page: "owner" (signed in, and manages it),
    "link" (followed its unlock link a short while ago), or None."""
    user_id = _user_id(request)
    if user_id is not None and workspace_queries.may_manage(user_id=user_id, workspace_id=workspace_id):
        return "owner"
    if UnlockGrant.of(request).workspace_id(now=timezone.now()) == workspace_id:
        return "link"
    return None


def _settlement_page(
    request: HttpRequest,
    row: workspace_queries.ManagedWorkspace,
    *,
    access: str,
    form: forms.SettlementForm | None = None,
    alert: str = "",
    status: int = 200,
    unlock_link: str = "",
) -> HttpResponse:
    if form is None:
        form = forms.SettlementForm(initial={"method": row.method})
    context = {
        "ws": row,
        "form": form,
        "alert": alert,
        "notice": move_notice(row),
        # 立即解锁 lands here: say that the workspace is counting down or locked, and that a move lifts it.
        "countdown": countdown_queries.status_of(row.id, now=timezone.now()),
        "access": access,
        "section": "workspaces",
        "unlock_link": unlock_link,
        "form_token": secrets.token_urlsafe(24),  # a new one on every page, used once
        "marketplace_url": _marketplace_url(),
    }
    response = render(request, "billing/workspace_settlement.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _marketplace_url() -> str:
    return settings.ENV.marketplace_product_url


@require_http_methods(["GET", "POST"])
def workspace_settlement(request: HttpRequest, workspace_id: int) -> HttpResponse:
    """更改结算方式 of one workspace: for its signed-in owner, or after its unlock link (立即解锁)."""
    access = _settlement_access(request, workspace_id)
    if access is None:
        if _user_id(request) is None:
            return redirect_to_login(request.get_full_path(), reverse("workspaces:login"))
        # Missing and not yours look the same.
        return render(request, "billing/not_found.html", status=404)
    now = timezone.now()
    row = workspace_queries.managed_workspace(workspace_id=workspace_id, now=now)
    if row is None:
        return render(request, "billing/not_found.html", status=404)
    if request.method != "POST":
        return _settlement_page(request, row, access=access)
    token = request.POST.get("form_token", "")
    if not forms.FORM_TOKEN.fullmatch(token):
        form = forms.SettlementForm(initial={k: v for k, v in request.POST.items() if k != "form_token"})
        refusal = _REFUSALS["form_token"]
        return _settlement_page(request, row, access=access, form=form, alert=str(refusal.message), status=400)
    form = forms.SettlementForm(request.POST)
    if not form.is_valid():
        return _settlement_page(request, row, access=access, form=form, status=400)
    to_method = workspace_rules.Method(form.cleaned_data["method"])
    try:
        changed = management.do_move_settlement(
            workspace_id=workspace_id,
            to_method=to_method,
            ali_uid=form.cleaned_data["ali_uid"],
            instance_id=form.cleaned_data["instance_id"],
            acting=_acting(request, access, row),
            now=now,
            # Scoped to the workspace: a token seen on another workspace's page means nothing here.
            form_token=f"settlement:{workspace_id}:{token}",
        )
    except account_actions.AlreadySubmitted as repeat:
        changed = bool(repeat.outcome.get("changed"))
    except REFUSED as exc:
        status, message, field = refusal_message(exc)
        form.add_error(field, message)
        return _settlement_page(request, row, access=access, form=form, status=status)
    if changed:
        messages.success(request, _("结算方式已更改为「%(method)s」。") % {"method": _method_label(to_method)})
    else:
        messages.info(request, _("工作空间已是这个结算方式，无需更改。"))
    return redirect("billing:workspace_settlement", workspace_id=workspace_id)


def _method_label(method: workspace_rules.Method) -> str:
    return _("阿里云账号结算") if method is workspace_rules.Method.ALIYUN else _("费用中心账号结算")


def _acting(request: HttpRequest, access: str, row: workspace_queries.ManagedWorkspace) -> str:
    """Who changed it, for the audit row: the signed-in console account, or the owner's unlock link."""
    if access == "owner":
        return f"buyer {request.user.get_username()}"
    return f"owner of workspace {row.id} (unlock link)"


@login_required
@require_http_methods(["POST"])
def workspace_unlock_link(request: HttpRequest, workspace_id: int) -> HttpResponse:
    """立即解锁 for a signed-in owner: a one-time link to this workspace's 更改结算方式 page, to open it
    where nobody is signed in (another device, the colleague who pays). Shown once, on this answer."""
    user_id = _user_id(request)
    assert user_id is not None
    now = timezone.now()
    row = workspace_queries.managed_workspace(workspace_id=workspace_id, now=now)
    if row is None or not workspace_queries.may_manage(user_id=user_id, workspace_id=workspace_id):
        return render(request, "billing/not_found.html", status=404)
    link = management.issue_unlock_link(workspace_id, now)
    return _settlement_page(request, row, access="owner", unlock_link=link)


# -- 立即解锁: the one-time link ---------------------------------------------------------------------------

_LINK_REFUSALS = {
    workspace_rules.UnlockLinkState.USED: (
        410,
        gettext_lazy("解锁链接已使用"),
        gettext_lazy("每个解锁链接只能使用一次，这个链接已经用过了。"),
    ),
    workspace_rules.UnlockLinkState.EXPIRED: (
        410,
        gettext_lazy("解锁链接已过期"),
        gettext_lazy("解锁链接在发出 30 分钟后失效，这个链接已经过期。"),
    ),
    workspace_rules.UnlockLinkState.UNKNOWN: (
        404,
        gettext_lazy("解锁链接无效"),
        gettext_lazy("这个链接不完整或并非观测云发出，可能在复制时被截断。"),
    ),
}


def _link_page(request: HttpRequest, template: str, *, status: int = 200, **context: Any) -> HttpResponse:
    response = render(request, template, context, status=status)
    # The token is in this page's address: no other site may see it in a Referer, no cache may keep it.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


def _link_refused(request: HttpRequest, state: workspace_rules.UnlockLinkState) -> HttpResponse:
    status, title, message = _LINK_REFUSALS[state]
    return _link_page(
        request, "billing/unlock_refused.html", status=status, title=title, message=message, state=state.value
    )


@require_http_methods(["GET", "POST"])
def unlock(request: HttpRequest, token: str) -> HttpResponse:
    """The unlock link. Opening it (GET) changes nothing: mail scanners and link previews open links
    too, and must not use it up. 继续 (POST) uses it and opens the workspace's 更改结算方式 page."""
    now = timezone.now()
    if request.method != "POST":
        found = workspace_queries.unlock_link(token=token, now=now)
        if found.state is not workspace_rules.UnlockLinkState.USABLE:
            return _link_refused(request, found.state)
        return _link_page(request, "billing/unlock.html", workspace_name=found.workspace_name)
    try:
        workspace_id = management.do_follow_unlock_link(token=token, now=now)
    except management.UnlockLinkRefused as refused:
        return _link_refused(request, refused.state)
    UnlockGrant.of(request).give(workspace_id=workspace_id, until=now + workspace_rules.UNLOCK_GRANT_LIFETIME)
    return redirect("billing:workspace_settlement", workspace_id=workspace_id)


# -- 账户管理 > 云账号 ---------------------------------------------------------------------------------------


@login_required
def cloud_accounts(request: HttpRequest) -> HttpResponse:
    user_id = _user_id(request)
    assert user_id is not None
    return render(
        request,
        "billing/cloud_accounts.html",
        {
            "clouds": workspace_queries.cloud_accounts_of(user_id=user_id),
            "history": workspace_queries.settlement_history(user_id=user_id),
            "section": "cloud_accounts",
        },
    )
