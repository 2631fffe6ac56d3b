from django.urls import path

from kaitong.notices import views

app_name = "notices"

urlpatterns = [
    path("", views.spend_alerts, name="spend_alerts"),
    path("<int:workspace_id>/", views.set_spend_alert, name="set_spend_alert"),
]
