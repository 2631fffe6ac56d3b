"""Parsing and validating an SPI request, before anything trusts it. Pure: no Django, no I/O.

The marketplace sends every parameter as a string in a GET query (protocol §1.1, §1.3). We reject
what a well-behaved marketplace never sends — duplicate names, oversized queries, malformed times and
booleans — with a message, so a bad call changes nothing and says why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl

from kaitong.marketplace.aliyun.token import token_is_valid
from kaitong.marketplace.domain import BEIJING, PLAUSIBLE_YEARS, Action, Call, is_plausible_time

MARKETPLACE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

MAX_QUERY_BYTES = 8192
MAX_PARAMETERS = 64
MAX_VALUE_LENGTH = 512
# Matched in full (``fullmatch``: ``$`` would accept a final newline) and ASCII only (``\d`` would accept
# full-width digits).
_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
# Control characters (NUL included): no marketplace parameter carries one, PostgreSQL cannot store NUL in
# text, and a newline in a logged value would forge a log line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

REQUIRED: dict[str, tuple[str, ...]] = {
    Action.CREATE: ("aliUid", "orderBizId", "orderId", "productCode", "skuId", "trial"),
    Action.RENEW: ("instanceId", "orderId", "expiredOn"),
    Action.UPGRADE: ("instanceId", "skuId"),
    Action.EXPIRE: ("instanceId",),
    Action.RELEASE: ("instanceId",),
    Action.RESUME: ("instanceId",),
}
# Parameters whose value must look like an identifier; the rest are free text within bounds.
_ID_PARAMETERS = ("aliUid", "orderBizId", "orderId", "instanceId", "productCode", "skuId")


class BadCall(Exception):
    """The request cannot be honoured as sent; the message is safe to return to the caller."""


@dataclass(frozen=True)
class SpiRequest:
    """A request's parameters, unique by name, with the token checked."""

    params: dict[str, str]

    @property
    def action(self) -> str:
        return self.params.get("action", "")

    def redacted(self) -> dict[str, str]:
        """The parameters as they may be stored and logged: never the token."""
        return {name: ("<redacted>" if name == "token" else value) for name, value in self.params.items()}


@dataclass(frozen=True)
class CreateCall:
    instance_id: str
    ali_uid: str
    order_id: str
    product_code: str
    sku_id: str
    trial: bool
    expires_at: datetime | None
    extra: dict[str, str] = field(default_factory=dict)


def collect_parameters(sources: Iterable[str]) -> dict[str, str]:
    """Merge the raw query string and form body into one mapping, refusing duplicates and excess."""
    params: dict[str, str] = {}
    total = 0
    for raw in sources:
        total += len(raw)
        if total > MAX_QUERY_BYTES:
            raise BadCall(f"request too large (over {MAX_QUERY_BYTES} bytes of parameters)")
        try:
            pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=MAX_PARAMETERS, errors="strict")
        except (ValueError, UnicodeDecodeError):
            raise BadCall(f"malformed query or too many parameters (at most {MAX_PARAMETERS})") from None
        for name, value in pairs:
            if _CONTROL.search(name) or _CONTROL.search(value):
                raise BadCall("control characters are not allowed in parameters")
            if name in params:
                raise BadCall(f"duplicate parameter: {name[:40]}")
            if len(value) > MAX_VALUE_LENGTH:
                raise BadCall(f"parameter too long: {name[:40]}")
            params[name] = value
    return params


def authenticate(params: dict[str, str], *, key: str) -> SpiRequest:
    if "token" not in params:
        raise BadCall("missing token")
    if not token_is_valid(params, key):
        raise BadCall("invalid token")
    return SpiRequest(params=params)


def parse_time(value: str, *, name: str) -> datetime:
    """``yyyy-MM-dd HH:mm:ss`` in Beijing time (the marketplace sends no offset) → aware datetime."""
    if not _TIME.fullmatch(value):
        raise BadCall(f"{name} must be yyyy-MM-dd HH:mm:ss")
    try:
        moment = datetime.strptime(value, MARKETPLACE_TIME_FORMAT).replace(tzinfo=BEIJING)
    except ValueError:
        raise BadCall(f"{name} is not a real date and time") from None
    # A time outside these years is no real subscription's: refused rather than stored (domain.py).
    if not is_plausible_time(moment):
        raise BadCall(f"{name} must lie between {PLAUSIBLE_YEARS.start} and {PLAUSIBLE_YEARS.stop - 1}")
    return moment


def format_time(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime(MARKETPLACE_TIME_FORMAT)


def parse_bool(value: str, *, name: str) -> bool:
    if value == "true":
        return True
    if value == "false":
        return False
    raise BadCall(f"{name} must be true or false")


def _require(request: SpiRequest, action: Action) -> dict[str, str]:
    params = request.params
    missing = [name for name in REQUIRED[action] if not params.get(name)]
    if missing:
        raise BadCall("missing parameter: " + ", ".join(missing))
    for name in _ID_PARAMETERS:
        if name in params and params[name] and not _ID.fullmatch(params[name]):
            raise BadCall(f"{name} is not a valid identifier")
    return params


def parse_action(request: SpiRequest) -> Action:
    try:
        return Action(request.action)
    except ValueError:
        shown = request.action[:40] or "(none)"
        raise BadCall(f"unknown action: {shown}") from None


def parse_create(request: SpiRequest) -> CreateCall:
    params = _require(request, Action.CREATE)
    known = {*REQUIRED[Action.CREATE], "expiredOn", "action", "token"}
    if set(params["orderBizId"]) == {"0"}:
        # The instance id is the orderBizId, and the answer instanceId "0" tells the marketplace the opening
        # failed: an instance "0" would be opened here and taken for a failure there (retried, never used).
        raise BadCall("orderBizId 0 cannot be an instance id")
    expired_on = params.get("expiredOn")
    return CreateCall(
        instance_id=params["orderBizId"],
        ali_uid=params["aliUid"],
        order_id=params["orderId"],
        product_code=params["productCode"],
        sku_id=params["skuId"],
        trial=parse_bool(params["trial"], name="trial"),
        expires_at=parse_time(expired_on, name="expiredOn") if expired_on else None,
        extra={name: value for name, value in params.items() if name not in known},
    )


def parse_lifecycle(request: SpiRequest, action: Action) -> tuple[str, Call]:
    """Return (instance id, call) for every action but create."""
    params = _require(request, action)
    match action:
        case Action.RENEW:
            call = Call(
                action, expires_at=parse_time(params["expiredOn"], name="expiredOn"), order_id=params["orderId"]
            )
        case Action.UPGRADE:
            call = Call(action, sku_id=params["skuId"], order_id=params.get("orderId") or None)
        case Action.RELEASE:
            is_refund = parse_bool(params["isRefund"], name="isRefund") if "isRefund" in params else False
            call = Call(action, is_refund=is_refund)
        case _:
            call = Call(action)
    return params["instanceId"], call
