from django.urls import path

from kaitong_sim import cloud_views, views

app_name = "simulator"
urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("signin/", views.signin, name="signin"),
    path("signout/", views.signout, name="signout"),
    path("buy/", views.buy, name="buy"),
    path("buy/submitted/", views.submitted, name="submitted"),
    path("console/", views.console, name="console"),
    path("console/bill/", views.bill, name="bill"),
    path("console/clock/", views.advance_clock, name="clock"),
    path("console/rows/", views.console_rows, name="console-rows"),
    path("console/<str:instance_id>/sso/", views.login_free, name="sso"),
    path("console/<str:instance_id>/close/", views.close, name="close"),
    path("console/<str:instance_id>/event/", views.event, name="event"),
    path("ops/", views.ops, name="ops"),
    path("ops/deliveries/<int:delivery_id>/retry/", views.retry_delivery, name="retry"),
    path("mailbox/", views.mailbox_page, name="mailbox"),
    # The buyer's Alibaba account (cloud_views.py); STS and SLS themselves are answered by host (cloud.py).
    path("account/ram/", cloud_views.ram, name="ram"),
    path("account/ram/users/", cloud_views.create_ram_user, name="ram-user"),
    path("account/ram/keys/", cloud_views.create_access_key, name="access-key"),
    path("account/ram/keys/<str:access_key_id>/revoke/", cloud_views.revoke_access_key, name="access-key-revoke"),
    path("account/ram/grants/<int:grant_id>/revoke/", cloud_views.revoke_grant, name="grant-revoke"),
    path("account/sls/", cloud_views.sls, name="sls"),
    path("account/sls/activation/", cloud_views.toggle_sls, name="sls-toggle"),
    path("authorize/", cloud_views.authorize, name="authorize"),
    path("_sim/cloud/access-keys", cloud_views.hook_access_key, name="hook-access-key"),
    path(
        "_sim/cloud/access-keys/<str:access_key_id>/revoke",
        cloud_views.hook_revoke_access_key,
        name="hook-access-key-revoke",
    ),
    path("_sim/cloud/sls", cloud_views.hook_sls, name="hook-sls"),
    path("_sim/cloud/grants", cloud_views.hook_grant, name="hook-grant"),
    path("_sim/cloud/grants/revoke", cloud_views.hook_revoke_grant, name="hook-grant-revoke"),
    path("_sim/cloud/sls-projects", cloud_views.hook_sls_projects, name="hook-sls-projects"),
    path("_sim/accounts", views.hook_account, name="hook-accounts"),
    path("_sim/instances", views.hook_instances, name="hook-instances"),
    path("_sim/instances/<str:instance_id>/events", views.hook_event, name="hook-event"),
    path("_sim/clock", views.hook_clock, name="hook-clock"),
    path("_sim/state", views.hook_state, name="hook-state"),
]
