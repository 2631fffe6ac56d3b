"""The Market OpenAPI behind a small protocol: the official SDK, and a recording fake for unit tests.

``get_client()`` picks one from ``KAITONG_METERING_CLIENT`` (``sdk`` by default; ``recording`` keeps
pushes in memory). Whatever happens on the wire is turned into a ``PushAnswer`` whose outcome says
what the ledger may conclude: accepted, rejected (nothing recorded, with the reason), retry (nothing
recorded, try later) or unknown (it may have been recorded: never resend blindly).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kaitong.billing.domain import Outcome, classify_error


@dataclass(frozen=True)
class PushAnswer:
    outcome: Outcome
    code: str = ""
    message: str = ""
    request_id: str = ""


class MeteringClient(Protocol):
    def push(self, *, metering: list[dict[str, Any]]) -> PushAnswer:
        """Send one PushMeteringData request carrying ``metering`` (≤ 100 records of one product)."""
        ...


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


@dataclass
class RecordingMeteringClient:
    """Keeps every request in memory; ``answer`` decides the reply (accept everything by default)."""

    answer: Callable[[list[dict[str, Any]]], PushAnswer] = lambda metering: PushAnswer(Outcome.ACCEPTED)
    requests: list[list[dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def push(self, *, metering: list[dict[str, Any]]) -> PushAnswer:
        with self._lock:
            self.requests.append(metering)
        return self.answer(metering)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [record for request in self.requests for record in request]


_recording = RecordingMeteringClient()


def get_client() -> MeteringClient:
    """The client the configuration names (``KAITONG_METERING_CLIENT``: ``sdk`` or ``recording``)."""
    from django.conf import settings

    env = settings.ENV
    if env.metering_client == "recording":
        return _recording
    return SdkMeteringClient(
        access_key_id=env.aliyun_access_key_id,
        access_key_secret=env.aliyun_access_key_secret,
        endpoint=env.aliyun_market_endpoint,
        protocol=env.aliyun_market_protocol,
        connect_timeout_ms=env.metering_connect_timeout_ms,
        read_timeout_ms=env.metering_read_timeout_ms,
    )
