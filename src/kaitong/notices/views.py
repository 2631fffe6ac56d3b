"""费用中心 > 高消费预警: the owner sets, per workspace, the daily amount of one item above which they are
told (by email, and SMS when their account has a phone number), in the workspace's language."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kaitong.notices import actions, queries
from kaitong.notices.forms import SpendThresholdForm


def _user_id(request: HttpRequest) -> int:
    assert request.user.pk is not None  # login_required ran first
    return int(request.user.pk)


def _page(
    request: HttpRequest, *, failed: tuple[int, SpendThresholdForm] | None = None, status: int = 200
) -> HttpResponse:
    rows = []
    for row in queries.spend_alerts_of(owner_id=_user_id(request)):
        if failed is not None and failed[0] == row.workspace_id:
            form = failed[1]
        else:
            form = SpendThresholdForm(initial={"threshold": row.threshold}, auto_id=f"id_%s_{row.workspace_id}")
        rows.append({"row": row, "form": form})
    return render(request, "notices/spend_alerts.html", {"rows": rows, "section": "spend_alerts"}, status=status)


@login_required
def spend_alerts(request: HttpRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_POST
def set_spend_alert(request: HttpRequest, workspace_id: int) -> HttpResponse:
    if "off" in request.POST:
        amount = None
    else:
        form = SpendThresholdForm(request.POST, auto_id=f"id_%s_{workspace_id}")
        if not form.is_valid():
            return _page(request, failed=(workspace_id, form), status=400)
        amount = form.cleaned_data["threshold"]
    try:
        actions.do_set_spend_threshold(
            workspace_id=workspace_id, acting_user_id=_user_id(request), amount=amount, now=timezone.now()
        )
    except actions.NotYourWorkspace:
        raise Http404 from None  # missing and not yours look the same
    if amount is None:
        messages.success(request, _("已关闭该工作空间的高消费预警。"))
    else:
        messages.success(
            request, _("已保存：任一计费项的日费用超过 ¥%(amount)s 时提醒您。") % {"amount": f"{amount:,.2f}"}
        )
    return redirect("notices:spend_alerts")
