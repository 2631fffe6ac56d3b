"""The only writers of lock countdowns: start, remind, lock, lift, clear a locked workspace's data, dissolve.

Every change runs in one transaction with its history row (``CountdownEvent``) and its notices
(``notices.do_send_workspace_notice``), with the workspace row locked, so two causes racing on one
workspace (an SPI call and the periodic duty) take turns. The rules are ``domain.step``; this module
feeds it the events:

- the marketplace expired, released, renewed or resumed an instance (``on_instance_state_change``: the
  SPI, and the reconciliation when it applies what the marketplace says);
- a workspace's settlement changed (``on_settlement_change``: the settlement door);
- a bill was paid (``billing.payments``) or became overdue, and time passed (the periodic duty).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Max, Min

from kaitong.billing import queries as billing_queries
from kaitong.billing.domain import beijing_day, day_window
from kaitong.billing.models import UsageSample
from kaitong.countdown import domain, queries
from kaitong.countdown.models import Countdown, CountdownEvent, Dissolution
from kaitong.jobs.actions import enqueue
from kaitong.marketplace.actions import on_instance_state_change
from kaitong.marketplace.domain import Action, State
from kaitong.marketplace.models import InstanceEvent, MarketplaceInstance
from kaitong.notices.actions import do_send_workspace_notice
from kaitong.notices.domain import Notice
from kaitong.workspaces.domain import Settlement
from kaitong.workspaces.management import issue_unlock_link
from kaitong.workspaces.models import Workspace
from kaitong.workspaces.queries import settlement_of
from kaitong.workspaces.settlement import on_settlement_change

log = logging.getLogger(__name__)
Kind = CountdownEvent.Kind

DUTY = "countdown duty"
# By path: the tasks are an interface above this module (the layers contract) and import it.
CLEAR_DATA_TASK = "kaitong.countdown.tasks.clear_workspace_data"
DATA_PLATFORM_TASK = "kaitong.countdown.tasks.tell_data_platform"
# A clearing that must wait for the bills of the days before the lock tries again this much later.
CLEARING_RETRY = timedelta(minutes=1)


def _locked_workspace(workspace_id: int) -> Workspace | None:
    return (
        Workspace.objects.select_for_update(of=("self",))
        .select_related("cloud_account__instance")
        .filter(pk=workspace_id)
        .first()
    )


def _history(
    workspace_id: int, row: Countdown | None, kind: str, *, now: datetime, acting: str, **detail: object
) -> None:
    CountdownEvent.objects.create(
        workspace_id=workspace_id,
        countdown=row,
        at=now,
        kind=kind,
        acting=acting[: CountdownEvent._meta.get_field("acting").max_length],
        detail=detail,
    )


def do_apply_countdown_event(
    *, workspace_id: int, event: domain.Event, now: datetime, acting: str, settlement: Settlement | None = None
) -> domain.Outcome | None:
    """Apply ``event`` to the workspace's countdown and write what follows, in one transaction (the
    caller's, if any). ``settlement`` overrides the workspace's own (the door passes the one it had
    before a move). None when the workspace does not exist or was dissolved."""
    with transaction.atomic():
        workspace = _locked_workspace(workspace_id)
        if workspace is None or queries.is_dissolved(workspace_id):
            return None
        row = queries.open_countdowns().select_for_update().filter(workspace_id=workspace_id).first()
        before = queries.as_domain(row)
        outcome = domain.step(before, settlement=settlement or settlement_of(workspace), event=event, now=now)
        _write(workspace_id, row, before, outcome, trigger=type(event).__name__, now=now, acting=acting)
        return outcome


def _write(
    workspace_id: int,
    row: Countdown | None,
    before: domain.Countdown,
    outcome: domain.Outcome,
    *,
    trigger: str,
    now: datetime,
    acting: str,
) -> None:
    after = outcome.countdown
    if row is None and after.active:
        assert after.cause is not None and after.started_at is not None and after.locks_at is not None
        row = Countdown.objects.create(
            workspace_id=workspace_id,
            cause=after.cause,
            instance_id=after.instance_id,
            started_at=after.started_at,
            locks_at=after.locks_at,
            ending_noticed_at=now if after.ending_noticed else None,
        )
        _history(
            workspace_id,
            row,
            Kind.STARTED,
            now=now,
            acting=acting,
            cause=after.cause.value,
            instance_id=after.instance_id,
            locks_on=str(after.locks_on),
            trigger=trigger,
        )
    elif row is not None:
        changed: list[str] = []
        if after.active and after.cause is not None and after.cause.value != row.cause:
            _history(workspace_id, row, Kind.CAUSE_CHANGED, now=now, acting=acting, was=row.cause, to=after.cause.value)
            row.cause = after.cause
            changed.append("cause")
        noticed = after.ending_noticed or Notice.COUNTDOWN_ENDING in outcome.notices
        if noticed and row.ending_noticed_at is None:
            row.ending_noticed_at = now
            changed.append("ending_noticed_at")
            _history(workspace_id, row, Kind.ENDING_NOTICED, now=now, acting=acting, locks_on=str(before.locks_on))
        if outcome.locked:
            row.locked_at = now
            changed.append("locked_at")
            _history(workspace_id, row, Kind.LOCKED, now=now, acting=acting, locks_at=row.locks_at.isoformat())
            # The lock's data clearing is its own job: explicit, retried, and audited on its own.
            enqueue(CLEAR_DATA_TASK, workspace_id=workspace_id)
        if outcome.lifted is not None:
            row.lifted_at = now
            row.lift = outcome.lifted
            changed += ["lifted_at", "lift"]
            _history(workspace_id, row, Kind.LIFTED, now=now, acting=acting, lift=outcome.lifted.value)
        if changed:
            row.save(update_fields=changed)
    # The countdown notices say when and why; for a lift and a lock in one step, the lock's are the old ones.
    described = after if after.active else before
    for notice in outcome.notices:
        context = domain.notice_context(described, notice, lifted=outcome.lifted)
        if notice is Notice.LOCKED:
            # The lock's mail carries a one-time 立即解锁 link: the settlement page without signing in.
            context["unlock_url"] = issue_unlock_link(workspace_id, now)
        do_send_workspace_notice(workspace_id=workspace_id, notice=notice, context=context, now=now)


# --- triggers -----------------------------------------------------------------------------------------------


def _instance_event(instance: MarketplaceInstance, *, before_state: str, action: str) -> domain.Event | None:
    state = State(instance.state)
    if state is State.EXPIRED:
        return domain.InstanceStopped(instance.instance_id, domain.Cause.INSTANCE_EXPIRED)
    if state is State.RELEASED:
        return domain.InstanceStopped(instance.instance_id, domain.Cause.INSTANCE_RELEASED)
    if state is State.ACTIVE and before_state != State.ACTIVE:
        lift = domain.Lift.INSTANCE_RESUMED if action == Action.RESUME else domain.Lift.INSTANCE_RENEWED
        return domain.InstanceRestored(instance.instance_id, lift)
    return None


def _last_action(instance: MarketplaceInstance) -> str:
    """The lifecycle call that just changed ``instance``: its audit row is written before the receivers run
    (an SPI call's, or the reconciliation's when it applies a call the marketplace sent and we missed)."""
    return (
        InstanceEvent.objects.filter(instance=instance).order_by("-id").values_list("action", flat=True).first() or ""
    )


@on_instance_state_change
def count_down_on_instance_change(
    instance: MarketplaceInstance, *, before_state: str, now: datetime, spi_call_id: int | None
) -> None:
    """Expiry or release of an instance starts the countdown of every workspace it settles; renewal or
    resumption lifts it. Runs in the SPI call's (or the reconciliation's) transaction, the instance row
    locked, then each workspace row: the order the settlement door takes them in."""
    action = _last_action(instance)
    event = _instance_event(instance, before_state=before_state, action=action)
    if event is None:
        return
    acting = (
        f"marketplace {action} (SPI call #{spi_call_id})"
        if spi_call_id is not None
        else f"marketplace reconciliation ({action})"
    )
    settled = Workspace.objects.filter(cloud_account__instance=instance).order_by("pk").values_list("pk", flat=True)
    for workspace_id in list(settled):
        do_apply_countdown_event(workspace_id=workspace_id, event=event, now=now, acting=acting)


@on_settlement_change
def lift_on_settlement_change(
    *, workspace_id: int, before: Settlement, after: Settlement, acting: str, now: datetime
) -> None:
    """A workspace moved to another settlement leaves its failed cause behind: its countdown or lock ends."""
    do_apply_countdown_event(
        workspace_id=workspace_id, event=domain.SettlementMoved(after), settlement=before, now=now, acting=acting
    )


def do_lift_paid_countdowns(*, workspace_ids: list[int], now: datetime, acting: str) -> int:
    """After a payment: lift the unpaid-bill countdown of each workspace left with no overdue unpaid bill.
    Joins the payment's transaction; returns how many were lifted."""
    lifted = 0
    for workspace_id in sorted(set(workspace_ids)):
        if queries.has_overdue_unpaid_bill(workspace_id, now=now):
            continue
        outcome = do_apply_countdown_event(workspace_id=workspace_id, event=domain.BillsPaid(), now=now, acting=acting)
        lifted += bool(outcome and outcome.lifted)
    return lifted


