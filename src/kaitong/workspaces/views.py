"""The console after 开通成功: sign in, the workspace home, its DataKit onboarding, and the short
introduction its video tiles open.

A workspace in its lock countdown shows a banner (days left, why, what to do); a locked one shows the
lock page instead of itself (立即解锁, 解散), and none of its data (kaitong.countdown).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from kaitong.billing import queries as billing_queries
from kaitong.billing.domain import beijing_day
from kaitong.countdown import queries as countdown
from kaitong.sls import queries as sls_queries
from kaitong.workspaces import forms, queries

# The longest username the sign-in form takes (Django's username field).
_USERNAME_MAX = 150


def sign_in_url(*, workspace_id: int, username: str) -> str:
    """Where 进入工作空间 leads: the console's sign-in with the workspace owner's username filled in,
    then that workspace (an owner already signed in goes straight there). The login-free entry proves
    the Alibaba Cloud account, never the console user: why, docs/decisions/2026-11-30-returning-buyer.md."""
    query = urlencode({"username": username, "next": reverse("workspaces:workspace", args=[workspace_id])})
    return f"{reverse('workspaces:login')}?{query}"


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
    """Sign in, then ``next``. ``?username=`` fills the username in (进入工作空间 names the owner) and
    puts the cursor in the password; someone signed in as that user (or with no username asked for)
    goes on to ``next`` at once, someone signed in as another user is asked to sign in as this one."""

    template_name = "workspaces/login.html"
    authentication_form = forms.ConsoleSignInForm
    redirect_authenticated_user = True

    def _asked_for(self) -> str:
        return self.request.GET.get("username", "").strip().lower()[:_USERNAME_MAX]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        asked = self._asked_for()
        if asked and request.user.is_authenticated and request.user.get_username() != asked:
            self.redirect_authenticated_user = False  # this request only: show the form for the asked user
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self) -> dict[str, Any]:
        asked = self._asked_for()
        return {**super().get_initial(), "username": asked} if asked else super().get_initial()

    def get_form(self, form_class: Any = None) -> Any:
        form = super().get_form(form_class)
        if self._asked_for():  # the username is known: the password is what is left to type (again)
            form.fields["username"].widget.attrs.pop("autofocus", None)
            form.fields["password"].widget.attrs["autofocus"] = True
        return form

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        if user.is_authenticated and self._asked_for():
            context["signed_in_as"] = user.get_username()  # another user: they sign in as the asked one
        return context

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


@require_GET
def introduction(request: HttpRequest) -> HttpResponse:
    """开始使用观测云's two tiles open this: what the product is, its architecture, and DataKit's steps,
    served from here (nothing is fetched from the internet)."""
    return render(request, "workspaces/introduction.html", {"back": _back_to(request)})


def _back_to(request: HttpRequest) -> str:
    """The workspace the introduction was opened from, when it is a console page of this site."""
    workspace_id = request.GET.get("workspace", "")
    return reverse("workspaces:workspace", args=[int(workspace_id)]) if workspace_id.isdigit() else ""


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
    # An exclusive workspace's data is in the buyer's SLS: where, and whether Guance may still write there.
    storage = sls_queries.storage_of(workspace_id)
    grant = sls_queries.grant_of(found.ali_uid) if storage is not None and found.ali_uid else None
    return render(
        request,
        "workspaces/workspace.html",
        {"ws": found, "owned": owned, "countdown": status, "history": history, "storage": storage, "grant": grant},
    )
