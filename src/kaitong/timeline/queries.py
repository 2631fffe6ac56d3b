"""The operator's per-instance timeline: everything that happened to one marketplace instance and the
workspaces it settles (or settled), from every capability's own records, in time order.

Each source is one small function of the ``Subject`` returning its events (``domain.Event``: time,
kind, text); ``SOURCES`` lists them in the order that breaks ties at the same instant. A capability that
records more about an instance (issue 12's countdown and lock) adds one function to the list.
Texts are in the operator's language (the active one); times are aware datetimes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kaitong.billing.models import MeteringRecord
from kaitong.countdown import queries as countdown_queries
from kaitong.jobs.models import STATUS_LABELS, TaskRun
from kaitong.marketplace.models import STATE_LABELS, InstanceEvent, MarketplaceInstance, ReconciliationResult, SpiCall
from kaitong.notices import labels as notice_labels
from kaitong.notices import queries as notice_queries
from kaitong.sls.domain import Problem as SlsProblem
from kaitong.sls.models import AliyunGrant, SlsStorage
from kaitong.timeline import domain
from kaitong.workspaces.domain import Reason
from kaitong.workspaces.models import REASON_LABELS, SettlementChange, Workspace

SEND_EMAIL = "kaitong.mail.tasks.send_email"
# More than an instance's life ever holds of one kind; a runaway source cannot make the page unreadable.
PER_SOURCE = 500


@dataclass(frozen=True)
class Subject:
    """The instance a timeline is about, and every workspace it settles or ever settled."""

    instance_pk: int
    instance_id: str
    workspace_ids: tuple[int, ...]


def subject_of(instance_id: str) -> Subject | None:
    instance = MarketplaceInstance.objects.filter(instance_id=instance_id).values_list("pk", flat=True).first()
    if instance is None:
        return None
    settled = set(Workspace.objects.filter(cloud_account__instance_id=instance).values_list("pk", flat=True))
    settled |= set(
        SettlementChange.objects.filter(Q(from_instance_id=instance_id) | Q(to_instance_id=instance_id)).values_list(
            "workspace_id", flat=True
        )
    )
    return Subject(instance_pk=instance, instance_id=instance_id, workspace_ids=tuple(sorted(settled)))


def _state(value: str) -> str:
    labels = {state.value: label for state, label in STATE_LABELS.items()}
    return str(labels.get(value, value or "—"))


def spi_calls(subject: Subject) -> Iterable[domain.Event]:
    """The raw inbox: every signed SPI call for the instance, with its verdict."""
    calls = SpiCall.objects.filter(instance_id=subject.instance_id).order_by("received_at", "id")[:PER_SOURCE]
    for call in calls:
        text = f"#{call.pk} {call.action} → {call.get_verdict_display()}"
        yield domain.Event(call.received_at, "spi", f"{text}: {call.message}" if call.message else text)


def state_changes(subject: Subject) -> Iterable[domain.Event]:
    """Each change of the instance's state, by an SPI call or by the reconciliation."""
    events = InstanceEvent.objects.filter(instance_id=subject.instance_pk).order_by("at", "id")[:PER_SOURCE]
    for event in events:
        by = (
            _("SPI 调用 #%(id)s") % {"id": event.spi_call_id}
            if event.spi_call_id is not None
            else _("核对（按云市场记录）")
        )
        change = (
            f"{_state(event.from_state)} → {_state(event.to_state)}" if event.from_state else _state(event.to_state)
        )
        expiry = event.detail.get("expiresAt") if isinstance(event.detail, dict) else None
        text = f"{event.action}: {change} · {by}"
        yield domain.Event(event.at, "state", text + (f" · {_('到期')} {expiry}" if expiry else ""))


