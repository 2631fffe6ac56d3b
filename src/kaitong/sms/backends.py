"""Sending an SMS: one small interface, chosen by ``KAITONG_SMS_BACKEND`` (``settings.SMS_BACKEND``).

Shipped backends:

- ``FileSmsBackend`` (``file``, the demo's and the tests' sink): each message becomes one JSON file in
  ``KAITONG_SMS_FILE_DIR``, which the marketplace simulator's mailbox page (``/mailbox/``) reads from
  ``KAITONG_SIMULATOR_SMS_DIR``. The file is the whole contract between the two (neither imports the
  other): ``<sortable time>-<pid>-<n>.json`` holding ``{"to", "text", "sent_at" (UTC, ISO 8601),
  "template", "language", "params"}``, written to a temporary name and renamed, so a reader never sees
  half a message.
- ``LocmemSmsBackend`` (``locmem``, unit and functional tests): messages collect in ``outbox``.
- ``none`` (the default): no SMS is queued at all; notices go by email only.

**A real gateway is not integrated.** One is a class with ``send(message)``, named by its dotted path in
``KAITONG_SMS_BACKEND``. Alibaba Cloud SMS (dysmsapi ``SendSms``), for instance, sends no free text: each
text is a template approved in its console beforehand, filled with parameters. Such a backend maps
``(message.template, message.language)`` to its ``TemplateCode``, passes ``message.params`` as
``TemplateParam`` and its ``SignName``, raises ``SmsRejected`` for an answer no retry can mend (a number
the gateway refuses) and lets any other failure raise (a timeout, throttling): the job engine retries it.
The ``text`` the sink shows is what kaitong's own template renders, which the approved templates should
match word for word.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class SmsMessage:
    to: str  # digits, a leading + kept (notices.domain.phone_number)
    text: str  # at most 70 characters, signature included
    template: str  # what the text says: a notice kind ("locked")
    language: str  # "zh" or "en": the workspace's
    params: dict[str, str] = field(default_factory=dict)  # the template's values, for a template gateway


class SmsRejected(Exception):
    """The gateway refused this message for good (a number it cannot reach): no retry will help."""


class SmsSender(Protocol):
    def send(self, message: SmsMessage, *, now: datetime) -> None:
        """Hand ``message`` to the gateway; return once it has accepted it. Raise ``SmsRejected`` for a
        permanent refusal; any other exception is retried by the job engine."""


class LocmemSmsBackend:
    """Keeps messages in ``outbox`` (tests; like Django's locmem mail backend)."""

    outbox: list[SmsMessage] = []

    def send(self, message: SmsMessage, *, now: datetime) -> None:
        LocmemSmsBackend.outbox.append(message)


class FileSmsBackend:
    """Writes each message as one JSON file in ``settings.SMS_FILE_DIR`` (the demo's SMS mailbox)."""

    _lock = threading.Lock()
    _count = 0

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory or settings.SMS_FILE_DIR)

    def send(self, message: SmsMessage, *, now: datetime) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with FileSmsBackend._lock:
            FileSmsBackend._count += 1
            name = f"{time.time_ns():020d}-{os.getpid()}-{FileSmsBackend._count:06d}"
        body = {**asdict(message), "sent_at": now.isoformat()}
        partial = self.directory / f".{name}.tmp"
        partial.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        os.replace(partial, self.directory / f"{name}.json")


def sms_enabled() -> bool:
    """True when a backend is configured: only then is an SMS queued for an owner with a phone number."""
    return bool(settings.SMS_BACKEND)


@cache
def _backend_class(path: str) -> type[SmsSender]:
    found = import_string(path)
    if not callable(getattr(found, "send", None)):
        raise TypeError(f"{path} is not an SMS backend (it has no send method)")
    return found  # type: ignore[no-any-return]


def sender() -> SmsSender:
    """The configured backend. Raises LookupError when none is (``KAITONG_SMS_BACKEND=none``)."""
    if not settings.SMS_BACKEND:
        raise LookupError("no SMS backend is configured (KAITONG_SMS_BACKEND=none)")
    return _backend_class(settings.SMS_BACKEND)()
