from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "kaitong.outbox"
    verbose_name = "发件箱 Outbox"
    default_auto_field = "django.db.models.BigAutoField"
