from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CountdownConfig(AppConfig):
    name = "kaitong.countdown"
    verbose_name = _("锁定倒计时")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The receivers (instance state changes, settlement changes) and the periodic duty register on import.
        from kaitong.countdown import actions, tasks  # noqa: F401
