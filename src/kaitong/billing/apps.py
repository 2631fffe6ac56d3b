from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "kaitong.billing"
    verbose_name = "计费与结算 Billing"
    default_auto_field = "django.db.models.BigAutoField"