def reconciliation_results(subject: Subject) -> Iterable[domain.Event]:
    """What the reconciliation with the marketplace found, applied or cleared; and its last comparison."""
    results = ReconciliationResult.objects.filter(instance_id=subject.instance_pk).order_by("at", "id")
    for result in results[:PER_SOURCE]:
        yield domain.Event(result.at, "reconciliation", f"{result.get_outcome_display()}: {result.note}")
    instance = MarketplaceInstance.objects.filter(pk=subject.instance_pk).values(
        "reconciled_at", "unreconciled_since", "reconcile_note"
    )[0]
    if instance["reconciled_at"] is not None:
        verdict = (
            _("仍不一致：%(note)s") % {"note": instance["reconcile_note"]}
            if instance["unreconciled_since"]
            else _("一致")
        )
        yield domain.Event(
            instance["reconciled_at"], "reconciliation", _("最近一次核对：%(verdict)s") % {"verdict": verdict}
        )


def settlement_changes(subject: Subject) -> Iterable[domain.Event]:
    """Every change of settlement that moved a workspace onto or off the instance."""
    methods = dict(Workspace.Settlement.choices)
    changes = (
        SettlementChange.objects.filter(Q(from_instance_id=subject.instance_id) | Q(to_instance_id=subject.instance_id))
        .select_related("workspace")
        .order_by("at", "id")[:PER_SOURCE]
    )
    for change in changes:
        before = methods.get(change.from_method, "—")
        if change.from_instance_id:
            before = f"{before} {change.from_instance_id}"
        after = methods[change.to_method] + (f" {change.to_instance_id}" if change.to_instance_id else "")
        reason = REASON_LABELS.get(Reason(change.reason), change.reason)
        text = f"{change.workspace.name} (#{change.workspace_id}): {before} → {after} · {reason} · {change.acting}"
        yield domain.Event(change.at, "settlement", text)


def countdown_events(subject: Subject) -> Iterable[domain.Event]:
    """The lock countdowns of the workspaces it settles or settled: started, 3 days left, locked, lifted,
    dissolved (whatever their cause: its expiry or release, or an unpaid bill while it settled them)."""
    for workspace_id in subject.workspace_ids:
        for entry in countdown_queries.countdown_events(workspace_id=workspace_id)[:PER_SOURCE]:
            why = f" · {entry.cause_label}" if entry.cause_label else ""
            lifted = f" · {entry.detail['lift_label']}" if entry.detail.get("lift_label") else ""
            text = f"{entry.workspace_name}: {entry.kind_label}{why}{lifted} ({entry.acting})"
            yield domain.Event(entry.at, "countdown", text)


def workspace_notices(subject: Subject) -> Iterable[domain.Event]:
    """Notices about its workspaces (countdown, lock, settlement changed, high spend), each channel
    with its state; kept for good, unlike task rows."""
    for notice in notice_queries.sent_notices(workspace_ids=subject.workspace_ids, limit=PER_SOURCE):
        text = f"{notice.kind_label} · {notice.channel_label} → {notice.recipient} · {notice.state_label}"
        yield domain.Event(notice.at, "notice", text)


def other_mails(subject: Subject) -> Iterable[domain.Event]:
    """Other emails queued about the instance or its workspaces, with their state. Kept as long as the
    job engine keeps finished tasks (KAITONG_JOB_RETENTION_DAYS)."""
    about = Q(args_kwargs__kwargs__context__instance_id=subject.instance_id)
    if subject.workspace_ids:
        about |= Q(args_kwargs__kwargs__context__workspace_id__in=list(subject.workspace_ids))
    mails = TaskRun.objects.filter(about, task_path=SEND_EMAIL).order_by("enqueued_at")[:PER_SOURCE]
    for mail in mails:
        arguments = mail.args_kwargs.get("kwargs", {})
        status = str(STATUS_LABELS.get(mail.status, mail.status))
        message_type, to = arguments.get("message_type", "?"), arguments.get("to", "?")
        text = f"{message_type} → {to} ({arguments.get('language', '')}) · {status}"
        yield domain.Event(mail.enqueued_at, "notice", text)


