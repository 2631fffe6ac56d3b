"""The fake Market OpenAPI's HTTP face: the root of the simulator's host, where the SDK POSTs."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from kaitong_base import clock
from kaitong_sim import catalogue, openapi
from kaitong_sim.domain import PopError, pop_body


def api_config() -> openapi.ApiConfig:
    config = settings.SIMULATOR
    return openapi.ApiConfig(
        access_key_id=config.access_key_id,
        access_key_secret=config.access_key_secret,
        required_assits=(
            {p.code: p.metering_assit for p in catalogue.products(config).values()}
            if config.require_metering_assit
            else None
        ),
        enforce_deadline=config.enforce_deadline,
        unit_price=config.unit_price,
        lookups_per_second=config.lookups_per_second,
    )


def headers_of(request: HttpRequest) -> dict[str, str]:
    return {name.lower(): value for name, value in request.headers.items()}


def market_api(request: HttpRequest) -> JsonResponse:
    try:
        body = request.body
    except RequestDataTooBig:
        error = PopError("InvalidParameter", "The request body is too large.")
        return JsonResponse(pop_body(error, request_id="-"), status=error.status)
    raw = openapi.RawRequest(
        method=request.method or "GET",
        path=request.path,
        query_string=request.META.get("QUERY_STRING", ""),
        body=body,
        content_type=request.content_type or "",
        headers=headers_of(request),
    )
    status, answer = openapi.handle(raw, now=timezone.now(), config=api_config(), stamped_now=clock.real_now())
    return JsonResponse(answer, status=status, json_dumps_params={"ensure_ascii": False})
