"""The only writers of marketplace instances: one SPI call in, one answer out.

Order of work for every call (reliability A.3, A.6):
1. the call is stored in the inbox, redacted, in its own short transaction — before anything can fail;
2. it is authenticated and parsed; a bad call is answered with a message and changes nothing;
3. the state change, its audit row and the inbox verdict commit together, so a crash leaves either
   all of them or none, and the marketplace's retry finds the same state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from kaitong.marketplace import domain
from kaitong.marketplace.aliyun import spi
from kaitong.marketplace.models import InstanceEvent, MarketplaceInstance, SpiCall

log = logging.getLogger(__name__)
Verdict = SpiCall.Verdict


@dataclass(frozen=True)
class SpiAnswer:
    body: dict[str, Any]
    verdict: str
    message: str = ""


def _failure(action: str, message: str) -> dict[str, Any]:
    # createInstance has no failure schema: instanceId "0" tells the marketplace to call again. When
    # the call was too malformed to know its action, answer in both shapes.
    if action in (domain.Action.CREATE, ""):
        return {"instanceId": "0", "success": False, "message": message}
    return {"success": False, "message": message}


def do_receive_spi_call(
    *, raw_sources: Iterable[str], now: datetime, isv_key: str, auth_url: str, remote_addr: str = ""
) -> SpiAnswer:
    """Store, verify and apply one SPI call; return the JSON answer for the marketplace."""
    try:
        params = spi.collect_parameters(raw_sources)
    except spi.BadCall as exc:
        # Even an unparseable call is recorded, so an operator can see what arrived.
        inbox = SpiCall.objects.create(
            received_at=now, action="", params={}, remote_addr=remote_addr[:64], message=str(exc)[:255]
        )
        return _finish_rejected(inbox, "", str(exc))

    request = spi.SpiRequest(params=params)
    action = request.action[:64]
    inbox = SpiCall.objects.create(
        received_at=now,
        action=action,
        instance_id=(params.get("instanceId") or params.get("orderBizId") or "")[:64],
        params=request.redacted(),
        remote_addr=remote_addr[:64],
    )
    try:
        spi.authenticate(params, key=isv_key)
        parsed_action = spi.parse_action(request)
        if parsed_action is domain.Action.CREATE:
            return _create(inbox, spi.parse_create(request), now=now, auth_url=auth_url)
        instance_id, call = spi.parse_lifecycle(request, parsed_action)
    except spi.BadCall as exc:
        return _finish_rejected(inbox, action, str(exc))
    return _lifecycle(inbox, instance_id, call, now=now)


def _finish_rejected(inbox: SpiCall, action: str, message: str) -> SpiAnswer:
    log.warning("SPI call %s rejected: %s", inbox.pk, message)
    answer = SpiAnswer(_failure(action, message), Verdict.REJECTED, message)
    _record(inbox, answer)
    return answer


def _record(inbox: SpiCall, answer: SpiAnswer) -> None:
    SpiCall.objects.filter(pk=inbox.pk).update(verdict=answer.verdict, answer=answer.body, message=answer.message[:255])


def _create(inbox: SpiCall, call: spi.CreateCall, *, now: datetime, auth_url: str) -> SpiAnswer:
    with transaction.atomic():
        # INSERT … ON CONFLICT DO NOTHING, then read: concurrent identical creates all end up reading
        # the one row the constraint let in; nobody checks first and inserts after.
        MarketplaceInstance.objects.bulk_create(
            [
                MarketplaceInstance(
                    instance_id=call.instance_id,
                    ali_uid=call.ali_uid,
                    order_id=call.order_id,
                    product_code=call.product_code,
                    sku_id=call.sku_id,
                    trial=call.trial,
                    expires_at=call.expires_at,
                    extra=call.extra,
                    created_by_call=inbox,
                    created_at=now,
                    updated_at=now,
                )
            ],
            ignore_conflicts=True,
        )
        instance = MarketplaceInstance.objects.get(instance_id=call.instance_id)
        body = {"instanceId": instance.instance_id, "appInfo": {"authUrl": auth_url}}
        if instance.created_by_call_id == inbox.pk:
            InstanceEvent.objects.create(
                instance=instance,
                spi_call=inbox,
                action=domain.Action.CREATE,
                to_state=instance.state,
                at=now,
                detail={"aliUid": call.ali_uid, "skuId": call.sku_id, "trial": call.trial},
            )
            answer = SpiAnswer(body, Verdict.APPLIED)
        else:
            message = "duplicate create; same instance"
            if instance.ali_uid != call.ali_uid:
                message = "duplicate create with a different aliUid; the first one stands"
                log.warning("createInstance %s repeated with a different aliUid", call.instance_id)
            answer = SpiAnswer(body, Verdict.UNCHANGED, message)
        _record(inbox, answer)
    return answer


def _lifecycle(inbox: SpiCall, instance_id: str, call: domain.Call, *, now: datetime) -> SpiAnswer:
    with transaction.atomic():
        instance = MarketplaceInstance.objects.select_for_update().filter(instance_id=instance_id).first()
        outcome = domain.decide(instance.as_domain() if instance else None, call, now=now)
        if not outcome.success:
            answer = SpiAnswer(_failure(call.action, outcome.message), Verdict.REFUSED, outcome.message)
        elif outcome.instance is None:
            answer = SpiAnswer({"success": True}, Verdict.UNCHANGED, outcome.message)
        else:
            assert instance is not None
            _apply(instance, outcome.instance, inbox, call, now=now)
            answer = SpiAnswer({"success": True}, Verdict.APPLIED)
        _record(inbox, answer)
    return answer


def _apply(
    instance: MarketplaceInstance, after: domain.Instance, inbox: SpiCall, call: domain.Call, *, now: datetime
) -> None:
    before_state = instance.state
    instance.state = after.state
    instance.sku_id = after.sku_id
    instance.expires_at = after.expires_at
    instance.refunded = after.refunded
    instance.applied_orders = sorted(after.applied_orders)
    instance.updated_at = now
    instance.save(update_fields=["state", "sku_id", "expires_at", "refunded", "applied_orders", "updated_at"])
    InstanceEvent.objects.create(
        instance=instance,
        spi_call=inbox,
        action=call.action,
        from_state=before_state,
        to_state=after.state,
        at=now,
        detail={
            "expiresAt": after.expires_at.isoformat() if after.expires_at else None,
            "skuId": after.sku_id,
        },
    )
    _notify_state_change(instance, before_state=before_state, now=now)


# Other capabilities react to a state change (a released instance stops settling its workspaces)
# through receivers registered here; they run inside the same transaction.
_state_change_receivers: list = []


def on_instance_state_change(receiver):  # type: ignore[no-untyped-def]
    """Register ``receiver(instance, before_state=…, now=…)``, called inside the writing transaction."""
    _state_change_receivers.append(receiver)
    return receiver


def _notify_state_change(instance: MarketplaceInstance, *, before_state: str, now: datetime) -> None:
    if instance.state == before_state:
        return
    for receiver in _state_change_receivers:
        receiver(instance, before_state=before_state, now=now)
