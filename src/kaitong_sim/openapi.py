"""The fake Market OpenAPI (2015-11-01): authenticate a POP request, then run its action.

Answers exactly what the gateway would: a signature check first (v1 HMAC-SHA1 or ACS3-HMAC-SHA256,
whichever the request carries), the 15-minute timestamp window, nonce reuse, the AccessKey, then the
action's own rules. Every request is recorded (``actions.do_record_api_call``), answered or refused.
This module reads and writes no model itself: lookups are ``queries``, every write is an action.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from kaitong_sim import actions, domain, queries
from kaitong_sim.domain import PopError

log = logging.getLogger(__name__)

ACTIONS = ("PushMeteringData", "DescribeInstanceForIsv", "DescribeOrderForIsv")
MAX_PARAMETERS = 64


@dataclass(frozen=True)
class ApiConfig:
    access_key_id: str
    access_key_secret: str
    required_assits: dict[str, str] | None  # product code → meteringAssit; None: not checked
    enforce_deadline: bool
    unit_price: Decimal
    lookups_per_second: int


@dataclass(frozen=True)
class RawRequest:
    method: str
    path: str
    query_string: str
    body: bytes
    content_type: str
    headers: dict[str, str]  # lower-case names


def is_api_request(*, method: str, query_params: dict[str, str] | Any, headers: dict[str, str]) -> bool:
    """The SDK always POSTs, with ``x-acs-action`` or ``Action``; a browser GETs ``/`` with neither."""
    return (
        method == "POST"
        or "Action" in query_params
        or "x-acs-action" in headers
        or headers.get("authorization", "").startswith(domain.V3_ALGORITHM)
    )


def _pairs(raw: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=MAX_PARAMETERS, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise PopError("InvalidParameter", "The request parameters are malformed or too many.") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise PopError("InvalidParameter", f"The parameter {name[:40]} is repeated.")
        params[name] = value
    return params


def _parameters(request: RawRequest) -> dict[str, str]:
    params = _pairs(request.query_string)
    if request.body and request.content_type.startswith("application/x-www-form-urlencoded"):
        try:
            body = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise PopError("InvalidParameter", "The request body is not UTF-8.") from None
        for name, value in _pairs(body).items():
            if name in params:
                raise PopError("InvalidParameter", f"The parameter {name[:40]} is repeated.")
            params[name] = value
    return params


# The secret of an AccessKey ID, or PopError (unknown, disabled, ...): the Market API knows the ISV's
# key only; STS (sts.py) knows every key of the simulated Alibaba Cloud.
SecretOf = Callable[[str], str]


def market_secret_of(config: ApiConfig) -> SecretOf:
    def secret_of(access_key_id: str) -> str:
        if access_key_id != config.access_key_id:
            raise PopError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", status=404)
        return config.access_key_secret

    return secret_of


def _secret(access_key_id: str, secret_of: SecretOf) -> str:
    if not access_key_id:
        raise PopError("MissingAccessKeyId", "AccessKeyId is mandatory for this action.")
    return secret_of(access_key_id)


@dataclass(frozen=True)
class Authenticated:
    action: str
    version: str
    access_key_id: str
    method: str
    nonce: str
    params: dict[str, str]
    security_token: str = ""  # temporary credentials' token (SecurityToken / x-acs-security-token)


def _authenticate_v1(
    request: RawRequest, params: dict[str, str], *, now: datetime, secret_of: SecretOf
) -> Authenticated:
    for name in ("Signature", "SignatureNonce", "Timestamp", "Action", "Version"):
        if not params.get(name):
            raise PopError(f"Missing{name}", f"{name} is mandatory for this action.")
    secret = _secret(params.get("AccessKeyId", ""), secret_of)
    if params.get("SignatureMethod", "HMAC-SHA1") != "HMAC-SHA1":
        raise PopError("InvalidSignatureMethod", "Specified signature method is not supported.")
    if params.get("SignatureVersion", "1.0") != "1.0":
        raise PopError("InvalidSignatureVersion", "Specified signature version is not supported.")
    domain.parse_pop_timestamp(params["Timestamp"], now=now)
    expected = domain.v1_signature(secret=secret, method=request.method, params=params)
    if not domain.signatures_match(expected, params["Signature"]):
        raise PopError("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.", status=400)
    business = {k: v for k, v in params.items() if k not in _V1_COMMON}
    return Authenticated(
        action=params["Action"],
        version=params["Version"],
        access_key_id=params["AccessKeyId"],
        method="HMAC-SHA1",
        nonce=params["SignatureNonce"],
        params=business,
        security_token=params.get("SecurityToken", ""),
    )


_V1_COMMON = {
    "AccessKeyId",
    "Action",
    "Format",
    "Signature",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "SignatureType",
    "Timestamp",
    "Version",
    "SecurityToken",
    "RegionId",
}


def _authenticate_v3(
    request: RawRequest, params: dict[str, str], *, now: datetime, secret_of: SecretOf
) -> Authenticated:
    headers = request.headers
    auth = domain.parse_v3_authorization(headers["authorization"])
    for header, code in (
        ("x-acs-action", "MissingAction"),
        ("x-acs-version", "MissingVersion"),
        ("x-acs-date", "MissingTimestamp"),
        ("x-acs-signature-nonce", "MissingSignatureNonce"),
        ("x-acs-content-sha256", "MissingContentSha256"),
    ):
        if not headers.get(header):
            raise PopError(code, f"The header {header} is mandatory for this action.")
    secret = _secret(auth.access_key_id, secret_of)
    domain.parse_pop_timestamp(headers["x-acs-date"], now=now)
    signed_names = {name.lower() for name in auth.signed_headers}
    if "host" not in signed_names or not {"x-acs-date", "x-acs-signature-nonce"} <= signed_names:
        raise PopError("IncompleteSignature", "host, x-acs-date and x-acs-signature-nonce must be signed.")
    if headers["x-acs-content-sha256"].lower() != hashlib.sha256(request.body).hexdigest():
        raise PopError("SignatureDoesNotMatch", "x-acs-content-sha256 does not match the request body.")
    signed_headers = {name: headers.get(name, "") for name in signed_names}
    canonical, _ = domain.v3_canonical_request(
        method=request.method,
        path=request.path,
        query=_pairs(request.query_string),
        headers=signed_headers,
        payload_hash=headers["x-acs-content-sha256"].lower(),
    )
    expected = domain.v3_signature(secret=secret, canonical_request=canonical)
    if not domain.signatures_match(expected, auth.signature):
        raise PopError("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
    return Authenticated(
        action=headers["x-acs-action"],
        version=headers["x-acs-version"],
        access_key_id=auth.access_key_id,
        method=domain.V3_ALGORITHM,
        nonce=headers["x-acs-signature-nonce"],
        params={k: v for k, v in params.items() if k not in _V1_COMMON},
        security_token=headers.get("x-acs-security-token", ""),
    )


def authenticate(request: RawRequest, *, now: datetime, secret_of: SecretOf) -> Authenticated:
    """Check a POP request's signature (v1 or ACS3), timestamp, key and nonce; raise PopError if any fails.

    ``now`` is what the timestamp is checked against; the nonce is spent at that moment too."""
    params = _parameters(request)
    if "authorization" in request.headers:
        auth = _authenticate_v3(request, params, now=now, secret_of=secret_of)
    elif "Signature" in params or "AccessKeyId" in params:
        auth = _authenticate_v1(request, params, now=now, secret_of=secret_of)
    else:
        raise PopError("MissingSignature", "Signature is mandatory for this action.")
    actions.do_use_nonce(nonce=auth.nonce, now=now)
    return auth


def handle(
    request: RawRequest, *, now: datetime, config: ApiConfig, stamped_now: datetime | None = None
) -> tuple[int, dict[str, Any]]:
    """Answer one OpenAPI request: (HTTP status, JSON body). Never raises for bad input.

    ``stamped_now`` is what the request's timestamp is checked against (default ``now``): the caller's SDK
    stamps requests with the machine's real clock, also when the demo's clock runs ahead."""
    signed_at = stamped_now or now
    request_id = str(uuid.uuid4()).upper()
    auth: Authenticated | None = None
    action = request.headers.get("x-acs-action", "")
    try:
        action = action or _parameters(request).get("Action", "")
        auth = authenticate(request, now=signed_at, secret_of=market_secret_of(config))
        action = auth.action
        if auth.version != domain.API_VERSION:
            raise PopError("InvalidVersion", f"Specified parameter Version {auth.version[:20]!r} is not valid.")
        if action not in ACTIONS:
            raise PopError(
                "InvalidAction.NotFound", "Specified api is not found, please check your url and method.", status=404
            )
        if action in domain.LOOKUP_ACTIONS:
            domain.check_lookup_rate(
                answered_last_second=queries.lookups_answered_since(
                    access_key_id=auth.access_key_id, since=now - domain.RATE_WINDOW
                ),
                per_second=config.lookups_per_second,
            )
        body = _ACTIONS[action](auth.params, now=now, config=config, request_id=request_id)
        status, code, message = 200, "OK", ""
    except PopError as refusal:
        status, code, message = refusal.status, refusal.code, refusal.message
        body = domain.pop_body(refusal, request_id=request_id)
    except Exception:
        log.exception("simulator OpenAPI failed")
        unknown = PopError("UnknownError", "The request processing has failed due to some unknown error.", status=500)
        status, code, message = unknown.status, unknown.code, unknown.message
        body = domain.pop_body(unknown, request_id=request_id)
    actions.do_record_api_call(
        at=now,
        request_id=request_id,
        action=action,
        access_key_id=auth.access_key_id if auth else "",
        signature_method=auth.method if auth else "",
        http_status=status,
        code=code,
        message=message,
    )
    return status, body


# --- actions -----------------------------------------------------------------------------------------


def _push_metering_data(params: dict[str, str], *, now: datetime, config: ApiConfig, request_id: str) -> dict[str, Any]:
    raw = params.get("Metering")
    if raw is None or raw == "":
        raise PopError("MissingMetering", "Metering is mandatory for this action.")
    assits = config.required_assits
    records = domain.parse_metering(raw, required_assit=frozenset(assits.values()) if assits is not None else None)
    for record in records:
        domain.check_window(record, now=now, enforce_deadline=config.enforce_deadline)
    actions.do_accept_metering(
        records=records, now=now, request_id=request_id, unit_price=config.unit_price, required_assits=assits
    )
    return {"RequestId": request_id, "Success": True}


def _numeric(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise PopError(f"Missing{name}", f"{name} is mandatory for this action.")
    if not value.isdigit() or len(value) > 20:
        raise PopError("InvalidParameter", f"The parameter {name} is not a valid Long.")
    return value


def _describe_instance(params: dict[str, str], *, now: datetime, config: ApiConfig, request_id: str) -> dict[str, Any]:
    instance_id = _numeric(params, "InstanceId")
    instance = queries.instance_for_isv(instance_id)
    if instance is None:
        raise PopError("InvalidParameter.InstanceId", f"Instance {instance_id} does not exist.", status=404)
    return domain.describe_instance_body(instance, request_id=request_id)


def _describe_order(params: dict[str, str], *, now: datetime, config: ApiConfig, request_id: str) -> dict[str, Any]:
    order_id = _numeric(params, "OrderId")
    order = queries.order(order_id)
    if order is None:
        raise PopError("InvalidParameter.OrderId", f"Order {order_id} does not exist.", status=404)
    return {
        "RequestId": request_id,
        "OrderId": int(order["order_id"]),
        "AliUid": int(order["ali_uid"]),
        "OrderType": order["order_type"],
        "OrderStatus": "NORMAL",
        "PayStatus": "PAID",
        "PeriodType": "ONCE",
        "ProductCode": order["product_code"],
        "ProductSkuCode": order["sku_id"],
        "ProductName": order["product_name"],
        "OriginalPrice": 0.0,
        "TotalPrice": 0.0,
        "PaymentPrice": 0.0,
        "CouponPrice": 0.0,
        "Quantity": 1,
        "AccountQuantity": 1,
        "Components": {},
        "InstanceIds": [order["instance_id"]],
        "CreatedOn": domain.millis(order["created_at"]),
        "PaidOn": domain.millis(order["created_at"]),
    }


_ACTIONS = {
    "PushMeteringData": _push_metering_data,
    "DescribeInstanceForIsv": _describe_instance,
    "DescribeOrderForIsv": _describe_order,
}
