"""The background loop that delivers SPI calls to the vendor, and its HTTP transport."""

from __future__ import annotations

import logging
import threading

import httpx
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from kaitong_sim.actions import DeliveryConfig, TransportError, do_deliver_due, do_expire_due

log = logging.getLogger(__name__)
MAX_BODY = 4000


def http_transport(url: str, params: dict[str, str], timeout: float) -> tuple[int, str]:
    """A signed GET, as the marketplace sends it (protocol §1.1); the token is already in ``params``."""
    try:
        with httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client:
            response = client.get(url, params=params)
    except httpx.TimeoutException:
        raise TransportError(f"timed out after {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise TransportError(f"cannot reach the vendor ({type(exc).__name__}: {str(exc)[:200]})") from None
    return response.status_code, response.text[:MAX_BODY]


def delivery_config() -> DeliveryConfig:
    simulator = settings.SIMULATOR
    return DeliveryConfig(
        spi_url=simulator.spi_url,
        isv_key=simulator.isv_key,
        retry_seconds=simulator.retry_seconds,
        max_attempts=simulator.max_attempts,
        timeout_seconds=simulator.spi_timeout_seconds,
    )


def run_loop(stop: threading.Event, *, poll_seconds: float = 0.5) -> None:
    """Expire instances past their end and deliver due calls until ``stop`` is set.

    A failure of the loop itself is logged, never fatal.
    """
    config = delivery_config()
    idle = min(poll_seconds, config.retry_seconds)
    while not stop.is_set():
        sent = 0
        try:
            do_expire_due(now=timezone.now())
            sent = do_deliver_due(clock=timezone.now, transport=http_transport, config=config)
        except Exception:
            log.exception("SPI delivery pass failed; trying again")
        finally:
            close_old_connections()
        if not sent:
            stop.wait(idle)


def start_in_thread() -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=run_loop, args=(stop,), name="spi-delivery", daemon=True)
    thread.start()
    return thread, stop
