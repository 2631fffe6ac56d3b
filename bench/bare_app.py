"""The baseline for bench/spi.py: a bare Django view answering JSON, no middleware, no database.

Served by the same gunicorn configuration as kaitong, so the ratio shows what our SPI work costs.
"""

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import JsonResponse
from django.urls import path

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-secret-key-0123456789",  # noqa: S106
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
    )


def bare(request):  # type: ignore[no-untyped-def]
    return JsonResponse({"instanceId": request.GET.get("orderBizId", "0"), "appInfo": {"authUrl": "x"}})


urlpatterns = [path("marketplace/aliyun/spi", bare)]
application = get_wsgi_application()
