"""Reads for the simulator's pages and test hooks: plain dicts, never querysets."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from kaitong_sim import cloud_domain
from kaitong_sim.cloud_domain import KeyRecord
from kaitong_sim.domain import LOOKUP_ACTIONS, THROTTLED
from kaitong_sim.models import (
    AccessKey,
    Account,
    ApiCall,
    Attempt,
    Delivery,
    Instance,
    MeteringRecord,
    Order,
    RamUser,
    RoleGrant,
    SlsProject,
    StsCredential,
)


def accounts() -> list[dict[str, Any]]:
    return [
        {"uid": a.uid, "name": a.name, "is_ram": a.is_ram, "main_uid": a.main_uid, "verified": a.verified}
        for a in Account.objects.order_by("created_at", "id")
    ]


def account(uid: str) -> dict[str, Any] | None:
    a = Account.objects.filter(uid=uid).first()
    if a is None:
        return None
    return {
        "uid": a.uid,
        "name": a.name,
        "is_ram": a.is_ram,
        "main_uid": a.main_uid,
        "owner_uid": a.main_uid or a.uid,
        "sls_active": a.sls_active,
    }


def _instance(i: Instance) -> dict[str, Any]:
    return {
        "instance_id": i.instance_id,
        "vendor_instance_id": i.vendor_instance_id,
        "order_id": i.order_id,
        "ali_uid": i.ali_uid,
        "product_code": i.product_code,
        "product_name": i.product_name,
        "sku_id": i.sku_id,
        "trial": i.trial,
        "status": i.status,
        "status_label": i.get_status_display(),
        "created_at": i.created_at,
        "expires_at": i.expires_at,
        "auth_url": i.auth_url,
        "app_info": i.app_info,
        "can_login": i.status in ("opened", "expired") and bool(i.auth_url),
        "can_close": i.status != "closed",
    }


def instances(*, owner_uid: str | None = None) -> list[dict[str, Any]]:
    query = Instance.objects.order_by("-created_at", "-id")
    if owner_uid is not None:
        query = query.filter(ali_uid=owner_uid)
    return [_instance(i) for i in query]


def instance(instance_id: str, *, owner_uid: str | None = None) -> dict[str, Any] | None:
    query = Instance.objects.filter(instance_id=instance_id)
    if owner_uid is not None:
        query = query.filter(ali_uid=owner_uid)
    found = query.first()
    return _instance(found) if found else None


def instance_for_isv(instance_id: str) -> dict[str, Any] | None:
    """The instance DescribeInstanceForIsv asks about: by the marketplace's ID or by the vendor's."""
    found = (
        Instance.objects.filter(instance_id=instance_id).first()
        or Instance.objects.filter(vendor_instance_id=instance_id).first()
    )
    return _instance(found) if found else None


def order(order_id: str) -> dict[str, Any] | None:
    o = Order.objects.filter(order_id=order_id).first()
    if o is None:
        return None
    return {
        "order_id": o.order_id,
        "instance_id": o.instance_id,
        "ali_uid": o.ali_uid,
        "order_type": o.order_type,
        "product_code": o.product_code,
        "product_name": o.product_name,
        "sku_id": o.sku_id,
        "created_at": o.created_at,
    }


def deliveries(*, limit: int = 200) -> list[dict[str, Any]]:
    rows = Delivery.objects.select_related("instance").order_by("-id")[:limit]
    attempts: dict[int, list[dict[str, Any]]] = {}
    for a in Attempt.objects.filter(delivery_id__in=[d.id for d in rows]).order_by("id"):
        attempts.setdefault(a.delivery_id, []).append(
            {
                "number": a.number,
                "at": a.at,
                "http_status": a.http_status,
                "ok": a.ok,
                "reason": a.reason,
                "response": a.response[:300],
                "elapsed_ms": a.elapsed_ms,
            }
        )
    return [
        {
            "id": d.id,
            "instance_id": d.instance.instance_id if d.instance else "",
            "action": d.action,
            "params": d.params,
            "state": d.state,
            "state_label": d.get_state_display(),
            "attempts": d.attempts,
            "next_attempt_at": d.next_attempt_at,
            "created_at": d.created_at,
            "delivered_at": d.delivered_at,
            "last_error": d.last_error,
            "fault": d.fault,
            "attempt_rows": attempts.get(d.id, []),
        }
        for d in rows
    ]


def metering(*, owner_uid: str | None = None) -> dict[str, Any]:
    query = MeteringRecord.objects.order_by("-start_at", "-id")
    if owner_uid is not None:
        ids = Instance.objects.filter(ali_uid=owner_uid).values_list("instance_id", flat=True)
        query = query.filter(instance_id__in=list(ids))
    records = list(query[:500])
    trials = set(
        Instance.objects.filter(instance_id__in={r.instance_id for r in records}, trial=True).values_list(
            "instance_id", flat=True
        )
    )
    rows = [
        {
            "request_id": r.request_id,
            "received_at": r.received_at,
            "instance_id": r.instance_id,
            "product_code": r.product_code,
            "start_at": r.start_at,
            "end_at": r.end_at,
            "entities": r.entities,
            "cost": r.cost,
            "trial": r.instance_id in trials,
        }
        for r in records
    ]
    # In fen, as a bill is: SQLite's SUM comes back as ¥1, not ¥1.00.
    total = (query.aggregate(total=Sum("cost"))["total"] or Decimal(0)).quantize(Decimal("0.01"))
    return {"records": rows, "total": total}


def api_calls(*, limit: int = 100) -> list[dict[str, Any]]:
    return [
        {
            "at": c.at,
            "request_id": c.request_id,
            "action": c.action,
            "access_key_id": c.access_key_id,
            "signature_method": c.signature_method,
            "http_status": c.http_status,
            "code": c.code,
            "message": c.message,
        }
        for c in ApiCall.objects.order_by("-id")[:limit]
    ]


def lookups_answered_since(*, access_key_id: str, since: datetime) -> int:
    """Lookups (DescribeInstanceForIsv, DescribeOrderForIsv) of one caller answered since ``since``;
    flow-controlled ones do not count."""
    return (
        ApiCall.objects.filter(action__in=LOOKUP_ACTIONS, access_key_id=access_key_id, at__gte=since)
        .exclude(code=THROTTLED)
        .count()
    )


# --- the buyer's Alibaba account -------------------------------------------------------------------------------


def key_record(access_key_id: str) -> KeyRecord | None:
    """A buyer's AccessKey or temporary credentials (the ISV's own key is the configuration's)."""
    key = AccessKey.objects.select_related("ram_user").filter(access_key_id=access_key_id).first()
    if key is not None:
        user = key.ram_user
        caller = (
            cloud_domain.ram_caller(
                main_uid=key.main_uid, user_id=user.user_id, name=user.name, sls_policy=user.sls_policy
            )
            if user is not None
            else cloud_domain.account_caller(key.main_uid)
        )
        return KeyRecord(secret=key.secret, caller=caller, active=key.state == AccessKey.State.ACTIVE)
    temporary = StsCredential.objects.select_related("grant").filter(access_key_id=access_key_id).first()
    if temporary is None:
        return None
    grant = temporary.grant
    return KeyRecord(
        secret=temporary.secret,
        caller=cloud_domain.role_caller(
            main_uid=grant.buyer_uid,
            role_name=grant.role_name,
            role_id=grant.role_id,
            session_name=temporary.session_name,
        ),
        active=grant.state == RoleGrant.State.ACTIVE,
        security_token=temporary.security_token,
        expires_at=temporary.expires_at,
    )


