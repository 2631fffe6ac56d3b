from django.urls import path

from kaitong.activation import views

app_name = "activation"
urlpatterns = [
    path("", views.start, name="start"),
    path("register/", views.register_basic, name="register_basic"),
    path("register/enterprise/", views.register_enterprise, name="register_enterprise"),
    path("register/open/", views.register_open, name="register_open"),
    path("bind/", views.bind_account, name="bind_account"),
    path("bind/register/", views.register_account, name="register_account"),
    path("aliyun/", views.aliyun, name="aliyun"),
    path("aliyun/returned/", views.aliyun_returned, name="aliyun_returned"),
    path("aliyun/policy.json", views.aliyun_policy, name="aliyun_policy"),
    path("workspaces/", views.workspaces, name="workspaces"),
    path("workspaces/<int:workspace_id>/bind/", views.bind_workspace, name="bind_workspace"),
    path("workspaces/create/", views.create_workspace, name="create_workspace"),
    path("workspaces/register/", views.register_workspace, name="register_workspace"),
    path("done/", views.done, name="done"),
    path("instance/", views.instance, name="instance"),
]
