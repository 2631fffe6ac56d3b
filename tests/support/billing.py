"""Billing test helpers: workspaces settled by Alibaba instances, samples, and a fixed clock."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from kaitong.accounts.models import BillingAccount, CloudAccount, ConsoleAccount
from kaitong.billing import domain
from kaitong.billing.models import MeteringRecord
from kaitong.marketplace.models import MarketplaceInstance, SpiCall
from kaitong.workspaces.models import Workspace

DAY = date(2026, 11, 20)
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def after_close(day: date = DAY, *, minutes: int = 10) -> datetime:
    """A moment just after ``day`` ended in Beijing (00:10 Beijing the next day, by default)."""
    return domain.day_window(day)[1] + timedelta(minutes=minutes)


def hour(day: date, h: int) -> str:
    """The ``h``-th hour of the Beijing day ``day`` as the API wants it (UTC, on the hour)."""
    return (domain.day_window(day)[0] + timedelta(hours=h)).strftime("%Y-%m-%dT%H:00:00Z")


def owner(username: str = "owner") -> ConsoleAccount:
    user, _ = ConsoleAccount.objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
    return user


def billing_account(user: ConsoleAccount) -> BillingAccount:
    account, _ = BillingAccount.objects.get_or_create(
        username=user.username,
        defaults={"email": user.email, "console_account": user, "created_at": LONG_AGO},
    )
    return account


def _instance_fields() -> dict[str, object]:
    extra: dict[str, object] = {}
    names = {f.name for f in MarketplaceInstance._meta.get_fields()}
    if "created_by_call" in names:  # the foundation's model; a later migration may drop it
        extra["created_by_call"] = SpiCall.objects.create(
            received_at=LONG_AGO, action="createInstance", params={}, verdict="applied"
        )
    return extra


def workspaces(
    count: int,
    *,
    alibaba: bool = True,
    product_code: str = "cmgj00053362",
    prefix: str = "9",
    user=None,
    instance_ids: list[str] | None = None,
) -> list[Workspace]:
    """``count`` workspaces; with ``alibaba`` each is settled by its own active marketplace instance
    (named ``instance_ids``, e.g. the simulator's, or made up from ``prefix``)."""
    user = user or owner()
    account = billing_account(user)
    extra = _instance_fields()
    instances = []
    if alibaba:
        instances = MarketplaceInstance.objects.bulk_create(
            [
                MarketplaceInstance(
                    instance_id=instance_ids[n] if instance_ids else f"{prefix}{n:07d}",
                    ali_uid="1234567890123456",
                    order_id=f"8{n:09d}",
                    product_code=product_code,
                    sku_id=f"{product_code}-postpay",
                    created_at=LONG_AGO,
                    updated_at=LONG_AGO,
                    **extra,
                )
                for n in range(count)
            ]
        )
        clouds = CloudAccount.objects.bulk_create(
            [
                CloudAccount(billing_account=account, ali_uid="1234567890123456", instance=i, created_at=LONG_AGO)
                for i in instances
            ]
        )
    return Workspace.objects.bulk_create(
        [
            Workspace(
                name=f"ws-{prefix}-{n}",
                language="zh",
                token="tkn_" + secrets.token_hex(16),
                owner=user,
                billing_account=account,
                settlement="aliyun" if alibaba else "billing_account",
                cloud_account=clouds[n] if alibaba else None,
                created_at=LONG_AGO,
            )
            for n in range(count)
        ]
    )


def sample(workspace: Workspace | int | str, item: str, day: date, h: int, quantity: int | str | Decimal) -> dict:
    ref = workspace.pk if isinstance(workspace, Workspace) else workspace
    return {"workspace": ref, "item": item, "hour": hour(day, h), "quantity": quantity}


def ledger_records(count: int, *, prefix: str = "ledger") -> list[MeteringRecord]:
    """``count`` pending ledger records of DAY, written directly: for tests of the ledger's own rules
    (the claim, the transition table), which need no bills behind them."""
    start, end = domain.day_window(DAY)
    return MeteringRecord.objects.bulk_create(
        [
            MeteringRecord(
                instance_id=f"{prefix}{n:05d}",
                product_code="cmgj00053362",
                day=DAY,
                start_time=int(start.timestamp()),
                end_time=int(end.timestamp()),
                amount_cents=100,
                metering_assit="cmgj00053362-Frequency-1",
                created_at=LONG_AGO,
                updated_at=LONG_AGO,
            )
            for n in range(count)
        ]
    )