@dataclass
class DutyReport:
    moved_on: int = 0  # countdowns the clock moved on (a 3-days-left notice, a lock)
    started: int = 0  # countdowns started by an overdue bill
    locked: list[int] = field(default_factory=list)


def do_run_countdowns(*, now: datetime, limit: int = 500) -> DutyReport:
    """The periodic duty: send due 3-days-left notices, record due locks, and start the countdown of
    workspaces whose billing-center bill is overdue. Each workspace in its own transaction."""
    report = DutyReport()
    for workspace_id in queries.due_for_the_clock(now=now, limit=limit):
        outcome = do_apply_countdown_event(workspace_id=workspace_id, event=domain.TimePassed(), now=now, acting=DUTY)
        if outcome is not None:
            report.moved_on += 1
            if outcome.locked:
                report.locked.append(workspace_id)
    for workspace_id in queries.overdue_workspaces(now=now, limit=limit):
        outcome = do_apply_countdown_event(workspace_id=workspace_id, event=domain.BillOverdue(), now=now, acting=DUTY)
        report.started += bool(outcome and outcome.countdown.active)
    return report


# --- what a lock and a dissolution clear ------------------------------------------------------------------


@dataclass(frozen=True)
class Clearing:
    """What a clearing did: removed samples (by item), or why it did nothing, or when to try again."""

    removed: int = 0
    by_item: dict[str, int] = field(default_factory=dict)
    first_hour: str = ""
    last_hour: str = ""
    skipped: str = ""
    retry_at: datetime | None = None


