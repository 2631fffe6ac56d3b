from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkspacesConfig(AppConfig):
    name = "kaitong.workspaces"
    verbose_name = _("工作空间")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kaitong.workspaces import settlement  # noqa: F401  (registers the release → fallback receiver)
