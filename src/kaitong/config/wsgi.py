import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaitong.config.settings")
application = get_wsgi_application()


def _preload() -> None:
    # The Market API's SDK takes seconds to import. ``kaitong serve`` imports this module before gunicorn
    # forks, so every worker starts with it loaded and an SPI expire's confirmation (2 s budget) never
    # pays for the import.
    from django.conf import settings

    if settings.ENV.instance_check_client == "sdk":
        from kaitong.marketplace.aliyun.instances import preload_sdk

        preload_sdk()


_preload()
