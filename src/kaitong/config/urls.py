from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from kaitong.billing.api import api as usage_api
from kaitong.config import views
from kaitong.countdown.api import router as token_check
from kaitong.timeline import views as timeline_views
from kaitong.workspaces import forms as workspace_forms
from kaitong.workspaces import views as workspace_views

admin.site.site_header = "kaitong 运营后台"
admin.site.site_title = "kaitong"
admin.site.login_form = workspace_forms.OperatorSignInForm  # the console's sign-in limits apply here too
usage_api.add_router("/", token_check)  # GET /api/v1/tokens/<token>: the data platform's token check

urlpatterns = [
    path("", views.home, name="home"),
    # Browsers ask for /favicon.ico whatever the page's <link rel="icon"> says (and tools that read no
    # HTML too): not permanent, so a new icon is seen without clearing a browser's cache.
    path("favicon.ico", RedirectView.as_view(url=f"{settings.STATIC_URL}kaitong/favicon.ico")),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.prometheus_metrics, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("ops/login/", workspace_views.operator_sign_in),  # before the admin's own: throttled sign-in
    # The operator's per-instance timeline, behind the admin's sign-in, in its frame.
    path(
        "ops/timeline/instance/<str:instance_id>/",
        admin.site.admin_view(timeline_views.instance_timeline),
        name="instance_timeline",
    ),
    path("ops/", admin.site.urls),
    path("", include("kaitong.marketplace.urls")),
    path("api/v1/", usage_api.urls),
    path("billing/alerts/", include("kaitong.notices.urls")),  # 费用中心 > 高消费预警
    path("billing/", include("kaitong.billing.urls")),
    path("activate/", include("kaitong.activation.urls")),
    path("console/", include("kaitong.workspaces.urls")),
]

# Any exception a view or middleware lets out; an unavailable database becomes a 503 there.
handler500 = "kaitong.config.views.server_error"
