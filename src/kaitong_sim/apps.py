from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    name = "kaitong_sim"
    # The label the tables and migration history were created under: existing databases keep working.
    label = "simulator"
    verbose_name = "云市场模拟器 Marketplace simulator"
    default_auto_field = "django.db.models.BigAutoField"
