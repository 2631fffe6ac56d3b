"""Lock countdown test helpers: SPI calls at a chosen moment, the notices queued, the periodic duty."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from kaitong.countdown import actions
from kaitong.countdown.models import Countdown, CountdownEvent
from kaitong.marketplace import actions as marketplace
from kaitong.marketplace.aliyun.instances import scripted
from kaitong.marketplace.aliyun.spi import format_time
from kaitong.notices.domain import mail_language
from kaitong.notices.models import SentNotice
from tests.support.marketplace import isv_key, spi_query


def spi(params: dict[str, str], *, now: datetime) -> dict[str, Any]:
    """One signed SPI call received at ``now`` (the marketplace scripted: an expire or release that cannot
    be confirmed is applied, as when the marketplace does not answer)."""
    answer = marketplace.do_receive_spi_call(
        raw_sources=[spi_query(params)],
        now=now,
        isv_key=isv_key(),
        auth_url="http://testserver/sso",
        marketplace=scripted,
        refused_calls_per_day=settings.ENV.spi_refused_calls_per_day,
    )
    return answer.body


def expire(instance_id: str, *, now: datetime) -> None:
    assert spi({"action": "expiredInstance", "instanceId": instance_id}, now=now) == {"success": True}


def release(instance_id: str, *, now: datetime) -> None:
    assert spi({"action": "releaseInstance", "instanceId": instance_id, "isRefund": "false"}, now=now) == {
        "success": True
    }


def renew(instance_id: str, *, now: datetime, until: datetime, order: str = "renew-1") -> None:
    params = {"action": "renewInstance", "instanceId": instance_id, "orderId": order, "expiredOn": format_time(until)}
    assert spi(params, now=now) == {"success": True}


def resume(instance_id: str, *, now: datetime) -> None:
    params = {"action": "resumeInstance", "instanceId": instance_id, "productCode": "cmgj00053362"}
    assert spi(params, now=now) == {"success": True}


@dataclass(frozen=True)
class QueuedNotice:
    kind: str  # countdown_started, countdown_ending, locked, unlocked, …
    to: str
    language: str
    context: dict[str, Any]  # what the countdown passed (the notice adds the workspace's id and name)
    workspace_id: int


def queued_notices(*, kind: str | None = None) -> list[QueuedNotice]:
    """The notices queued so far by email (``notices.SentNotice``), oldest first; ``language`` as the
    mail is written (zh-hans or en)."""
    rows = SentNotice.objects.filter(channel="email").select_related("workspace").order_by("queued_at", "id")
    if kind is not None:
        rows = rows.filter(kind=kind)
    found = []
    for row in rows:
        context = dict(row.context)
        context.pop("workspace_id", None)
        context.pop("workspace_name", None)
        language = mail_language(row.language)
        found.append(QueuedNotice(row.kind, row.recipient, language, context, row.workspace_id))
    return found


def forget_notices() -> None:
    SentNotice.objects.all().delete()


def open_countdown(workspace_id: int) -> Countdown | None:
    return Countdown.objects.filter(workspace_id=workspace_id, lifted_at__isnull=True).first()


def history(workspace_id: int) -> list[str]:
    """The workspace's countdown events, oldest first, by kind."""
    return list(
        CountdownEvent.objects.filter(workspace_id=workspace_id).order_by("at", "id").values_list("kind", flat=True)
    )


def run_duty(now: datetime) -> actions.DutyReport:
    return actions.do_run_countdowns(now=now)
