"""The marketplace's rules, as the simulator enforces them. Pure: no Django, no I/O, time passed in.

- POP request signatures, both kinds the official SDK sends (protocol §3.1): v1 HMAC-SHA1
  (``SignatureVersion=1.0``, query parameters) and ACS3-HMAC-SHA256 (``Authorization`` header over a
  canonical request), with the gateway's 15-minute timestamp window.
- PushMeteringData's ``Metering`` parameter and its limits (protocol §3.2).
- How the marketplace reads a vendor's SPI answer (protocol §1.4).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from urllib.parse import quote

from kaitong_sim.signer import BEIJING

API_VERSION = "2015-11-01"
TIMESTAMP_SKEW = timedelta(minutes=15)
POP_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
V3_ALGORITHM = "ACS3-HMAC-SHA256"

MAX_RECORDS = 100
MIN_WINDOW_SECONDS = 5 * 60
PUSH_INTERVAL = timedelta(seconds=60)
METERING_KEYS = frozenset(
    {
        "Frequency",
        "Period",
        "PeriodMin",
        "Storage",
        "NetworkOut",
        "NetworkIn",
        "Character",
        "DailyActiveUser",
        "VirtualCpu",
        "Unit",
        "Memory",
    }
)


class PopError(Exception):
    """A marketplace error answer: HTTP status, POP code and message (protocol §3.1, §3.2)."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def pop_body(error: PopError, *, request_id: str) -> dict[str, str]:
    """The JSON body the POP gateway answers with on an error."""
    return {
        "RequestId": request_id,
        "HostId": "market.aliyuncs.com",
        "Code": error.code,
        "Message": error.message,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={error.code}&product=Market",
    }


# --- signatures -------------------------------------------------------------------------------------


def percent_encode(value: str) -> str:
    """RFC 3986: everything but ``A–Z a–z 0–9 - _ . ~`` is %XX-encoded (UTF-8), so a space is ``%20``."""
    return quote(value, safe="~", encoding="utf-8")


def v1_string_to_sign(method: str, params: dict[str, str]) -> str:
    """``METHOD&%2F&pct(canonicalized query)``, over every parameter but ``Signature``."""
    pairs = sorted((percent_encode(k), percent_encode(v)) for k, v in params.items() if k != "Signature")
    canonical = "&".join(f"{k}={v}" for k, v in pairs)
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"


def v1_signature(*, secret: str, method: str, params: dict[str, str]) -> str:
    digest = hmac.new((secret + "&").encode(), v1_string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class V3Authorization:
    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


_V3_FIELDS = re.compile(r"^Credential=([^,]*),SignedHeaders=([^,]*),Signature=([0-9a-fA-F]+)$")


def parse_v3_authorization(header: str) -> V3Authorization:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != V3_ALGORITHM:
        raise PopError("IncompleteSignature", f"The signature algorithm {algorithm[:40]!r} is not supported.")
    match = _V3_FIELDS.match(rest.replace(", ", ","))
    if not match:
        raise PopError("IncompleteSignature", "The Authorization header is malformed.")
    access_key_id, signed, signature = match.groups()
    names = tuple(signed.split(";")) if signed else ()
    return V3Authorization(access_key_id=access_key_id, signed_headers=names, signature=signature.lower())


def v3_canonical_request(
    *, method: str, path: str, query: dict[str, str], headers: dict[str, str], payload_hash: str
) -> tuple[str, str]:
    """Return (canonical request, signed-headers list) the way the Tea SDK builds them.

    ``headers`` holds exactly the signed headers, lower-case names to values.
    """
    canonical_query = "&".join(f"{key}={percent_encode(query[key])}" for key in sorted(query))
    names = sorted(headers)
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in names)
    signed = ";".join(names)
    request = f"{method.upper()}\n{path or '/'}\n{canonical_query}\n{canonical_headers}\n{signed}\n{payload_hash}"
    return request, signed