def do_clear_workspace_data(*, workspace_id: int, now: datetime, acting: str = "data clearing job") -> Clearing:
    """Delete a locked (or dissolved) workspace's usage samples, which its bills have taken up, record what
    was removed, and queue the data platform's event, in one transaction.

    The samples of a day still open are needed for its bill: until the day before the lock (or the day of
    the dissolution) is closed, nothing is deleted and ``retry_at`` says when to look again. A workspace
    unlocked before the job runs keeps its data.
    """
    with transaction.atomic():
        workspace = _locked_workspace(workspace_id)
        if workspace is None:
            return Clearing(skipped="no such workspace")
        dissolved = Dissolution.objects.filter(workspace_id=workspace_id).first()
        row = queries.open_countdowns().select_for_update().filter(workspace_id=workspace_id).first()
        locked = row is not None and domain.is_locked(queries.as_domain(row), now=now)
        if dissolved is not None:
            needed_until = day_window(beijing_day(dissolved.at))[1]
        elif locked:
            assert row is not None
            needed_until = row.locks_at
        else:
            return Clearing(skipped="the workspace is not locked (it was unlocked before its data was cleared)")
        latest = billing_queries.latest_closed_day()
        if latest is None or day_window(latest)[1] < needed_until:
            return Clearing(skipped="waiting for the bills of the days before the lock", retry_at=now + CLEARING_RETRY)
        samples = UsageSample.objects.filter(workspace_id=workspace_id)
        by_item = dict(samples.values_list("item").annotate(n=Count("id")).order_by("item").values_list("item", "n"))
        span = samples.aggregate(first=Min("hour"), last=Max("hour"))
        removed, _ = samples.delete()
        clearing = Clearing(
            removed=removed,
            by_item=by_item,
            first_hour=span["first"].isoformat() if span["first"] else "",
            last_hour=span["last"].isoformat() if span["last"] else "",
        )
        why = "dissolved" if dissolved is not None else "locked"
        _history(
            workspace_id,
            row,
            Kind.DATA_CLEARED,
            now=now,
            acting=acting,
            why=why,
            usage_samples=removed,
            by_item=by_item,
            first_hour=clearing.first_hour,
            last_hour=clearing.last_hour,
        )
        if row is not None:
            row.data_cleared_at = now
            row.save(update_fields=["data_cleared_at"])
        enqueue(DATA_PLATFORM_TASK, workspace_id=workspace_id, cleared_at=now.isoformat(), why=why)
    log.info("workspace %d (%s): %d usage sample(s) cleared", workspace_id, why, removed)
    return clearing


