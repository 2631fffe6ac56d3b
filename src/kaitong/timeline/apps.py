from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TimelineConfig(AppConfig):
    name = "kaitong.timeline"
    verbose_name = _("时间线")
    default_auto_field = "django.db.models.BigAutoField"
