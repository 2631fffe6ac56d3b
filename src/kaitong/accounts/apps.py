from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kaitong.accounts"
    verbose_name = "账号 Accounts"
    default_auto_field = "django.db.models.BigAutoField"
