from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketplaceConfig(AppConfig):
    name = "kaitong.marketplace"
    verbose_name = _("云市场实例")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kaitong.marketplace import tasks  # noqa: F401  (registers the periodic duty: reconciliation)
