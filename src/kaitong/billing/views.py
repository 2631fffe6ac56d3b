"""Billing center (费用中心) pages: daily bills per workspace and item, and what was pushed to the marketplace."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language

from kaitong.billing import queries


@login_required
def bills(request: HttpRequest) -> HttpResponse:
    workspace_ids, instance_ids = queries.scope_for_user(user_id=int(request.user.pk or 0))
    return render(
        request,
        "billing/bills.html",
        {
            "bills": queries.bills_for_workspaces(workspace_ids=workspace_ids),
            "pushes": queries.pushes_for_instances(instance_ids=instance_ids),
        },
    )


@login_required
def bill_detail(request: HttpRequest, workspace_id: int, day: str) -> HttpResponse:
    workspace_ids, _ = queries.scope_for_user(user_id=int(request.user.pk or 0))
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        raise Http404 from None
    # Missing and not yours look the same.
    found = (
        queries.bill_lines(workspace_id=workspace_id, day=parsed, language=get_language() or "zh-hans")
        if workspace_id in workspace_ids
        else None
    )
    if found is None:
        raise Http404
    head, lines = found
    return render(request, "billing/bill_detail.html", {"bill": head, "lines": lines})