def v3_signature(*, secret: str, canonical_request: str) -> str:
    to_sign = f"{V3_ALGORITHM}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def signatures_match(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def parse_pop_timestamp(value: str, *, now: datetime) -> datetime:
    """Check a ``YYYY-MM-DDThh:mm:ssZ`` UTC timestamp against the 15-minute window."""
    try:
        moment = datetime.strptime(value, POP_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise PopError("InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.") from None
    if abs(now - moment) > TIMESTAMP_SKEW:
        raise PopError("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
    return moment


# --- PushMeteringData ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entity:
    key: str
    value: int
    metering_assit: str


@dataclass(frozen=True)
class Record:
    instance_id: str
    start: int
    end: int
    entities: tuple[Entity, ...] = field(default_factory=tuple)


def _metering_error(message: str) -> PopError:
    return PopError("Invalid.Parameter.Metering", message, status=400)


def _integer(value: object, *, name: str) -> int:
    if isinstance(value, bool):
        raise _metering_error(f"{name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{1,19}", value):
        return int(value)
    raise _metering_error(f"{name} must be an integer")


def parse_metering(raw: str, *, required_assit: str | frozenset[str] | None) -> list[Record]:
    """Parse and check ``Metering``: a JSON array serialized to a string, ≤ 100 well-formed records.

    ``required_assit``: when the products demand ``meteringAssit``, the billing-item ID (or any of the
    IDs) it must carry; which product's ID each record must carry is ``check_assit``'s, once the
    instances are known.
    """
    known = frozenset([required_assit]) if isinstance(required_assit, str) else required_assit
    try:
        data = json.loads(raw)
    except ValueError:
        raise _metering_error("Metering is not valid JSON") from None
    if not isinstance(data, list):
        raise _metering_error("Metering must be a JSON array")
    if not data:
        raise _metering_error("Metering is empty")
    if len(data) > MAX_RECORDS:
        raise PopError(
            "Metering.Data.Exceeded", f"At most {MAX_RECORDS} records per request ({len(data)} sent).", status=500
        )
    records = []
    for index, item in enumerate(data):
        where = f"record {index}"
        if not isinstance(item, dict):
            raise _metering_error(f"{where} is not an object")
        instance_id = item.get("InstanceId")
        if not isinstance(instance_id, str | int) or isinstance(instance_id, bool) or not str(instance_id):
            raise _metering_error(f"{where}: InstanceId is missing")
        start = _integer(item.get("StartTime"), name=f"{where}: StartTime")
        end = _integer(item.get("EndTime"), name=f"{where}: EndTime")
        raw_entities = item.get("Entities")
        if not isinstance(raw_entities, list) or not raw_entities:
            raise _metering_error(f"{where}: Entities must be a non-empty array")
        entities = []
        for entity in raw_entities:
            if not isinstance(entity, dict):
                raise _metering_error(f"{where}: an entity is not an object")
            key = entity.get("Key")
            if key not in METERING_KEYS:
                raise _metering_error(f"{where}: unknown Key {str(key)[:40]!r}")
            value = _integer(entity.get("Value"), name=f"{where}: Value")
            assit = entity.get("meteringAssit") or ""
            if not isinstance(assit, str):
                raise _metering_error(f"{where}: meteringAssit must be a string")
            if known is not None:
                if not assit:
                    raise _metering_error("meteringAssit is empty")
                if assit not in known:
                    raise _metering_error(f"{where}: unknown meteringAssit {assit[:60]!r}")
            entities.append(Entity(key=key, value=value, metering_assit=assit))
        records.append(Record(instance_id=str(instance_id), start=start, end=end, entities=tuple(entities)))
    return records


def deadline_for(record: Record) -> datetime:
    """The last moment the marketplace accepts this record (protocol §3.2, Beijing time).

    A daily record (a window of 24 h or more) is due by 01:59 the next day; an hourly one by the end of
    the hour after the hour it ends in (8:10–8:20 data by 9:59).
    """
    end = datetime.fromtimestamp(record.end, tz=BEIJING)
    if record.end - record.start >= 24 * 3600:
        return end.replace(hour=0, minute=0, second=0) + timedelta(hours=1, minutes=59, seconds=59)
    last_hour = datetime.fromtimestamp(record.end - 1, tz=BEIJING).replace(minute=0, second=0)
    return last_hour + timedelta(hours=2) - timedelta(seconds=1)


def check_window(record: Record, *, now: datetime, enforce_deadline: bool) -> None:
    if record.end <= record.start:
        raise _metering_error(f"EndTime must be after StartTime (instance {record.instance_id})")
    if record.end - record.start <= MIN_WINDOW_SECONDS:
        raise _metering_error(f"EndTime - StartTime must be more than 5 minutes (instance {record.instance_id})")
    if record.end > now.timestamp():
        raise _metering_error(f"EndTime is in the future (instance {record.instance_id})")
    if enforce_deadline and now > deadline_for(record):
        raise _metering_error(
            f"the deadline for this usage has passed ({deadline_for(record):%Y-%m-%d %H:%M:%S} Beijing time)"
        )


def check_assit(record: Record, *, required: str | None) -> None:
    """Every entity of ``record`` carries its product's billing item (``required``; None: not checked)."""
    if required is None:
        return
    for entity in record.entities:
        if entity.metering_assit != required:
            raise _metering_error(
                f"instance {record.instance_id}: meteringAssit {entity.metering_assit[:60]!r} is not its product's"
            )


def check_one_product(products: dict[str, str]) -> None:
    """``products``: instance ID → product code, for every instance in the request."""
    if len(set(products.values())) > 1:
        raise PopError("Invalid.Parameter", "All InstanceIds in one request must belong to one product.", status=500)


def check_rate(*, instance_id: str, last_push_at: datetime | None, now: datetime) -> None:
    if last_push_at is not None and now - last_push_at < PUSH_INTERVAL:
        raise PopError(
            "Service.Flow.Control",
            f"At most one request per instance per 60 seconds (instance {instance_id}).",
            status=500,
        )


def record_cost(record: Record, *, unit_price: Decimal, trial: bool = False) -> Decimal:
    """units × price, truncated to 0.01 (a bill below 0.01 costs 0). A free trial's usage costs nothing:
    the record is on the bill, at 0.00."""
    if trial:
        return Decimal("0.00")
    units = sum(entity.value for entity in record.entities)
    return (Decimal(units) * unit_price).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


# --- DescribeInstanceForIsv -------------------------------------------------------------------------------

# The lookups the gateway rate-limits per caller (the push has its own per-instance rule).
LOOKUP_ACTIONS = frozenset({"DescribeInstanceForIsv", "DescribeOrderForIsv"})
THROTTLED = "Throttling.User"
RATE_WINDOW = timedelta(seconds=1)

# Our instance status → DescribeInstanceForIsv's ``Status`` for an APP-type product (protocol §3.3).
INSTANCE_STATUS = {"opening": "OPENING", "opened": "OPENED", "expired": "EXPIRED", "closed": "CLOSED"}
SUPPLIER_NAME = "观测云 Guance Cloud"


def check_lookup_rate(*, answered_last_second: int, per_second: int) -> None:
    """A caller gets at most ``per_second`` lookups answered a second; the rest are flow-controlled."""
    if answered_last_second >= per_second:
        raise PopError(THROTTLED, "Request was denied due to user flow control.", status=400)


def millis(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment else None


def _json_string(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def describe_instance_body(instance: dict[str, object], *, request_id: str) -> dict[str, object]:
    """The DescribeInstanceForIsv answer for one instance as the simulator holds it (``queries._instance``).

    Ids are Longs, times milliseconds, ``*Json`` fields JSON strings; ``EndOn`` is null for an instance
    without an expiry (pay-as-you-go), which the marketplace leaves open.
    """
    status = str(instance["status"])
    created_at = instance["created_at"]
    expires_at = instance["expires_at"]
    assert isinstance(created_at, datetime) and (expires_at is None or isinstance(expires_at, datetime))
    return {
        "RequestId": request_id,
        "InstanceId": int(str(instance["instance_id"])),
        "OrderId": int(str(instance["order_id"])),
        "ProductCode": instance["product_code"],
        "ProductSkuCode": instance["sku_id"],
        "ProductName": instance["product_name"],
        "ProductType": "APP",
        "SupplierName": SUPPLIER_NAME,
        "Status": INSTANCE_STATUS[status],
        "IsTrial": instance["trial"],
        "AutoRenewal": "false",
        "CreatedOn": millis(created_at),
        "BeganOn": millis(created_at),
        "EndOn": millis(expires_at),
        "AppJson": _json_string(instance["app_info"]),
        "HostJson": "{}",
        "ComponentJson": _json_string({"package_version": instance["sku_id"]}),
        "ExtendJson": "{}",
        "ImageJson": "{}",
        "RelationalData": {"ServiceStatus": "NORMAL" if status == "opened" else status.upper()},
    }


# --- SPI answers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """How the marketplace reads a vendor's reply to one SPI call."""

    ok: bool
    reason: str
    instance_id: str = ""
    app_info: dict[str, object] = field(default_factory=dict)


def read_answer(*, action: str, status: int, body: str) -> Answer:
    """Success needs HTTP 200 and JSON; createInstance a non-zero ``instanceId``; others ``success`` true.

    ``true`` and ``"true"`` both count (Alibaba's own samples send the string).
    """
    if status != 200:
        return Answer(ok=False, reason=f"HTTP {status}")
    try:
        data = json.loads(body)
    except ValueError:
        return Answer(ok=False, reason="the answer is not JSON")
    if not isinstance(data, dict):
        return Answer(ok=False, reason="the answer is not a JSON object")
    if action == "createInstance":
        instance_id = data.get("instanceId")
        if instance_id in (None, "", 0, "0"):
            message = data.get("message")
            suffix = f" ({str(message)[:200]})" if message else ""
            return Answer(ok=False, reason="instanceId is 0: the vendor is not ready yet" + suffix)
        app_info = data.get("appInfo")
        return Answer(
            ok=True,
            reason="ok",
            instance_id=str(instance_id),
            app_info=app_info if isinstance(app_info, dict) else {},
        )
    if data.get("success") in (True, "true"):
        return Answer(ok=True, reason="ok")
    message = data.get("message")
    return Answer(ok=False, reason="success is not true" + (f": {str(message)[:200]}" if message else ""))
