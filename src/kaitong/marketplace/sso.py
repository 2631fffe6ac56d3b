"""The login-free entry (免登, ``action=verify``): who may come in, decided before any session exists.

Checks, in order, each with its own outcome so the page can say what happened (reliability B.8):
the token (SPI md5 rule, same ISV key) → ``action=verify`` → ``timeStamp`` within ±tolerance of now,
in Beijing time → the instance exists and is active → this exact URL was never used (a UNIQUE digest
row decides, so two tabs racing on one URL get one session between them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.db import IntegrityError, transaction

from kaitong.marketplace import queries
from kaitong.marketplace.aliyun import spi
from kaitong.marketplace.domain import State
from kaitong.marketplace.models import MarketplaceInstance
from kaitong.marketplace.sso_models import LoginFreeUse


class Refusal(StrEnum):
    MALFORMED = "malformed"
    BAD_TOKEN = "bad_token"  # noqa: S105  (a refusal reason, not a secret)
    STALE = "stale"
    UNKNOWN_INSTANCE = "unknown_instance"
    EXPIRED = "expired"
    RELEASED = "released"
    REPLAYED = "replayed"


class EntryRefused(Exception):
    def __init__(self, refusal: Refusal, instance_id: str = "") -> None:
        super().__init__(refusal.value)
        self.refusal = refusal
        self.instance_id = instance_id


@dataclass(frozen=True)
class Entry:
    instance_id: str
    ali_uid: str


def url_digest(params: dict[str, str]) -> str:
    """A stable digest of the signed parameters (token included) that identifies one login-free URL."""
    joined = "&".join(f"{name}={params[name]}" for name in sorted(params))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def do_enter_login_free(*, raw_sources: Iterable[str], isv_key: str, tolerance_seconds: int, now: datetime) -> Entry:
    """Admit one login-free URL or raise EntryRefused saying why. Writes only the one-use row."""
    try:
        params = spi.collect_parameters(raw_sources)
        spi.authenticate(params, key=isv_key)
    except spi.BadCall:
        raise EntryRefused(Refusal.BAD_TOKEN) from None
    instance_id = params.get("instanceId", "")
    if params.get("action") != "verify" or not instance_id or not params.get("timeStamp"):
        raise EntryRefused(Refusal.MALFORMED, instance_id)
    try:
        stamped = spi.parse_time(params["timeStamp"], name="timeStamp")
    except spi.BadCall:
        raise EntryRefused(Refusal.MALFORMED, instance_id) from None
    tolerance = timedelta(seconds=tolerance_seconds)
    # Both sides: a stamp from the future is as suspicious as an old one.
    if abs(now - stamped) > tolerance:
        raise EntryRefused(Refusal.STALE, instance_id)
    instance = MarketplaceInstance.objects.filter(instance_id=instance_id).first()
    if instance is None:
        raise EntryRefused(Refusal.UNKNOWN_INSTANCE, instance_id)
    if not queries.instance_is_active(instance_id):
        raise EntryRefused(Refusal.RELEASED if instance.state == State.RELEASED else Refusal.EXPIRED, instance_id)
    try:
        with transaction.atomic():
            LoginFreeUse.objects.filter(keep_until__lt=now).delete()
            LoginFreeUse.objects.create(
                digest=url_digest(params), instance_id=instance_id, used_at=now, keep_until=stamped + 2 * tolerance
            )
    except IntegrityError:
        raise EntryRefused(Refusal.REPLAYED, instance_id) from None
    return Entry(instance_id=instance.instance_id, ali_uid=instance.ali_uid)