def do_record_data_platform_told(*, workspace_id: int, cleared_at: str, why: str, now: datetime) -> None:
    """The data platform's event went out: the workspace's data is marked cleared there too."""
    with transaction.atomic():
        row = Countdown.objects.filter(workspace_id=workspace_id).order_by("-started_at", "-id").first()
        _history(
            workspace_id,
            row,
            Kind.DATA_PLATFORM_TOLD,
            now=now,
            acting="data platform event",
            cleared_at=cleared_at,
            why=why,
        )


# --- 解散 ---------------------------------------------------------------------------------------------------


class WorkspaceNotFound(Exception):
    """Missing, dissolved, or not this owner's: the same answer for all."""


class NotDissolvable(Exception):
    """Only a workspace in its lock countdown, or locked, can be dissolved here."""


class NameMismatch(Exception):
    """The typed confirmation is not the workspace's name."""


def do_dissolve_workspace(*, workspace_id: int, owner_id: int, typed_name: str, acting: str, now: datetime) -> str:
    """Dissolve (解散) the owner's workspace in its countdown or lock, confirmed by its name typed exactly;
    return the name. Its token and usage are refused from now on, it gets no more bills, and its usage
    samples are cleared by the clearing job (queued here); bills and audit rows stay."""
    with transaction.atomic():
        workspace = _locked_workspace(workspace_id)
        if workspace is None or workspace.owner_id != owner_id or queries.is_dissolved(workspace_id):
            raise WorkspaceNotFound
        row = queries.open_countdowns().filter(workspace_id=workspace_id).first()
        if row is None:
            raise NotDissolvable
        if " ".join(typed_name.split()) != workspace.name:
            raise NameMismatch
        Dissolution.objects.create(workspace_id=workspace_id, at=now, acting=acting[:200], name=workspace.name)
        _history(workspace_id, row, Kind.DISSOLVED, now=now, acting=acting, name=workspace.name)
        enqueue(CLEAR_DATA_TASK, workspace_id=workspace_id)
        return workspace.name
