from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "kaitong.marketplace"
    verbose_name = "云市场实例 Marketplace instances"
    default_auto_field = "django.db.models.BigAutoField"
