"""Billing test helpers: workspaces settled by Alibaba instances (built through the actions), samples,
and a fixed clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from kaitong.accounts import actions as accounts
from kaitong.accounts.models import BillingAccount, ConsoleAccount
from kaitong.billing import domain
from kaitong.billing.models import MeteringRecord
from kaitong.marketplace import actions as marketplace
from kaitong.marketplace.aliyun.instances import scripted
from kaitong.sls.models import AliyunGrant
from kaitong.workspaces import actions as workspace_actions
from kaitong.workspaces import domain as workspace_rules
from kaitong.workspaces.models import Workspace
from tests.support.marketplace import create_params, isv_key, spi_query

DAY = date(2026, 11, 20)
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    """A clock the test moves; every read advances it a little, like real time."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=5)
        return self.now


def after_close(day: date = DAY, *, minutes: int = 10) -> datetime:
    """A moment just after ``day`` ended in Beijing (00:10 Beijing the next day, by default)."""
    return domain.day_window(day)[1] + timedelta(minutes=minutes)


def hour(day: date, h: int) -> str:
    """The ``h``-th hour of the Beijing day ``day`` as the API wants it (UTC, on the hour)."""
    return (domain.day_window(day)[0] + timedelta(hours=h)).strftime("%Y-%m-%dT%H:00:00Z")


def owner(username: str = "owner") -> ConsoleAccount:
    """The console account ``username`` (with its same-named billing-center account), registered once."""
    existing = ConsoleAccount.objects.filter(username=username).first()
    if existing is not None:
        return existing
    return accounts.do_register_verified_console_account(
        username=username, password_hash="!", email=f"{username}@example.com", enterprise_name="", now=LONG_AGO
    ).console_account


def billing_account(user: ConsoleAccount) -> BillingAccount:
    return BillingAccount.objects.get(console_account=user)


def open_instances(instance_ids: list[str], *, product_code: str = "cmgj00053362") -> None:
    """Each instance created as the marketplace creates it: a signed createInstance through the SPI action
    (one commit for them all)."""
    with transaction.atomic():
        for instance_id in instance_ids:
            params = create_params(instance_id, productCode=product_code, skuId=f"{product_code}-postpay")
            marketplace.do_receive_spi_call(
                raw_sources=[spi_query(params)],
                now=LONG_AGO,
                isv_key=isv_key(),
                auth_url="http://testserver/sso",
                marketplace=scripted,  # a create asks the marketplace nothing
                refused_calls_per_day=settings.ENV.spi_refused_calls_per_day,
            )


def workspaces(
    count: int,
    *,
    alibaba: bool = True,
    product_code: str = "cmgj00053362",
    prefix: str = "9",
    user=None,
    instance_ids: list[str] | None = None,
    created: datetime = LONG_AGO,
) -> list[Workspace]:
    """``count`` workspaces, made through the actions at ``created``; with ``alibaba`` each is settled by
    its own active marketplace instance (named ``instance_ids``, e.g. the simulator's, or made up from
    ``prefix``)."""
    user = user or owner()
    account = billing_account(user)
    ids = (instance_ids or [f"{prefix}{n:07d}" for n in range(count)])[:count] if alibaba else []
    open_instances(ids, product_code=product_code)
    if alibaba and product_code == settings.ENV.aliyun_exclusive_product_code:
        # An exclusive workspace needs the buyer's verified grant (a role: nothing sealed); its SLS
        # project's job is queued and, with no simulator, fails to reach the cloud if run.
        AliyunGrant.objects.get_or_create(
            ali_uid=create_params()["aliUid"],
            defaults={"role_name": settings.ENV.aliyun_sls_role, "verified_at": created},
        )
    # One commit for the lot where no test transaction holds them (bench/, billing_simulator's subprocess).
    with transaction.atomic():
        made = [
            workspace_actions.do_create_workspace(
                billing_account_id=account.pk,
                name=f"ws-{prefix}-{n}",
                language="zh",
                settled_by=workspace_rules.by_instance(ids[n]) if alibaba else workspace_rules.BY_BILLING_ACCOUNT,
                reason=workspace_rules.Reason.CREATED,
                acting="test",
                now=created,
            )
            for n in range(count)
        ]
    return list(Workspace.objects.filter(pk__in=made).select_related("owner", "cloud_account__instance").order_by("id"))


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