def metering_records(subject: Subject) -> Iterable[domain.Event]:
    """The ledger: each day's record for the instance when it was written, and its state since."""
    records = MeteringRecord.objects.filter(instance_id=subject.instance_id).order_by("day")[:PER_SOURCE]
    for record in records:
        amount = f"¥{record.amount_cents / 100:,.2f}"
        yield domain.Event(
            record.created_at,
            "metering",
            _("账期 %(day)s：%(amount)s 待推送") % {"day": record.day.isoformat(), "amount": amount},
        )
        if record.state != MeteringRecord.State.PENDING:
            when = record.answered_at or record.sent_at or record.updated_at
            state = str(record.get_state_display())
            detail = f" · {record.reason}" if record.reason else ""
            attempts = _("推送 %(n)s 次") % {"n": record.attempts}
            yield domain.Event(when, "metering", f"{record.day.isoformat()}: {state} · {attempts}{detail}")


def sls_storage(subject: Subject) -> Iterable[domain.Event]:
    """The exclusive edition: the buyer's grant to their SLS (verified, found lost) and each workspace's
    SLS project (requested, ready or adopted, failed)."""
    ali_uid = MarketplaceInstance.objects.filter(pk=subject.instance_pk).values_list("ali_uid", flat=True).first()
    grant = AliyunGrant.objects.filter(ali_uid=ali_uid, verified_at__isnull=False).first()
    if grant is not None and grant.verified_at is not None:
        method = _("第三方快捷授权") if grant.method == "role" else _("RAM 账号授权")
        yield domain.Event(grant.verified_at, "sls", _("阿里云授权已验证（%(method)s）") % {"method": method})
        if grant.state == AliyunGrant.State.REVOKED and grant.notified_at is not None:
            problem = notice_labels.SLS_PROBLEMS.get(SlsProblem(grant.problem), grant.problem) if grant.problem else ""
            yield domain.Event(grant.notified_at, "sls", _("阿里云授权已失效：%(problem)s") % {"problem": problem})
    storages = SlsStorage.objects.filter(workspace_id__in=subject.workspace_ids).order_by("created_at", "id")
    for storage in storages[:PER_SOURCE]:
        where = f"{storage.region}/{storage.project}"
        yield domain.Event(storage.created_at, "sls", _("SLS Project %(where)s：创建中") % {"where": where})
        if storage.ready_at is not None:
            done = _("已沿用已有 Project") if storage.adopted else _("已就绪")
            yield domain.Event(storage.ready_at, "sls", f"SLS Project {where}: {done}")
        elif storage.state == SlsStorage.State.FAILED:
            yield domain.Event(storage.created_at, "sls", f"SLS Project {where}: {storage.error}")


Source = Callable[[Subject], Iterable[domain.Event]]

# The order breaks ties at one instant: a call, the state change it made, the reconciliation's note,
# the settlement change that followed, the notice it sent, then the ledger.
SOURCES: list[Source] = [
    spi_calls,
    state_changes,
    reconciliation_results,
    settlement_changes,
    countdown_events,
    workspace_notices,
    other_mails,
    metering_records,
    sls_storage,
]

KIND_LABELS = {
    "spi": gettext_lazy("SPI 调用"),
    "state": gettext_lazy("实例状态"),
    "reconciliation": gettext_lazy("核对"),
    "settlement": gettext_lazy("结算方式"),
    "countdown": gettext_lazy("锁定倒计时"),
    "notice": gettext_lazy("通知"),
    "metering": gettext_lazy("计量推送"),
    "sls": gettext_lazy("日志服务 SLS"),
}


def instance_timeline(instance_id: str) -> tuple[Subject, list[domain.Event]] | None:
    """The instance's timeline, oldest first; None for an instance we never heard of."""
    subject = subject_of(instance_id)
    if subject is None:
        return None
    return subject, domain.in_time_order(source(subject) for source in SOURCES)
