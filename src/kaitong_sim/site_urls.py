"""The simulator process's ROOT_URLCONF: everything under ``/``, in the ``simulator`` namespace."""

from django.urls import include, path

urlpatterns = [path("", include("kaitong_sim.urls"))]
