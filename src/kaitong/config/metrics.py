"""Every metric kaitong counts as it works, in one place (Prometheus text format at ``/metrics``).

Counters and histograms live in the process that serves a request. ``kaitong serve`` runs several
gunicorn worker processes, so it turns on prometheus-client's multiprocess mode (each process writes
its samples to files in ``PROMETHEUS_MULTIPROC_DIR``, set up by the ``serve`` command) and a scrape,
answered by any one process, adds up all of them. Numbers that are state rather than events (the task
queue, the ledger, the push deadline) are not counted here: ``config/health.py`` reads them from the
database at scrape time, so every process and every machine tells the same truth.

Labels take only values from fixed sets: a request can never mint a new time series.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.registry import REGISTRY, Collector

from kaitong.accounts.domain import IssueRefused

P = ParamSpec("P")
T = TypeVar("T")
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

# Path prefix → route class, first match wins. Anything else (a 404 for a made-up path) is "other".
ROUTE_CLASSES: tuple[tuple[str, str], ...] = (
    ("/marketplace/aliyun/spi", "spi"),
    ("/marketplace/aliyun/sso", "sso"),
    ("/activate/", "activation"),
    ("/console/", "console"),
    ("/billing/", "billing"),
    ("/api/", "api"),
    ("/ops/", "ops"),
    ("/static/", "static"),
    ("/i18n/", "language"),
    ("/healthz", "probe"),
    ("/readyz", "probe"),
    ("/metrics", "probe"),
)
METHODS = frozenset({"GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "kaitong_http_requests",
    "HTTP requests answered, by route class, method and status code.",
    ["route", "method", "code"],
)
LATENCY = Histogram(
    "kaitong_http_request_duration_seconds",
    "Time from the request reaching kaitong to its answer, by route class.",
    ["route"],
    # The marketplace gives an SPI call 5 s; the SPI's goal under load is a p99 below 0.5 s.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SPI_VERDICTS = Counter(
    "kaitong_spi_calls",
    "SPI calls by verdict: applied, unchanged, refused (by the lifecycle), rejected (bad or unsigned), "
    "unavailable (the database was: answered 503, the marketplace calls again).",
    ["verdict"],
)
CODES_SENT = Counter("kaitong_codes_sent", "Verification codes issued (and queued for mail), by purpose.", ["purpose"])
CODE_SENDS_REFUSED = Counter(
    "kaitong_code_sends_refused",
    "Requests for a verification code refused (resend cooldown, hourly cap per email or per address) or "
    "withheld (not_paired: the address is not the one the form needs).",
    ["reason"],
)
CODES_REFUSED = Counter(
    "kaitong_codes_refused",
    "Verification codes entered and refused: wrong, burned, expired, used, missing, locked.",
    ["reason"],
)
SPI_VERDICT_NAMES = frozenset({"applied", "unchanged", "refused", "rejected", "unavailable"})


def route_class(path: str) -> str:
    if path == "/":
        return "home"
    for prefix, name in ROUTE_CLASSES:
        if path.startswith(prefix):
            return name
    return "other"


def observe_request(*, path: str, method: str, status: int, seconds: float) -> None:
    route = route_class(path)
    REQUESTS.labels(route, method if method in METHODS else "other", str(status)).inc()
    LATENCY.labels(route).observe(seconds)


def count_spi_verdict(verdict: str) -> None:
    SPI_VERDICTS.labels(verdict if verdict in SPI_VERDICT_NAMES else "other").inc()


def count_code_refused(reason: str) -> None:
    CODES_REFUSED.labels(reason).inc()


def counts_code_sends(send: Callable[P, T]) -> Callable[P, T]:
    """Decorate the action that issues a code: a code sent (after its transaction committed) or a
    send refused or withheld is counted, with the purpose or the reason."""

    @functools.wraps(send)
    def counted(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            result = send(*args, **kwargs)
        except IssueRefused as refused:
            CODE_SENDS_REFUSED.labels(refused.reason.value).inc()
            raise
        if result is False:
            # Issued and counted, but mailed to nobody: the address is not the one the form needs.
            CODE_SENDS_REFUSED.labels("not_paired").inc()
        else:
            CODES_SENT.labels(str(kwargs.get("purpose", ""))).inc()
        return result

    return counted


def scrape_registry(*collectors: Collector) -> CollectorRegistry:
    """The registry a scrape reads: every process's counters (multiprocess mode) or this process's,
    plus ``collectors`` (numbers read at scrape time)."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_ThisProcess())
    for collector in collectors:
        registry.register(collector)
    return registry


class _ThisProcess(Collector):
    """The default registry's metrics (ours and the process's own), through a registry of a scrape."""

    def collect(self):  # type: ignore[no-untyped-def]
        return REGISTRY.collect()
