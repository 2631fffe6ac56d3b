from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "kaitong.billing"
    verbose_name = "计费与结算 Billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kaitong.billing import tasks  # noqa: F401  (registers the periodic duties)
