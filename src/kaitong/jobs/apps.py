from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JobsConfig(AppConfig):
    name = "kaitong.jobs"
    verbose_name = _("任务")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kaitong.jobs import tasks  # noqa: F401  (registers the engine's own duty: pruning)
