import hmac
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.utils import timezone
from django.views import defaults
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kaitong.config import health, metrics
from kaitong.marketplace.actions import failure

# What a database that cannot be reached or is locked past its wait raises through Django (PostgreSQL
# down or restarting, a connect timeout, SQLite's write lock held by another process). Transient.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5
# Callers that read JSON: the SPI (the marketplace), the usage API.
SPI_PATH = "/marketplace/aliyun/spi"
API_PREFIX = "/api/"


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. It never asks the database (``/readyz`` does)."""
    return JsonResponse({"ok": True})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when the database takes a write within a second and the task queue keeps up;
    503 (with Retry-After) otherwise, saying which."""
    answer = health.readiness(now=timezone.now(), max_queue_age_seconds=settings.ENV.ready_max_queue_age_seconds)
    response = JsonResponse(answer.body, status=200 if answer.ready else 503)
    if not answer.ready:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        # A probe polled every few seconds: its 503 is the answer, not an error for the log each time.
        response._has_been_logged = True  # type: ignore[attr-defined]
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    """``/metrics`` for a Prometheus scraper holding ``KAITONG_METRICS_TOKEN``; 404 while none is set."""
    expected = settings.ENV.metrics_token
    if not expected:
        return defaults.page_not_found(request, Exception("no metrics token configured"))
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        response = HttpResponse("a bearer token is required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = metrics.scrape_registry(health.DatabaseGauges(now=timezone.now()))
    response = HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 handler, and where an unavailable database becomes a 503 the caller can retry.

    Django calls it for any exception a view or a middleware let out, so a database error anywhere
    (a view's query, the session saved on the way out) is answered the same way: 503 with Retry-After,
    JSON for the machine callers (the SPI in its protocol's shape), a short page for a browser. The
    page renders from a template alone, with no context processor: those would ask the database again.
    Django has logged the exception with its traceback before calling this.
    """
    error = sys.exc_info()[1]
    if not isinstance(error, DATABASE_UNAVAILABLE):
        return defaults.server_error(request)
    path = request.path_info
    if path.startswith(SPI_PATH):
        response: HttpResponse = JsonResponse(failure("", "temporarily unavailable"), status=503)
        metrics.count_spi_verdict("unavailable")
    elif path.startswith(API_PREFIX):
        response = JsonResponse({"message": "temporarily unavailable, try again later", "errors": []}, status=503)
    else:
        page = loader.get_template("unavailable.html").render({"retry_after": RETRY_AFTER_SECONDS})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
