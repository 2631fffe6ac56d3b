from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "kaitong.mail"
    verbose_name = "邮件 Mail"
