from django.urls import path

from kaitong.billing import views

app_name = "billing"

urlpatterns = [
    path("", views.bills, name="bills"),
    path("bills/<int:workspace_id>/<str:day>/", views.bill_detail, name="bill_detail"),
]
