from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "kaitong.billing"
    verbose_name = _("计费与结算")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kaitong.billing import tasks  # noqa: F401  (registers the periodic duties)
