"""The console after 开通成功: sign in, the workspace home, and its DataKit onboarding.

A workspace in its lock countdown shows a banner (days left, why, what to do); a locked one shows the
lock page instead of itself (立即解锁, 解散), and none of its data (kaitong.countdown).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from kaitong.billing import queries as billing_queries
from kaitong.billing.domain import beijing_day
from kaitong.countdown import queries as countdown
from kaitong.workspaces import forms, queries

HISTORY_DAYS = 7


def _throttled_as_429(response: HttpResponse, form: object) -> HttpResponse:
    """A sign-in refused for too many failures: 429 with Retry-After; the page still shows the form
    and says how long to wait."""
    retry_after = getattr(form, "retry_after", None)
    if retry_after is not None:
        response.status_code = 429
        response["Retry-After"] = str(retry_after)
    return response


class SignInView(auth_views.LoginView):
    template_name = "workspaces/login.html"
    authentication_form = forms.ConsoleSignInForm
    redirect_authenticated_user = True

    def form_invalid(self, form: forms.ConsoleSignInForm) -> HttpResponse:  # type: ignore[override]
        return _throttled_as_429(super().form_invalid(form), form)


def operator_sign_in(request: HttpRequest) -> HttpResponse:
    """The operator console's sign-in page (/ops/login/): Django admin's (its form is
    OperatorSignInForm, set where the site is configured), answering 429 when throttled."""
    response = admin.site.login(request)
    context = getattr(response, "context_data", None) or {}
    return _throttled_as_429(response, context.get("form"))


def _user_id(request: HttpRequest) -> int:
    assert request.user.pk is not None  # login_required ran first
    return int(request.user.pk)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    owned = queries.workspaces_of(_user_id(request))
    if len(owned) == 1:
        return redirect("workspaces:workspace", workspace_id=owned[0][0])
    statuses = countdown.statuses_of([workspace_id for workspace_id, _ in owned], now=timezone.now())
    rows = [(workspace_id, name, statuses.get(workspace_id)) for workspace_id, name in owned]
    return render(request, "workspaces/home.html", {"owned": owned, "rows": rows})


@login_required
def workspace(request: HttpRequest, workspace_id: int) -> HttpResponse:
    found = queries.workspace_home(workspace_id=workspace_id, owner_id=_user_id(request))
    if found is None:
        # Missing and not-yours get the same page.
        return render(request, "workspaces/not_found.html", status=404)
    owned = queries.workspaces_of(_user_id(request))
    now = timezone.now()
    status = countdown.status_of(workspace_id, now=now)
    if status is not None and status.locked:
        # Locked: the lock page in place of the workspace; nothing of its data or its token is shown.
        return render(request, "countdown/lock.html", {"ws": found, "owned": owned, "countdown": status})
    history = billing_queries.usage_history(
        workspace_id=workspace_id, today=beijing_day(now), days=HISTORY_DAYS, language=request.LANGUAGE_CODE
    )
    return render(
        request, "workspaces/workspace.html", {"ws": found, "owned": owned, "countdown": status, "history": history}
    )
