"""PushMeteringData on the wire: the entry we send, the official SDK that sends it, and what its answer means.

The answer is classified into an ``Outcome``, which says what the sender may conclude about the
records in the request: accepted, rejected (nothing recorded, with the reason), retry (nothing
recorded, try later) or unknown (it may have been recorded: never resend blindly). The SDK and its
``requests`` transport are imported only when a client is made, so that reading this module costs
nothing. The ledger that decides what to do with an outcome lives in ``kaitong.billing``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


def metering_entry(
    *, instance_id: str, start_time: int, end_time: int, amount_cents: int, metering_assit: str
) -> dict[str, Any]:
    """One PushMeteringData element, amount mode: the day's fee in cents as one ``Frequency`` entity."""
    return {
        "InstanceId": instance_id,
        "StartTime": str(start_time),
        "EndTime": str(end_time),
        "Entities": [{"Key": "Frequency", "Value": str(amount_cents), "meteringAssit": metering_assit}],
    }


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # the marketplace refused it for a reason; nothing was recorded there
    RETRY = "retry"  # refused for now (flow control) or never left (connection refused): push again later
    UNKNOWN = "unknown"  # it may or may not have been recorded (timeout, unexplained server error)


@dataclass(frozen=True)
class PushAnswer:
    outcome: Outcome
    code: str = ""
    message: str = ""
    request_id: str = ""


_THROTTLED = {"Service.Flow.Control", "Throttling", "Throttling.User", "Throttling.Api"}
_REFUSED_PREFIXES = (
    "Invalid",
    "Missing",
    "Metering.Data.Exceeded",
    "Permission.Denied",
    "Forbidden",
    "SignatureDoesNotMatch",
    "SignatureNonceUsed",
    "IncompleteSignature",
    "UnsupportedHTTPMethod",
)


def classify_error(code: str | None) -> Outcome:
    """What an error answer means for the records in the request.

    A documented refusal (bad parameter, too many records, signature) recorded nothing: rejected, with
    the reason. Flow control recorded nothing either, and passes: retry. Anything else (UnknownError,
    a bare 5xx) may have been recorded: unknown, never resent blindly.
    """
    if not code:
        return Outcome.UNKNOWN
    if code in _THROTTLED:
        return Outcome.RETRY
    if code.startswith(_REFUSED_PREFIXES):
        return Outcome.REJECTED
    return Outcome.UNKNOWN


_NEVER_LEFT = ("NewConnectionError", "Connection refused", "ConnectTimeout", "Failed to resolve", "Name or service")


def _transport_outcome(exc: BaseException) -> Outcome:
    """A transport failure: only a connection that never opened proves the request did not leave.

    The SDK wraps the ``requests`` error in its own exception (sometimes only as text), so both the
    exception chain and its message are read. A reset or a read timeout may follow delivery: unknown.
    """
    import requests

    inner = getattr(exc, "inner_exception", None) or exc
    if isinstance(inner, requests.exceptions.ConnectTimeout):
        return Outcome.RETRY
    text = f"{exc} {inner}"
    if "Read timed out" not in text and any(marker in text for marker in _NEVER_LEFT):
        return Outcome.RETRY
    return Outcome.UNKNOWN


class SdkMeteringClient:
    """The official ``alibabacloud-market20151101`` client: signature, transport and error bodies are its own."""

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        endpoint: str,
        protocol: str,
        connect_timeout_ms: int = 3000,
        read_timeout_ms: int = 10000,
    ) -> None:
        from alibabacloud_market20151101.client import Client
        from alibabacloud_tea_openapi.models import Config

        config = Config(
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            endpoint=endpoint,
            protocol=protocol,
            connect_timeout=connect_timeout_ms,
            read_timeout=read_timeout_ms,
        )
        self._client = Client(config)
        self._connect_timeout_ms = connect_timeout_ms
        self._read_timeout_ms = read_timeout_ms

    def push(self, *, metering: list[dict[str, Any]]) -> PushAnswer:
        from alibabacloud_market20151101.models import PushMeteringDataRequest
        from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
        from darabonba.runtime import RuntimeOptions

        request = PushMeteringDataRequest(metering=json.dumps(metering, separators=(",", ":"), ensure_ascii=False))
        # No SDK retries: a retried timeout is exactly the blind resend the ledger exists to prevent.
        runtime = RuntimeOptions(
            autoretry=False,
            max_attempts=1,
            connect_timeout=self._connect_timeout_ms,
            read_timeout=self._read_timeout_ms,
        )
        try:
            response = self._client.push_metering_data_with_options(request, runtime)
        except AlibabaCloudException as exc:
            code = str(exc.code or "")
            return PushAnswer(
                classify_error(code), code, str(exc.message or "")[:400], str(getattr(exc, "request_id", "") or "")
            )
        except Exception as exc:
            return PushAnswer(_transport_outcome(exc), type(exc).__name__, str(exc)[:400])
        body = response.body
        if body is not None and body.success:
            return PushAnswer(Outcome.ACCEPTED, request_id=str(body.request_id or ""))
        # HTTP 200 without Success=true: refused, and the body is all we know.
        raw = response.to_map().get("body") or {}
        code = str(raw.get("Code") or "NotSuccess")
        return PushAnswer(
            Outcome.REJECTED, code, str(raw.get("Message") or "")[:400], str(getattr(body, "request_id", "") or "")
        )
