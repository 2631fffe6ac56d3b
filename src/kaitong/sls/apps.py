from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlsConfig(AppConfig):
    name = "kaitong.sls"
    verbose_name = _("日志服务 SLS")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The periodic duty (sls.check_grants) registers with the one scheduler on import; the sealed
        # secret registers for rotate-data-key.
        from kaitong.sealing import register_sealed
        from kaitong.sls import tasks  # noqa: F401
        from kaitong.sls.domain import secret_context

        register_sealed(
            "sls.AliyunGrant", "secret_key_id", "secret_sealed", lambda grant: secret_context(grant.ali_uid)
        )
