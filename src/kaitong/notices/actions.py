"""The one way to tell a workspace's owner about the workspace: ``do_send_workspace_notice``; the
owner's high-spend alert (高消费预警), set per workspace and checked when a day closes into bills.

Every notice is rendered in the workspace's language (chosen at creation, never changed), whatever
language the reader's browser uses. It is queued in the caller's transaction, so a notice exists if and
only if the change it reports committed, and every notice sent is a ``SentNotice`` row, findable per
workspace (``queries.sent_notices``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from kaitong.billing import queries as billing_queries
from kaitong.billing.models import DailyBillLine
from kaitong.jobs.actions import enqueue
from kaitong.notices import domain
from kaitong.notices.domain import BadNoticeContext, Channel, Notice
from kaitong.notices.models import HighSpendAlert, SentNotice, SpendThreshold, SpendThresholdChange
from kaitong.sms.backends import sms_enabled
from kaitong.workspaces.models import Workspace

# By path: the task is an interface above this module (the layers contract), and imports it.
DELIVER_NOTICE = "kaitong.notices.tasks.deliver_notice"
State = SentNotice.State


def do_send_workspace_notice(*, workspace_id: int, notice: Notice, context: dict[str, Any], now: datetime) -> None:
    """Queue ``notice`` about the workspace to its owner, in the workspace's language: an email, and an
    SMS when the owner has a phone number and an SMS backend is configured (``KAITONG_SMS_BACKEND``).

    ``context`` holds the codes the notice's templates need (``domain.REQUIRED``; the words are chosen
    when it is rendered) and must be JSON: it is stored with the notice. Call it inside the transaction
    of the change it reports. Raises BadNoticeContext (nothing queued) when the context falls short,
    Workspace.DoesNotExist for an unknown workspace.
    """
    notice = Notice(notice)
    problems = domain.context_problems(notice, context)
    item = context.get("item")
    if notice is Notice.HIGH_SPEND and isinstance(item, str) and item not in billing_queries.known_items():
        problems.append(f"item: no price list names {item!r}")
    if problems:
        raise BadNoticeContext(f"{notice} notice: " + "; ".join(problems))
    workspace = Workspace.objects.select_related("owner").get(pk=workspace_id)
    owner = workspace.owner
    recipients = []
    if owner.email:
        recipients.append((Channel.EMAIL, owner.email))
    if owner.phone and sms_enabled() and (number := domain.phone_number(owner.phone)):
        recipients.append((Channel.SMS, number))
    stored = {**context, "workspace_id": workspace.pk, "workspace_name": workspace.name}
    with transaction.atomic():
        for channel, recipient in recipients:
            sent = SentNotice.objects.create(
                workspace=workspace,
                kind=notice,
                channel=channel,
                recipient=recipient,
                language=workspace.language,
                context=stored,
                queued_at=now,
            )
            enqueue(DELIVER_NOTICE, notice_id=sent.pk)


def do_record_notice_sent(*, notice_id: int, now: datetime) -> None:
    """The channel took the notice (SMTP accepted it, the SMS gateway did)."""
    with transaction.atomic():
        SentNotice.objects.filter(pk=notice_id).update(state=State.SENT, sent_at=now, detail="")


def do_record_notice_failed(*, notice_id: int, reason: str, now: datetime) -> None:
    """The channel refused the notice for good (an SMS gateway that cannot reach the number)."""
    with transaction.atomic():
        SentNotice.objects.filter(pk=notice_id).exclude(state=State.SENT).update(
            state=State.FAILED, detail=reason[:300]
        )


# --- 高消费预警 -------------------------------------------------------------------------------------------


class NotYourWorkspace(Exception):
    """The workspace does not exist or is not the acting account's own (the two look the same)."""


def do_set_spend_threshold(*, workspace_id: int, acting_user_id: int, amount: Decimal | None, now: datetime) -> None:
    """Set the owner's high-spend alert of a workspace to ``amount`` (RMB), or turn it off (None), with
    an audit row. Only the workspace's owner may: NotYourWorkspace otherwise. The amount is checked by
    the form (positive, two decimals); the database refuses anything else."""
    with transaction.atomic():
        workspace = Workspace.objects.select_for_update().filter(pk=workspace_id, owner_id=acting_user_id).first()
        if workspace is None:
            raise NotYourWorkspace(workspace_id)
        current = SpendThreshold.objects.filter(workspace=workspace).first()
        before = current.amount if current else None
        if before == amount:
            return
        if amount is None:
            SpendThreshold.objects.filter(workspace=workspace).delete()
        else:
            SpendThreshold.objects.update_or_create(
                workspace=workspace, defaults={"amount": amount, "set_at": now, "set_by_id": acting_user_id}
            )
        SpendThresholdChange.objects.create(
            workspace=workspace, at=now, acting_id=acting_user_id, from_amount=before, to_amount=amount
        )


def do_alert_high_spend(*, day: date, now: datetime) -> int:
    """Tell each owner about every item of ``day``'s bills above the workspace's threshold: one
    HIGH_SPEND notice per workspace, day and item, ever (the UNIQUE constraint of ``HighSpendAlert``
    decides, also between two closes at once). Called by the close of the day, in its transaction.
    Return how many notices were queued."""
    over = (
        DailyBillLine.objects.filter(bill__day=day, fee__gt=F("bill__workspace__spend_threshold__amount"))
        .values_list("bill__workspace_id", "item", "fee", "bill__workspace__spend_threshold__amount")
        .order_by("bill__workspace_id", "item")
    )
    alerted = 0
    for workspace_id, item, fee, threshold in over:
        try:
            with transaction.atomic():
                HighSpendAlert.objects.create(
                    workspace_id=workspace_id, day=day, item=item, amount=fee, threshold=threshold, alerted_at=now
                )
        except IntegrityError:
            continue  # told already
        do_send_workspace_notice(
            workspace_id=workspace_id,
            notice=Notice.HIGH_SPEND,
            context={"day": day.isoformat(), "item": item, "amount": str(fee), "threshold": str(threshold)},
            now=now,
        )
        alerted += 1
    return alerted
