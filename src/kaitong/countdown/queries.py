"""Read-only questions about lock countdowns, answered with plain values: the console's banner and lock
page, the usage API and the token check, closing a day, the periodic duty, and the operator's timeline."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.urls import reverse

from kaitong.billing.domain import beijing_day, day_window
from kaitong.billing.models import BillPayment, DailyBill
from kaitong.countdown import domain
from kaitong.countdown.models import CAUSE_LABELS, LIFT_LABELS, Countdown, CountdownEvent, Dissolution
from kaitong.workspaces.models import Workspace


def as_domain(row: Countdown | None) -> domain.Countdown:
    """The stored episode as the pure value the rules take (CLEAR for none). A stored lock is LOCKED; an
    episode past ``locks_at`` whose lock the duty has not recorded yet is COUNTING, and ``is_locked``
    says it is locked all the same."""
    if row is None or row.lifted_at is not None:
        return domain.CLEAR
    return domain.Countdown(
        domain.Phase.LOCKED if row.locked_at is not None else domain.Phase.COUNTING,
        cause=domain.Cause(row.cause),
        instance_id=row.instance_id,
        started_at=row.started_at,
        locks_at=row.locks_at,
        ending_noticed=row.ending_noticed_at is not None,
    )


def open_countdowns() -> QuerySet[Countdown]:
    """Episodes not lifted: at most one per workspace (a partial UNIQUE constraint)."""
    return Countdown.objects.filter(lifted_at__isnull=True)


def not_dissolved(workspaces: QuerySet[Workspace]) -> QuerySet[Workspace]:
    return workspaces.exclude(Exists(Dissolution.objects.filter(workspace=OuterRef("pk"))))


# --- what the owner sees -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """A workspace's countdown as the console shows it."""

    phase: domain.Phase  # COUNTING or LOCKED (by the clock: LOCKED from ``locks_at`` on)
    cause: domain.Cause
    cause_label: str
    instance_id: str
    started_at: datetime
    locks_at: datetime
    locks_on: date
    days_left: int
    data_cleared_at: datetime | None
    unlock_url: str

    @property
    def locked(self) -> bool:
        return self.phase is domain.Phase.LOCKED


def _status(row: Countdown, *, now: datetime) -> Status:
    value = as_domain(row)
    assert value.locks_at is not None and value.cause is not None and value.started_at is not None
    return Status(
        phase=domain.Phase.LOCKED if domain.is_locked(value, now=now) else domain.Phase.COUNTING,
        cause=value.cause,
        cause_label=str(CAUSE_LABELS[value.cause]),
        instance_id=value.instance_id,
        started_at=value.started_at,
        locks_at=value.locks_at,
        locks_on=beijing_day(value.locks_at),
        days_left=domain.days_left(value, now=now),
        data_cleared_at=row.data_cleared_at,
        unlock_url=reverse("billing:workspace_settlement", args=[row.workspace_id]),
    )


def status_of(workspace_id: int, *, now: datetime) -> Status | None:
    """The workspace's open countdown (None: no countdown)."""
    row = open_countdowns().filter(workspace_id=workspace_id).first()
    return None if row is None else _status(row, now=now)


def statuses_of(workspace_ids: Iterable[int], *, now: datetime) -> dict[int, Status]:
    return {
        row.workspace_id: _status(row, now=now)
        for row in open_countdowns().filter(workspace_id__in=list(workspace_ids))
    }


def is_dissolved(workspace_id: int) -> bool:
    return Dissolution.objects.filter(workspace_id=workspace_id).exists()


def dissolved_ids(workspace_ids: Iterable[int]) -> set[int]:
    return set(Dissolution.objects.filter(workspace_id__in=list(workspace_ids)).values_list("workspace_id", flat=True))


# --- what the usage API, the token check and closing refuse ----------------------------------------------


def lock_periods(workspace_ids: Iterable[int]) -> dict[int, list[tuple[datetime, datetime | None]]]:
    """Each workspace's lock periods [locks_at, lifted_at) (lifted None: locked still, or from ``locks_at``
    on, once that moment comes); a countdown lifted before its lock has none."""
    periods: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    rows = (
        Countdown.objects.filter(workspace_id__in=list(workspace_ids))
        .filter(Q(lifted_at__isnull=True) | Q(lifted_at__gt=F("locks_at")))
        .values_list("workspace_id", "locks_at", "lifted_at")
    )
    for workspace_id, locks_at, lifted_at in rows:
        periods[workspace_id].append((locks_at, lifted_at))
    return periods


def dissolutions(workspace_ids: Iterable[int]) -> dict[int, datetime]:
    return dict(Dissolution.objects.filter(workspace_id__in=list(workspace_ids)).values_list("workspace_id", "at"))


def unbilled_workspaces(day: date) -> Q:
    """Workspaces that get no bill (and so no metering record) for the Beijing ``day``: locked all day, or
    dissolved before it began. A condition on ``Workspace`` (subqueries: no list of ids however many)."""
    start, end = day_window(day)
    locked = Countdown.objects.filter(locks_at__lte=start).filter(Q(lifted_at__isnull=True) | Q(lifted_at__gte=end))
    dissolved = Dissolution.objects.filter(at__lte=start)
    return Q(pk__in=locked.values("workspace_id")) | Q(pk__in=dissolved.values("workspace_id"))


