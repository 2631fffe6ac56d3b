"""The baselines for bench/spi.py: a bare Django view answering JSON, no middleware.

Served by the same gunicorn configuration as kaitong, so the ratio shows what our SPI work costs.
With ``BENCH_BARE_QUERY=1`` the same view first runs ``SELECT 1`` through Django's connection with
kaitong's own database settings: the most any endpoint that talks to the database can reach here.
"""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.http import JsonResponse
from django.urls import path

QUERY = os.environ.get("BENCH_BARE_QUERY") == "1"

if not settings.configured:
    databases = {}
    if QUERY:
        from kaitong.config.settings import DATABASES as databases  # the same connection settings as ours
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-secret-key-0123456789",  # noqa: S106
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        DATABASES=databases,
        USE_TZ=True,
    )


def bare(request):  # type: ignore[no-untyped-def]
    if QUERY:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    return JsonResponse({"instanceId": request.GET.get("orderBizId", "0"), "appInfo": {"authUrl": "x"}})


urlpatterns = [path("marketplace/aliyun/spi", bare)]
application = get_wsgi_application()
