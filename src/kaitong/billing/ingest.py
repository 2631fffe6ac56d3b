"""Usage in: check a batch of hourly samples as a whole, then upsert it (the latest value wins).

The API (``billing.api``) and ``kaitong usage import|simulate`` (``billing.commands``) both come here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from kaitong.billing import domain, queries
from kaitong.billing.models import UsageSample
from kaitong.countdown import domain as countdown_rules
from kaitong.countdown import queries as countdown
from kaitong.workspaces.models import Workspace


class SamplesRejected(Exception):
    """The batch was refused as a whole; ``errors`` lists every problem by sample index. ``forbidden``:
    every problem is a workspace that takes no usage (locked or dissolved; the API answers 403)."""

    def __init__(self, errors: list[domain.SampleError], *, forbidden: bool = False) -> None:
        super().__init__(f"{len(errors)} error(s)")
        self.errors = sorted(errors, key=lambda e: (e.index, e.field))
        self.forbidden = forbidden


@dataclass(frozen=True)
class ResolvedSamples:
    rows: list[tuple[int, str, datetime, Decimal]]


def check_samples(*, samples: list[domain.Sample], errors: list[domain.SampleError]) -> ResolvedSamples:
    """Resolve workspace ids/tokens and refuse samples of a workspace that takes no usage (locked then, or
    dissolved) and samples that can never be billed (``domain.unbillable_reason``: a day already settled,
    or before the workspace's billing starts); raise SamplesRejected on any error."""
    errors = list(errors)
    forbidden = 0
    ids = {s.workspace.id for s in samples if s.workspace.id is not None}
    tokens = {s.workspace.token for s in samples if s.workspace.token is not None}
    created: dict[int, datetime] = {}
    by_token: dict[str, int] = {}
    if ids:
        created.update(Workspace.objects.filter(pk__in=ids).values_list("pk", "created_at"))
    if tokens:
        named = Workspace.objects.filter(token__in=tokens).values_list("token", "pk", "created_at")
        for token, pk, created_at in named:
            by_token[token] = pk
            created[pk] = created_at
    locks = countdown.lock_periods(created) if created else {}
    dissolved = countdown.dissolutions(created) if created else {}
    settled_through = queries.latest_closed_day() if samples else None
    first_price_day = queries.first_price_day() if samples else None
    rows = []
    for sample in samples:
        ref = sample.workspace
        workspace_id = ref.id if ref.id in created else by_token.get(ref.token or "")
        if workspace_id is None:
            errors.append(domain.SampleError(sample.index, "workspace", "no such workspace"))
            continue
        refused = countdown_rules.usage_refusal(
            sample.hour, periods=locks.get(workspace_id, []), dissolved_at=dissolved.get(workspace_id)
        )
        if refused is not None:
            errors.append(domain.SampleError(sample.index, "workspace", refused))
            forbidden += 1
            continue
        starts = domain.billing_start(workspace_created=created[workspace_id], first_price_day=first_price_day)
        why = domain.unbillable_reason(
            domain.beijing_day(sample.hour), billing_starts=starts, settled_through=settled_through
        )
        if why is not None:
            errors.append(domain.SampleError(sample.index, "hour", why))
            continue
        rows.append((workspace_id, sample.item, sample.hour, sample.quantity))
    if errors:
        raise SamplesRejected(errors, forbidden=forbidden == len(errors))
    return ResolvedSamples(domain.last_wins(rows))


def do_ingest_samples(*, rows: list[tuple[int, str, datetime, Decimal]], now: datetime) -> int:
    """Upsert samples by (workspace, item, hour): the latest value wins, so re-sending is harmless.

    ``rows`` hold each key once (``domain.last_wins``). On PostgreSQL the rows are COPied into a
    temporary table and upserted with one INSERT … ON CONFLICT (several times faster than an
    INSERT with a VALUES list per 2,000 rows); elsewhere Django's bulk upsert does the same.
    """
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        _copy_upsert(rows, now=now)
        return len(rows)
    objects = [UsageSample(workspace_id=w, item=i, hour=h, quantity=q, received_at=now) for w, i, h, q in rows]
    with transaction.atomic():
        UsageSample.objects.bulk_create(
            objects,
            update_conflicts=True,
            unique_fields=["workspace", "item", "hour"],
            update_fields=["quantity", "received_at"],
            batch_size=2000,
        )
    return len(objects)


def _copy_upsert(rows: list[tuple[int, str, datetime, Decimal]], *, now: datetime) -> None:
    table = UsageSample._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS billing_usage_in "
            "(workspace_id bigint, item varchar(32), hour timestamptz, quantity numeric(24, 6))"
        )
        cursor.execute("TRUNCATE billing_usage_in")
        with cursor.cursor.copy("COPY billing_usage_in (workspace_id, item, hour, quantity) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} (workspace_id, item, hour, quantity, received_at) "  # noqa: S608 - model table name
            "SELECT workspace_id, item, hour, quantity, %s FROM billing_usage_in "
            "ON CONFLICT (workspace_id, item, hour) DO UPDATE "
            "SET quantity = EXCLUDED.quantity, received_at = EXCLUDED.received_at",
            [now],
        )


def ingest_batch(*, raw: Any, now: datetime, first_index: int = 0) -> int:
    """Parse, check as a whole, and apply one batch; raise SamplesRejected or domain.BatchTooLarge."""
    samples, errors = domain.parse_samples(raw, known_items=queries.known_items(), now=now, first_index=first_index)
    resolved = check_samples(samples=samples, errors=errors)
    return do_ingest_samples(rows=resolved.rows, now=now)
