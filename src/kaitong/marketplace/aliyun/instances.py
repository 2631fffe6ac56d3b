"""DescribeInstanceForIsv on the wire: ask the marketplace what it says of one instance (protocol §3.3).

Two askers: the official SDK (``SdkInstanceLookup``), and a scripted stand-in for tests that have no
marketplace (``ScriptedInstanceLookup``: answers set by the test; an instance it was told nothing about
cannot be asked). ``instance_lookup(...)`` picks one from ``KAITONG_INSTANCE_CHECK_CLIENT``. Its client is
made only when a question is asked; the web server imports the SDK at start (``preload_sdk``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from kaitong.marketplace.domain import MarketStatus, MarketView


class Failure(StrEnum):
    UNREACHABLE = "unreachable"  # no answer: refused connection, timeout, a bare server error
    THROTTLED = "throttled"  # the Market API's flow control: ask again later
    UNKNOWN_INSTANCE = "unknown_instance"  # the marketplace answered that it has no such instance
    REFUSED = "refused"  # any other error answer (signature, AccessKey, parameter), or one we cannot read


class LookupFailed(Exception):
    """The marketplace could not say; ``failure`` says how, ``reason`` in words (safe to store)."""

    def __init__(self, failure: Failure, reason: str) -> None:
        super().__init__(f"{failure.value}: {reason}")
        self.failure = failure
        self.reason = reason[:200]


class InstanceLookup(Protocol):
    def describe(self, instance_id: str) -> MarketView:
        """What the marketplace says of ``instance_id``; raises LookupFailed when it cannot be asked."""
        ...


_THROTTLED = {"Throttling", "Throttling.User", "Throttling.Api", "Service.Flow.Control"}


def _view(status: object, end_on: object) -> MarketView:
    try:
        market_status = MarketStatus(str(status))
    except ValueError:
        raise LookupFailed(Failure.REFUSED, f"unexpected Status {str(status)[:40]!r}") from None
    if end_on is not None and (not isinstance(end_on, int) or isinstance(end_on, bool)):
        raise LookupFailed(Failure.REFUSED, f"unexpected EndOn {str(end_on)[:40]!r}")
    # Milliseconds, converted in integers (a float would round some of them).
    ends_at = datetime.fromtimestamp(end_on // 1000, tz=UTC) + timedelta(milliseconds=end_on % 1000) if end_on else None
    return MarketView(status=market_status, ends_at=ends_at)


class SdkInstanceLookup:
    """The official ``alibabacloud-market20151101`` client, one attempt per question, with the timeouts given."""

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        endpoint: str,
        protocol: str,
        connect_timeout_ms: int,
        read_timeout_ms: int,
    ) -> None:
        self._config = {
            "access_key_id": access_key_id,
            "access_key_secret": access_key_secret,
            "endpoint": endpoint,
            "protocol": protocol,
            "connect_timeout": connect_timeout_ms,
            "read_timeout": read_timeout_ms,
        }

    def describe(self, instance_id: str) -> MarketView:
        from alibabacloud_market20151101.client import Client
        from alibabacloud_market20151101.models import DescribeInstanceForIsvRequest
        from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
        from alibabacloud_tea_openapi.models import Config
        from darabonba.runtime import RuntimeOptions

        runtime = RuntimeOptions(
            autoretry=False,
            max_attempts=1,
            connect_timeout=self._config["connect_timeout"],
            read_timeout=self._config["read_timeout"],
        )
        try:
            client = Client(Config(**self._config))
            response = client.describe_instance_for_isv_with_options(
                DescribeInstanceForIsvRequest(instance_id=instance_id), runtime
            )
        except AlibabaCloudException as exc:
            code = str(exc.code or "")
            message = f"{code}: {str(exc.message or '')[:150]}"
            if code in _THROTTLED:
                raise LookupFailed(Failure.THROTTLED, message) from None
            if code.startswith("InvalidParameter.InstanceId") or code.startswith("InvalidInstance"):
                raise LookupFailed(Failure.UNKNOWN_INSTANCE, message) from None
            status = getattr(exc, "status_code", None)
            if not code or (isinstance(status, int) and status >= 500):
                raise LookupFailed(Failure.UNREACHABLE, message or f"HTTP {status}") from None
            raise LookupFailed(Failure.REFUSED, message) from None
        except Exception as exc:
            # Transport: refused, reset, timed out (the SDK wraps requests' errors in its own).
            raise LookupFailed(Failure.UNREACHABLE, f"{type(exc).__name__}: {str(exc)[:150]}") from None
        body = response.body
        if body is None:
            raise LookupFailed(Failure.REFUSED, "an answer without a body")
        return _view(body.status, body.end_on)


@dataclass
class ScriptedInstanceLookup:
    """Answers what a test told it (``says``); an instance it knows nothing of cannot be asked."""

    answers: dict[str, MarketView | LookupFailed] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def says(self, instance_id: str, answer: MarketView | LookupFailed) -> None:
        self.answers[instance_id] = answer

    def describe(self, instance_id: str) -> MarketView:
        with self._lock:
            self.asked.append(instance_id)
            answer = self.answers.get(instance_id)
        if answer is None:
            raise LookupFailed(Failure.UNREACHABLE, "no marketplace in this test")
        if isinstance(answer, LookupFailed):
            raise answer
        return answer

    def reset(self) -> None:
        with self._lock:
            self.answers.clear()
            self.asked.clear()


scripted = ScriptedInstanceLookup()


def preload_sdk() -> None:
    """Import the SDK now. It takes seconds (aiohttp, the credential providers): the first confirmation on
    the SPI's path must not pay that. ``kaitong serve`` calls this before gunicorn forks its workers."""
    import alibabacloud_market20151101.client
    import alibabacloud_market20151101.models  # noqa: F401
    import alibabacloud_tea_openapi.models  # noqa: F401
    import darabonba.runtime  # noqa: F401


# The SPI must answer the marketplace within about 5 s: the confirmation asked on its path gets this
# much of it, at most (connect, then read).
SPI_CONNECT_SHARE = 0.5


def instance_lookup(*, timeout_ms: int) -> InstanceLookup:
    """The asker ``KAITONG_INSTANCE_CHECK_CLIENT`` names, giving up after about ``timeout_ms``."""
    from django.conf import settings

    env = settings.ENV
    if env.instance_check_client == "scripted":
        return scripted
    connect_ms = max(100, int(timeout_ms * SPI_CONNECT_SHARE))
    return SdkInstanceLookup(
        access_key_id=env.aliyun_access_key_id,
        access_key_secret=env.aliyun_access_key_secret,
        endpoint=env.aliyun_market_endpoint,
        protocol=env.aliyun_market_protocol,
        connect_timeout_ms=connect_ms,
        read_timeout_ms=max(100, timeout_ms - connect_ms),
    )
