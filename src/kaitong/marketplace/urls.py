from django.urls import path

from kaitong.marketplace import views

app_name = "marketplace"
urlpatterns = [
    path("marketplace/aliyun/spi", views.spi_endpoint, name="spi"),
]
