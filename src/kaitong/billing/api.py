"""``POST /api/v1/usage/samples``: hourly usage in, authenticated by the usage service token.

The body is parsed by hand (not by a schema) so that a bad batch is answered with *every* problem,
each with the index of its sample, and nothing applied. The schemas below document the endpoint.
"""

from __future__ import annotations

import hmac
import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from django.utils import timezone
from ninja import NinjaAPI, Schema, Status
from ninja.security import HttpBearer

from kaitong.billing import domain, ingest


class UsageToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> str | None:
        expected = settings.ENV.usage_api_token
        if expected and hmac.compare_digest(token.encode(), expected.encode()):
            return "usage"
        return None


api = NinjaAPI(
    title="kaitong usage API",
    version="1",
    urls_namespace="usage_api",
    docs_url="/docs",
)


class Accepted(Schema):
    accepted: int


class SampleProblem(Schema):
    index: int
    field: str
    message: str


class Rejected(Schema):
    message: str
    errors: list[SampleProblem]


_BODY_SCHEMA = {
    "description": "Up to 10,000 samples: a JSON array, or an object {samples: [...]}.",
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "array",
                "maxItems": domain.MAX_BATCH,
                "items": {
                    "type": "object",
                    "required": ["workspace", "item", "hour", "quantity"],
                    "additionalProperties": False,
                    "properties": {
                        "workspace": {
                            "description": "the workspace's id, or its token tkn_…",
                            "oneOf": [{"type": "integer", "minimum": 1, "maximum": domain.MAX_ID}, {"type": "string"}],
                        },
                        "item": {
                            "type": "string",
                            "description": "a billing item of the price list",
                            "example": "logs",
                        },
                        "hour": {
                            "type": "string",
                            "format": "date-time",
                            "description": "UTC, on the hour, of a day not settled yet, the workspace existing",
                            "example": "2026-11-26T08:00:00Z",
                        },
                        "quantity": {
                            "description": "≥ 0, at most 6 decimal places; a string keeps a decimal exact",
                            "oneOf": [
                                {"type": "number", "minimum": 0, "exclusiveMaximum": int(domain.MAX_QUANTITY)},
                                {"type": "string", "example": "12.5"},
                            ],
                        },
                    },
                },
            }
        }
    },
}


def _rejected(message: str, errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"message": message, "errors": errors}


class Unauthorized(Schema):
    detail: str


@api.post(
    "/usage/samples",
    auth=UsageToken(),
    response={200: Accepted, 400: Rejected, 401: Unauthorized, 403: Rejected, 413: Rejected},
    openapi_extra={"requestBody": _BODY_SCHEMA},
    summary="Upsert hourly usage samples (all or nothing)",
    description=(
        "400: a bad batch, every problem listed by index. 403: every refused sample names a workspace that "
        "takes no usage: locked (its lock countdown ran out: usage of its locked hours is refused until it "
        "is unlocked) or dissolved; each error gives the reason."
    ),
)
def post_samples(request: HttpRequest) -> Status[dict[str, Any]]:
    try:
        body = request.body
    except RequestDataTooBig:
        # Django refuses to read past DATA_UPLOAD_MAX_MEMORY_SIZE (checked against Content-Length first).
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Status(413, _rejected(f"the body is larger than {limit} bytes; send fewer samples per request", []))
    try:
        raw = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        return Status(400, _rejected("the body is not JSON", []))
    except RecursionError:
        # The decoder recurses once per nested array or object; a batch needs three levels.
        return Status(400, _rejected("the body is nested too deeply to be a batch of samples", []))
    try:
        accepted = ingest.ingest_batch(raw=raw, now=timezone.now())
    except domain.BatchTooLarge as exc:
        return Status(413, _rejected(str(exc), []))
    except ingest.SamplesRejected as exc:
        errors = [e.as_dict() for e in exc.errors]
        if exc.forbidden:
            # Every sample names a workspace that takes no usage now (locked, or dissolved): 403, each
            # with its reason, so the data platform stops sending rather than fixing the batch.
            message = "the batch was refused: its workspaces take no usage (locked or dissolved); nothing was applied"
            return Status(403, _rejected(message, errors))
        return Status(400, _rejected("the batch was refused as a whole; nothing was applied", errors))
    return Status(200, {"accepted": accepted})
