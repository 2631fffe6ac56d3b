"""The console's 解散 (dissolve) page: offered during a workspace's lock countdown and on its lock page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from kaitong.countdown import actions, queries
from kaitong.countdown.forms import DissolveForm
from kaitong.workspaces import queries as workspaces


@login_required
@require_http_methods(["GET", "POST"])
def dissolve(request: HttpRequest, workspace_id: int) -> HttpResponse:
    owner_id = int(request.user.pk)  # type: ignore[arg-type]
    found = workspaces.workspace_home(workspace_id=workspace_id, owner_id=owner_id)
    if found is None:
        gone = queries.dissolved_name(workspace_id=workspace_id, owner_id=owner_id)
        if gone is not None and request.method == "POST":
            # The same 解散 sent twice (a double click, a retried request): answered as the first was.
            messages.success(request, _("工作空间「%(name)s」已解散。") % {"name": gone})
            return redirect("workspaces:home")
        return render(request, "workspaces/not_found.html", status=404)
    now = timezone.now()
    status = queries.status_of(workspace_id, now=now)
    context = {"ws": found, "countdown": status, "owned": workspaces.workspaces_of(owner_id)}
    if status is None:
        # Outside a countdown there is nothing to dissolve from here: the page says so.
        return render(request, "countdown/dissolve.html", {**context, "form": None}, status=409)
    form = DissolveForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            name = actions.do_dissolve_workspace(
                workspace_id=workspace_id,
                owner_id=owner_id,
                typed_name=form.cleaned_data["name"],
                acting=f"owner {request.user.get_username()}",
                now=now,
            )
        except actions.NameMismatch:
            form.add_error("name", _("输入的名称与工作空间名称不一致"))
        except (actions.WorkspaceNotFound, actions.NotDissolvable):
            return redirect("workspaces:workspace", workspace_id=workspace_id)
        else:
            messages.success(request, _("工作空间「%(name)s」已解散。") % {"name": name})
            return redirect("workspaces:home")
    status_code = 400 if request.method == "POST" else 200
    return render(request, "countdown/dissolve.html", {**context, "form": form}, status=status_code)
