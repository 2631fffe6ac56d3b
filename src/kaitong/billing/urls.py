from django.urls import path

from kaitong.billing import views

app_name = "billing"

urlpatterns = [
    path("", views.bills, name="bills"),
    path("bills/<int:workspace_id>/<str:day>/", views.bill_detail, name="bill_detail"),
    path("workspaces/", views.workspaces, name="workspaces"),
    # h-countdown's lock page links here by this name: keep name and path.
    path("workspaces/<int:workspace_id>/settlement/", views.workspace_settlement, name="workspace_settlement"),
    path("workspaces/<int:workspace_id>/unlock-link/", views.workspace_unlock_link, name="workspace_unlock_link"),
    path("cloud-accounts/", views.cloud_accounts, name="cloud_accounts"),
    path("unlock/<str:token>/", views.unlock, name="unlock"),
]
