"""The simulator process's ROOT_URLCONF: everything under ``/``, in the ``simulator`` namespace."""

from django.conf import settings
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    # Browsers ask for /favicon.ico whatever the page's <link rel="icon"> says: not permanent, so a new
    # icon is seen without clearing a browser's cache.
    path("favicon.ico", RedirectView.as_view(url=f"{settings.STATIC_URL}simulator/favicon.ico")),
    path("", include("kaitong_sim.urls")),
]
