from django.urls import path

from kaitong.marketplace import sso_views, views

app_name = "marketplace"
urlpatterns = [
    path("marketplace/aliyun/spi", views.spi_endpoint, name="spi"),
    path("marketplace/aliyun/sso", sso_views.login_free_entry, name="sso"),
]
