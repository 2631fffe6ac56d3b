"""Pure billing rules: samples in, daily bills out, and which ledger records go in one request.

No Django, no clock: every function takes the time it needs. Money is ``Decimal``; units and fees are
truncated (never rounded up) to two places, as the price list's formula says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from kaitong.marketplace.aliyun.spi import BEIJING
from kaitong.workspaces.domain import TOKEN_RE

# China has had no daylight saving since 1991: a fixed offset is exact.
CENT = Decimal("0.01")
MAX_BATCH = 10_000
MAX_ID = 2**63 - 1  # a workspace id is a BigAutoField: the largest value SQLite and PostgreSQL can hold
MAX_QUANTITY = Decimal(10) ** 17
MAX_RECORDS_PER_REQUEST = 100
SECONDS_BETWEEN_REQUESTS = 61  # the marketplace allows one request per instance per 60 s; keep a second spare
ALARM_AT = time(1, 30)  # Beijing time on the day after: a record not accepted by then raises the alarm


class DailyRule(StrEnum):
    MAX = "max"
    SUM = "sum"


def truncate(value: Decimal, quantum: Decimal = CENT) -> Decimal:
    """Cut ``value`` down to ``quantum`` (0.019 → 0.01); amounts are never rounded up."""
    return value.quantize(quantum, rounding=ROUND_DOWN)


# --- time -------------------------------------------------------------------------------------------


def day_window(day: date) -> tuple[datetime, datetime]:
    """The Beijing day ``day`` as ``[start, end)`` in aware UTC."""
    start = datetime.combine(day, time(0), tzinfo=BEIJING)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def beijing_day(moment: datetime) -> date:
    return moment.astimezone(BEIJING).date()


def last_closed_day(now: datetime) -> date:
    """The latest Beijing day that has ended at ``now`` (days close at 00:00 Beijing time)."""
    return beijing_day(now) - timedelta(days=1)


def alarm_time(day: date) -> datetime:
    """When a record for ``day`` that is still not accepted raises the alarm: 01:30 Beijing the next day."""
    return datetime.combine(day + timedelta(days=1), ALARM_AT, tzinfo=BEIJING).astimezone(UTC)


def parse_day(text: str) -> date:
    """``YYYY-MM-DD`` → date; ValueError with a readable message otherwise."""
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"not a day (YYYY-MM-DD): {text!r}") from None


# --- samples ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkspaceRef:
    """A workspace named by its numeric id or by its token."""

    id: int | None = None
    token: str | None = None


@dataclass(frozen=True)
class Sample:
    index: int
    workspace: WorkspaceRef
    item: str
    hour: datetime
    quantity: Decimal


@dataclass(frozen=True)
class SampleError:
    index: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}


class BatchTooLarge(Exception):
    """A batch holds more samples than one request may carry."""


def _parse_workspace(value: Any) -> WorkspaceRef | str:
    if isinstance(value, bool):
        return "must be a workspace id or token"
    if isinstance(value, str) and value.isascii() and value.isdigit():
        # Bounded before int(): a 5,000-digit string would cost int() its digit limit (ValueError).
        value = int(value) if len(value) <= len(str(MAX_ID)) else MAX_ID + 1
    if isinstance(value, int):
        # Out of the database's range, an id would make SQLite raise OverflowError (a 500), not "no such".
        return WorkspaceRef(id=value) if 0 < value <= MAX_ID else f"must be a workspace id from 1 to {MAX_ID}"
    if isinstance(value, str):
        if TOKEN_RE.fullmatch(value):  # fullmatch: "$" alone would let a final newline through
            return WorkspaceRef(token=value)
        return "must be a workspace id or a token tkn_ followed by 32 hex digits"
    return "must be a workspace id or token"


def _parse_hour(value: Any, now: datetime) -> datetime | str:
    if not isinstance(value, str):
        return "must be an ISO 8601 string such as 2026-11-26T08:00:00Z"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return "must be an ISO 8601 string such as 2026-11-26T08:00:00Z"
    offset = moment.utcoffset()
    if offset is None:
        return "must carry its time zone, UTC (Z or +00:00)"
    if offset != timedelta(0):
        return "must be in UTC (Z or +00:00)"
    if (moment.minute, moment.second, moment.microsecond) != (0, 0, 0):
        return "must be on the hour (minutes and seconds zero)"
    moment = moment.astimezone(UTC)
    if moment > now:
        return "is in the future"
    return moment


def _parse_quantity(value: Any) -> Decimal | str:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return "must be a number"
    try:
        quantity = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        return "must be a number"
    if not quantity.is_finite():
        return "must be a finite number"
    if quantity < 0:
        return "must not be negative"
    if quantity >= MAX_QUANTITY:
        return "is too large"
    if quantity != truncate(quantity, Decimal("0.000001")):
        return "has more than 6 decimal places"
    return quantity


def parse_samples(
    raw: Any, *, known_items: Iterable[str], now: datetime, first_index: int = 0
) -> tuple[list[Sample], list[SampleError]]:
    """Check a batch as a whole: every sample that is wrong is listed with its index.

    ``raw`` is the decoded JSON: a list of objects, or ``{"samples": [...]}``. Raises BatchTooLarge
    for more than MAX_BATCH samples. The caller applies nothing unless the error list is empty.
    """
    if isinstance(raw, dict) and set(raw) == {"samples"}:
        raw = raw["samples"]
    if not isinstance(raw, list):
        return [], [SampleError(-1, "", 'the body must be a JSON array of samples, or {"samples": [...]}')]
    if len(raw) > MAX_BATCH:
        raise BatchTooLarge(f"a batch holds at most {MAX_BATCH} samples, this one {len(raw)}")
    items = frozenset(known_items)
    samples: list[Sample] = []
    errors: list[SampleError] = []
    for offset, entry in enumerate(raw):
        index = first_index + offset
        if not isinstance(entry, dict):
            errors.append(SampleError(index, "", "must be an object {workspace, item, hour, quantity}"))
            continue
        bad = False
        for name in ("workspace", "item", "hour", "quantity"):
            if name not in entry:
                errors.append(SampleError(index, name, "is required"))
                bad = True
        for name in sorted(set(entry) - {"workspace", "item", "hour", "quantity"}):
            errors.append(SampleError(index, name, "is not a sample field"))
            bad = True
        if bad:
            continue
        workspace = _parse_workspace(entry["workspace"])
        item = entry["item"]
        hour = _parse_hour(entry["hour"], now)
        quantity = _parse_quantity(entry["quantity"])
        if isinstance(workspace, str):
            errors.append(SampleError(index, "workspace", workspace))
        if not isinstance(item, str) or item not in items:
            errors.append(SampleError(index, "item", "is not a billing item; known: " + ", ".join(sorted(items))))
        if isinstance(hour, str):
            errors.append(SampleError(index, "hour", hour))
        if isinstance(quantity, str):
            errors.append(SampleError(index, "quantity", quantity))
        if (
            isinstance(workspace, WorkspaceRef)
            and isinstance(hour, datetime)
            and isinstance(quantity, Decimal)
            and isinstance(item, str)
            and item in items
        ):
            samples.append(Sample(index, workspace, item, hour, quantity))
    return samples, errors


def billing_start(*, workspace_created: datetime, first_price_day: date | None) -> date:
    """The first Beijing day whose bills include the workspace: the day it was created (a day's close
    bills every workspace created before the day ended), and never before the first price list."""
    created = beijing_day(workspace_created)
    return created if first_price_day is None else max(created, first_price_day)


def unbillable_reason(day: date, *, billing_starts: date, settled_through: date | None) -> str | None:
    """Why usage of the Beijing day ``day`` can never be billed, or None while it still can.

    Days close in order (``closing``; the worker catches up from the latest closed day) and a closed day
    is final, so a day up to the latest closed one is never billed again, closed or skipped. A day before
    the workspace's billing starts has no bill for it. (The future is refused when the hour is parsed.)
    """
    if settled_through is not None and day <= settled_through:
        return f"the day {day} (Beijing time) is already settled: days up to {settled_through} are final"
    if day < billing_starts:
        return f"the day {day} (Beijing time) is before the workspace's billing starts ({billing_starts})"
    return None


def last_wins(rows: Iterable[tuple[int, str, datetime, Decimal]]) -> list[tuple[int, str, datetime, Decimal]]:
    """Keep the last of several rows for the same (workspace, item, hour), as a re-send would."""
    latest: dict[tuple[int, str, datetime], Decimal] = {}
    for workspace_id, item, hour, quantity in rows:
        latest[(workspace_id, item, hour)] = quantity
    return [(w, i, h, q) for (w, i, h), q in latest.items()]


# --- prices and bills -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    item: str
    unit_size: Decimal
    daily_rule: DailyRule
    retention_days: int
    default_retention: bool
    price: Decimal


@dataclass(frozen=True)
class PriceTable:
    version: str
    prices: Mapping[str, Sequence[Price]]

    def price_for(self, item: str, retention_days: int | None) -> Price | None:
        """The price of ``item`` at the workspace's retention; its default retention when none is set."""
        rows = self.prices.get(item, ())
        if not rows:
            return None
        if retention_days is not None:
            for row in rows:
                if row.retention_days == retention_days:
                    return row
        for row in rows:
            if row.default_retention:
                return row
        return rows[0]


