from django.urls import path

from kaitong_sim import views

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
    path("_sim/accounts", views.hook_account, name="hook-accounts"),
    path("_sim/instances", views.hook_instances, name="hook-instances"),
    path("_sim/instances/<str:instance_id>/events", views.hook_event, name="hook-event"),
    path("_sim/clock", views.hook_clock, name="hook-clock"),
    path("_sim/state", views.hook_state, name="hook-state"),
]
