"""The SPI endpoint: one URL for every action the marketplace sends (protocol §1.1).

A plain Django view rather than django-ninja: the token covers every raw parameter, unknown ones
included, and duplicate names must be refused, so the view needs the raw query, not a parsed schema.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from kaitong.config import metrics
from kaitong.config.http import client_ip
from kaitong.marketplace.actions import do_receive_spi_call, failure
from kaitong.marketplace.aliyun.instances import instance_lookup
from kaitong.marketplace.aliyun.spi import MAX_QUERY_BYTES

log = logging.getLogger(__name__)
SSO_PATH = "/marketplace/aliyun/sso"


def _json(body: dict, status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


@csrf_exempt
def spi_endpoint(request: HttpRequest) -> JsonResponse:
    if request.method not in ("GET", "POST"):
        # Every answer on the SPI path is the protocol's JSON, a refused method's too (not Django's HTML).
        method = (request.method or "")[:10]
        response = _json(failure("", f"method not allowed: {method}; use GET"), 405)
        response["Allow"] = "GET, POST"
        return response
    sources = [request.META.get("QUERY_STRING", "")]
    if request.method == "POST":
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > MAX_QUERY_BYTES:
            return _json(failure("", "request too large"), 413)
        if request.content_type == "application/x-www-form-urlencoded":
            sources.append(request.body.decode("latin-1"))
    env = settings.ENV
    try:
        answer = do_receive_spi_call(
            raw_sources=sources,
            now=timezone.now(),
            isv_key=env.aliyun_isv_key,
            auth_url=env.public_url + SSO_PATH,
            # Asked before an expire, release or resume; briefly, since the marketplace waits ~5 s in all.
            marketplace=instance_lookup(timeout_ms=env.instance_check_timeout_ms),
            remote_addr=client_ip(request),
        )
    except DatabaseError:
        # Fail closed: never answer success without a commit; the marketplace will call again.
        log.exception("SPI call could not be stored")
        metrics.count_spi_verdict("unavailable")
        return _json(failure("", "temporarily unavailable"), 503)
    metrics.count_spi_verdict(answer.verdict)
    return _json(answer.body)
