from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "kaitong.mail"
    verbose_name = "邮件 Mail"

    def ready(self) -> None:
        from kaitong.mail import jobs  # noqa: F401  (registers the send_email handler)
