from django.apps import AppConfig


class WorkspacesConfig(AppConfig):
    name = "kaitong.workspaces"
    verbose_name = "工作空间 Workspaces"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kaitong.workspaces import settlement  # noqa: F401  (registers the release → fallback receiver)
