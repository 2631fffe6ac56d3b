"""Which Market OpenAPI client pushes the ledger: the official SDK, or a recording fake (real and null backend).

``get_client()`` picks one from ``KAITONG_METERING_CLIENT`` (``sdk`` by default; ``recording`` keeps
pushes in memory). The wire format and what an answer means live with the other Alibaba protocol
code, in ``kaitong.marketplace.aliyun.metering``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kaitong.marketplace.aliyun.metering import Outcome, PushAnswer, SdkMeteringClient


class MeteringClient(Protocol):
    def push(self, *, metering: list[dict[str, Any]]) -> PushAnswer:
        """Send one PushMeteringData request carrying ``metering`` (≤ 100 records of one product)."""
        ...


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
