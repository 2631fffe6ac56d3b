"""Billing center (费用中心) pages: today's estimate, the last 30 days, daily bills per workspace and item,
and what was pushed to the marketplace."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from kaitong.billing import domain, overview, queries


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
    return render(request, "billing/bill_detail.html", {"detail": found, "bill": found.head, "lines": found.lines})
