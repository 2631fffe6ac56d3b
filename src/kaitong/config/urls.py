from django.contrib import admin
from django.urls import include, path

from kaitong.billing.api import api as usage_api
from kaitong.config import views

admin.site.site_header = "kaitong 运营后台"
admin.site.site_title = "kaitong"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("ops/", admin.site.urls),
    path("", include("kaitong.marketplace.urls")),
    path("api/v1/", usage_api.urls),
    path("billing/", include("kaitong.billing.urls")),
    path("activate/", include("kaitong.activation.urls")),
    path("console/", include("kaitong.workspaces.urls")),
]
