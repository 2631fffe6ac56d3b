"""The outermost middleware: every request gets an id (in its log lines and its answer) and is counted
and timed by route class (``config/metrics.py``), static files and refusals included."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable

from django.conf import settings
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from kaitong.config import metrics
from kaitong.config.logs import request_id_var

REQUEST_ID_HEADER = "X-Request-ID"
# What a proxy's request id may look like to be taken over (nginx's $request_id, a UUID, a trace id).
_PROXY_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def _meta_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


class ObservedRequests:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        header = settings.ENV.request_id_header
        # Only a header the operator named (one their proxy sets, overwriting the client's) is trusted.
        self.proxy_id_key = _meta_key(header) if header else ""

    def _request_id(self, request: HttpRequest) -> str:
        if self.proxy_id_key:
            offered = str(request.META.get(self.proxy_id_key, ""))
            if _PROXY_ID.fullmatch(offered):
                return offered
        return secrets.token_hex(16)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = self._request_id(request)
        # Kept until the request is finished, not only until this returns: Django logs a 4xx/5xx answer
        # ("Not Found: …") after the whole middleware chain, and that line belongs to the request too.
        request_id_var.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        metrics.observe_request(
            path=request.path_info,
            method=request.method or "",
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response


@receiver(request_finished)
def _forget_request_id(**kwargs: object) -> None:
    """The thread's next log lines (another request's, or none) are not this request's."""
    request_id_var.set("")