@dataclass(frozen=True)
class BillLine:
    item: str
    quantity: Decimal
    units: Decimal
    retention_days: int
    price: Decimal
    fee: Decimal


@dataclass(frozen=True)
class Bill:
    lines: tuple[BillLine, ...]
    total: Decimal = field(default=Decimal("0.00"))


@dataclass(frozen=True)
class DayUsage:
    """An item's 24 hourly samples reduced to what either daily rule needs (SQL can compute both)."""

    max: Decimal
    sum: Decimal

    @classmethod
    def of(cls, hourly: Iterable[Decimal]) -> DayUsage:
        values = list(hourly)
        return cls(max(values, default=Decimal(0)), sum(values, Decimal(0)))


def daily_quantity(rule: DailyRule, usage: DayUsage) -> Decimal:
    return usage.max if rule is DailyRule.MAX else usage.sum


def bill_line(price: Price, usage: DayUsage) -> BillLine:
    """units = quantity / unit size, truncated to 0.01; fee = units × price, truncated to 0.01."""
    quantity = daily_quantity(price.daily_rule, usage)
    units = truncate(quantity / price.unit_size)
    fee = truncate(units * price.price)
    return BillLine(price.item, quantity, units, price.retention_days, price.price, fee)


def compute_bill(
    usage: Mapping[str, DayUsage], *, table: PriceTable, retention: Mapping[str, int] | None = None
) -> Bill:
    """One workspace's day: a line per item that has samples and a price; total = sum of line fees.

    Items without a price in ``table`` (withdrawn from the list) are not billed. No usage → total 0.
    """
    retention = retention or {}
    lines = []
    for item in sorted(usage):
        price = table.price_for(item, retention.get(item))
        if price is None:
            continue
        lines.append(bill_line(price, usage[item]))
    total = sum((line.fee for line in lines), Decimal("0.00"))
    return Bill(tuple(lines), total)


def cents(amount: Decimal) -> int:
    """RMB amount (already truncated to 0.01) → integer cents."""
    return int(truncate(amount) * 100)


# --- pushing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    record_id: int
    instance_id: str
    product_code: str


def plan_batch(
    candidates: Iterable[Candidate], *, busy_instances: frozenset[str], limit: int = MAX_RECORDS_PER_REQUEST
) -> list[Candidate]:
    """The next request: ≤ ``limit`` records of one product, each instance once, none recently pushed.

    ``candidates`` come in ledger order; the product of the first eligible one is the batch's product.
    """
    batch: list[Candidate] = []
    seen: set[str] = set()
    product: str | None = None
    for candidate in candidates:
        if candidate.instance_id in busy_instances or candidate.instance_id in seen:
            continue
        if product is None:
            product = candidate.product_code
        elif candidate.product_code != product:
            continue
        batch.append(candidate)
        seen.add(candidate.instance_id)
        if len(batch) >= limit:
            break
    return batch
