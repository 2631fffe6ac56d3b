from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from kaitong.workspaces import forms, views

app_name = "workspaces"
urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="workspaces/login.html",
            authentication_form=forms.ConsoleSignInForm,
            next_page=reverse_lazy("workspaces:home"),
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page=reverse_lazy("workspaces:login")), name="logout"),
    path("", views.home, name="home"),
    path("workspaces/<int:workspace_id>/", views.workspace, name="workspace"),
]