@dataclass(frozen=True)
class TokenState:
    workspace_id: int
    state: str  # "active", "counting" or "locked"
    locks_on: date | None
    reason: str  # the cause's code ("" when active)


def token_state(token: str, *, now: datetime) -> TokenState | None:
    """What the data platform should do with data sent with ``token``: None for no such workspace (or one
    dissolved), else its state; a locked workspace's data is refused."""
    workspace_id = not_dissolved(Workspace.objects.filter(token=token)).values_list("pk", flat=True).first()
    if workspace_id is None:
        return None
    status = status_of(workspace_id, now=now)
    if status is None:
        return TokenState(workspace_id, "active", None, "")
    return TokenState(workspace_id, "locked" if status.locked else "counting", status.locks_on, status.cause.value)


# --- what the periodic duty looks at -----------------------------------------------------------------------


def due_for_the_clock(*, now: datetime, limit: int) -> list[int]:
    """Workspaces whose countdown the clock has moved on: its lock is due but not recorded, or its
    3-days-left notice is due but not sent. Dissolved workspaces are left alone."""
    ending = timedelta(days=domain.ENDING_NOTICE_DAYS)
    due = (
        open_countdowns()
        .filter(locked_at__isnull=True)
        .filter(Q(locks_at__lte=now) | Q(ending_noticed_at__isnull=True, locks_at__lte=now + ending))
        .exclude(Exists(Dissolution.objects.filter(workspace=OuterRef("workspace"))))
        .order_by("locks_at", "id")
        .values_list("workspace_id", flat=True)[:limit]
    )
    return list(due)


def _overdue_unpaid_bills(*, now: datetime) -> QuerySet[DailyBill]:
    """Bills settled by a billing-center account, above zero, unpaid, and overdue at ``now``."""
    # A bill of day D is due at D+1 00:00 and overdue from D+2 00:00 (domain.overdue_since).
    last_overdue_day = beijing_day(now - domain.OVERDUE_AFTER) - timedelta(days=1)
    return DailyBill.objects.filter(
        settlement=Workspace.Settlement.BILLING_ACCOUNT, total__gt=0, day__lte=last_overdue_day
    ).exclude(Exists(BillPayment.objects.filter(bill=OuterRef("pk"))))


def overdue_workspaces(*, now: datetime, limit: int) -> list[int]:
    """Workspaces settled by their billing-center account, with an overdue unpaid bill and no countdown:
    each starts one."""
    candidates = (
        not_dissolved(Workspace.objects.filter(settlement=Workspace.Settlement.BILLING_ACCOUNT))
        .filter(Exists(_overdue_unpaid_bills(now=now).filter(workspace=OuterRef("pk"))))
        .exclude(Exists(open_countdowns().filter(workspace=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    return list(candidates)


def has_overdue_unpaid_bill(workspace_id: int, *, now: datetime) -> bool:
    return _overdue_unpaid_bills(now=now).filter(workspace_id=workspace_id).exists()


# --- the operator's timeline --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    workspace_id: int
    workspace_name: str
    kind: str
    kind_label: str
    acting: str
    cause: str  # the countdown's cause code ("" for a dissolution without a countdown)
    cause_label: str
    instance_id: str
    detail: dict[str, Any]


def countdown_events(*, workspace_id: int | None = None, instance_id: str | None = None) -> list[TimelineEntry]:
    """Countdown and lock events, oldest first, of a workspace or of the countdowns an instance started
    (its expiry or release): for the operator's per-instance timeline and the workspace page."""
    if workspace_id is None and instance_id is None:
        raise ValueError("name a workspace or an instance")
    events = CountdownEvent.objects.select_related("workspace", "countdown")
    if workspace_id is not None:
        events = events.filter(workspace_id=workspace_id)
    if instance_id is not None:
        events = events.filter(countdown__instance_id=instance_id)
    kinds = dict(CountdownEvent.Kind.choices)
    entries = []
    for event in events.order_by("at", "id"):
        countdown = event.countdown
        cause = countdown.cause if countdown is not None else ""
        label = str(CAUSE_LABELS[domain.Cause(cause)]) if cause else ""
        detail = dict(event.detail)
        if event.kind == CountdownEvent.Kind.LIFTED and detail.get("lift"):
            detail["lift_label"] = str(LIFT_LABELS[domain.Lift(detail["lift"])])
        entries.append(
            TimelineEntry(
                at=event.at,
                workspace_id=event.workspace_id,
                workspace_name=event.workspace.name,
                kind=event.kind,
                kind_label=str(kinds.get(event.kind, event.kind)),
                acting=event.acting,
                cause=cause,
                cause_label=label,
                instance_id=countdown.instance_id if countdown is not None else "",
                detail=detail,
            )
        )
    return entries


def dissolved_name(*, workspace_id: int, owner_id: int) -> str | None:
    """The name of ``owner_id``'s workspace if it was dissolved (a repeated 解散 is answered with it)."""
    return (
        Dissolution.objects.filter(workspace_id=workspace_id, workspace__owner_id=owner_id)
        .values_list("name", flat=True)
        .first()
    )