def sls_active(uid: str) -> bool:
    return Account.objects.filter(uid=uid, is_ram=False, sls_active=True).exists()


def active_grant(*, buyer_uid: str, role_name: str) -> dict[str, Any] | None:
    grant = RoleGrant.objects.filter(
        buyer_uid=buyer_uid, role_name__iexact=role_name, state=RoleGrant.State.ACTIVE
    ).first()
    if grant is None:
        return None
    return {
        "id": grant.id,
        "trusted_uid": grant.trusted_uid,
        "external_id": grant.external_id,
        "role_id": grant.role_id,
    }


def grants(buyer_uid: str) -> list[dict[str, Any]]:
    return [
        {
            "id": g.id,
            "role_name": g.role_name,
            "arn": cloud_domain.role_arn(g.buyer_uid, g.role_name),
            "trusted_uid": g.trusted_uid,
            "state": g.state,
            "state_label": g.get_state_display(),
            "created_at": g.created_at,
            "revoked_at": g.revoked_at,
        }
        for g in RoleGrant.objects.filter(buyer_uid=buyer_uid).order_by("-id")
    ]


def ram_users(main_uid: str) -> list[dict[str, Any]]:
    keys: dict[int | None, list[dict[str, Any]]] = {}
    for key in AccessKey.objects.filter(main_uid=main_uid).order_by("id"):
        keys.setdefault(key.ram_user_id, []).append(
            {
                "access_key_id": key.access_key_id,
                "state": key.state,
                "state_label": key.get_state_display(),
                "created_at": key.created_at,
            }
        )
    users: list[dict[str, Any]] = [
        {"id": None, "name": "", "main": True, "sls_policy": True, "keys": keys.get(None, [])},
    ]
    users += [
        {"id": u.id, "name": u.name, "main": False, "sls_policy": u.sls_policy, "keys": keys.get(u.id, [])}
        for u in RamUser.objects.filter(main_uid=main_uid).order_by("id")
    ]
    return users


def sls_project(*, region: str, name: str) -> dict[str, Any] | None:
    p = SlsProject.objects.filter(region=region, name=name).first()
    return _project(p) if p else None


def _project(p: SlsProject) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "region": p.region,
        "owner_uid": p.owner_uid,
        "description": p.description,
        "created_at": p.created_at,
    }


def sls_projects(owner_uid: str, *, region: str | None = None, name_contains: str = "") -> list[dict[str, Any]]:
    """The owner's projects with their stores (name, kind, mode, ttl), by region then name."""
    query = SlsProject.objects.filter(owner_uid=owner_uid).prefetch_related("stores")
    if region is not None:
        query = query.filter(region=region)
    if name_contains:
        query = query.filter(name__contains=name_contains)
    return [
        {
            **_project(p),
            "stores": [{"name": s.name, "kind": s.kind, "mode": s.mode, "ttl": s.ttl} for s in p.stores.all()],
        }
        for p in query.order_by("region", "name")
    ]
