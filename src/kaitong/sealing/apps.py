from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SealingConfig(AppConfig):
    """Secrets sealed at rest (no models of its own: other capabilities register their sealed columns)."""

    name = "kaitong.sealing"
    verbose_name = _("密钥封存")
