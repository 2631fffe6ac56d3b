"""The console after 开通成功: sign in, the workspace home, and its DataKit onboarding."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from kaitong.workspaces import forms, queries


class SignInView(auth_views.LoginView):
    """Django's sign-in, answering a refusal for too many failures as 429 with Retry-After (the page
    still shows the form and says how long to wait)."""

    template_name = "workspaces/login.html"
    authentication_form = forms.ConsoleSignInForm
    redirect_authenticated_user = True

    def form_invalid(self, form: forms.ConsoleSignInForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_invalid(form)
        if form.retry_after is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response


def _user_id(request: HttpRequest) -> int:
    assert request.user.pk is not None  # login_required ran first
    return int(request.user.pk)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    owned = queries.workspaces_of(_user_id(request))
    if len(owned) == 1:
        return redirect("workspaces:workspace", workspace_id=owned[0][0])
    return render(request, "workspaces/home.html", {"owned": owned})


@login_required
def workspace(request: HttpRequest, workspace_id: int) -> HttpResponse:
    found = queries.workspace_home(workspace_id=workspace_id, owner_id=_user_id(request))
    if found is None:
        # Missing and not-yours get the same page.
        return render(request, "workspaces/not_found.html", status=404)
    owned = queries.workspaces_of(_user_id(request))
    return render(request, "workspaces/workspace.html", {"ws": found, "owned": owned})
