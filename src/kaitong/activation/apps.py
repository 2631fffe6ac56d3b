from django.apps import AppConfig


class ActivationConfig(AppConfig):
    name = "kaitong.activation"
    verbose_name = "开通 Activation"
