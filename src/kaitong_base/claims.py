"""The one claiming rule for rows a process works on outside a transaction (a metering push, an SPI
delivery): a short transaction leases the rows to a fresh token until ``now + lease``; the work then
happens with no transaction open; every later write checks the token, so a process that stalled past its
lease finds out which rows are no longer its own. A row whose lease ran out is free again: a process
killed mid-work strands nothing.

The model needs two columns: ``claimed_until`` (nullable datetime) and ``claim_token`` (short text).
On PostgreSQL the candidates are locked ``FOR UPDATE SKIP LOCKED``, so any number of processes claim
side by side without waiting on each other; SQLite has one writer, and its IMMEDIATE transactions (see
``kaitong_base.databases``) serialise the claims instead.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Claim:
    """What one claim took: its token and the rows leased to it (the primary key first in each row)."""

    token: str
    rows: list[Row] = field(default_factory=list)

    @property
    def ids(self) -> list[Any]:
        return [row[0] for row in self.rows]


def _every_row(rows: list[Row]) -> Iterable[Any]:
    return [row[0] for row in rows]


def free(due: QuerySet[Any], *, now: datetime) -> QuerySet[Any]:
    """The rows of ``due`` that no live lease holds."""
    return due.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))


def lapsed(rows: QuerySet[Any], *, now: datetime) -> QuerySet[Any]:
    """The rows of ``rows`` whose lease ran out: their holder stalled or died before it let go."""
    return rows.filter(claimed_until__lt=now)


def claim(
    due: QuerySet[Any],
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    fields: Sequence[str] = (),
    order_by: Sequence[str] = ("pk",),
    choose: Callable[[list[Row]], Iterable[Any]] = _every_row,
    also: Mapping[str, Any] | None = None,
) -> Claim:
    """Lease up to ``limit`` free rows of ``due`` to a new token, in one short transaction.

    ``fields`` are read with the primary key (``rows[i] == (pk, *fields)``); ``choose`` may keep fewer
    of the rows (by their primary keys), for a rule that looks at them together (one request per
    marketplace instance, say); ``also`` is written to the leased rows with the lease itself. The
    returned rows are those leased, in ``order_by`` order.
    """
    token = secrets.token_hex(8)
    with transaction.atomic():
        candidates = free(due, now=now).order_by(*order_by)
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        rows = [tuple(row) for row in candidates.values_list("pk", *fields)[:limit]]
        if not rows:
            return Claim(token)
        chosen = set(choose(rows))
        if not chosen:
            return Claim(token)
        due.model.objects.filter(pk__in=chosen).update(claimed_until=now + lease, claim_token=token, **(also or {}))
    return Claim(token, [row for row in rows if row[0] in chosen])


def held(rows: QuerySet[Any], *, token: str) -> QuerySet[Any]:
    """The rows of ``rows`` still leased to ``token`` (every write after the claim goes through this).

    A lease that ran out still counts until another claim takes the row (that claim changes the
    token); a row the holder let go of (``let_go``) or that was taken from it (``revoke``) does not.
    """
    return rows.filter(claim_token=token, claimed_until__isnull=False)


def let_go() -> dict[str, Any]:
    """Columns to write with the holder's last change: the row is free again and no longer held by
    anyone (the token stays, as a record of who last held it)."""
    return {"claimed_until": None}


def revoke() -> dict[str, Any]:
    """Columns to write to take a row away from whoever holds it: a late write by the old holder,
    through ``held``, finds nothing."""
    return {"claimed_until": None, "claim_token": ""}
