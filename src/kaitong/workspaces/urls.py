from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from kaitong.countdown import views as countdown_views
from kaitong.workspaces import views

app_name = "workspaces"
urlpatterns = [
    path(
        "login/",
        views.SignInView.as_view(next_page=reverse_lazy("workspaces:home")),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page=reverse_lazy("workspaces:login")), name="logout"),
    path("", views.home, name="home"),
    path("workspaces/<int:workspace_id>/", views.workspace, name="workspace"),
    path("introduction/", views.introduction, name="introduction"),
    path("workspaces/<int:workspace_id>/dissolve/", countdown_views.dissolve, name="dissolve"),
]
