"""Any sequence of marketplace calls, settlement moves, usage, payments and days, through the real writers on
the test database (SPI, the settlement door, closing, payments, the periodic duty), watched the way a
buyer sees it (``countdown.queries.status_of``):

- a day the workspace was locked all through has no bill (and so no metering record); every other closed
  day has one;
- a countdown or a lock ends only on a renewal or resumption of its instance, a settlement move or a
  payment, and its history says which.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kaitong.billing import closing, ingest
from kaitong.billing.domain import beijing_day, day_window
from kaitong.billing.models import DailyBill, MeteringRecord
from kaitong.billing.payments import do_record_bill_payments
from kaitong.billing.queries import unpaid_bill_ids
from kaitong.countdown import queries
from kaitong.countdown.models import CountdownEvent
from kaitong.marketplace.aliyun.spi import format_time
from kaitong.workspaces import domain as workspace_rules
from kaitong.workspaces.models import Workspace
from kaitong.workspaces.settlement import do_change_settlement
from tests.support.billing import open_instances, workspaces
from tests.support.countdown import run_duty, spi

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)  # 10:30 Beijing time
INSTANCES = ("720001", "720002")
LIFTS = {"renew": "instance_renewed", "resume": "instance_resumed", "move": "settlement_moved", "pay": "bill_paid"}

# Causes and long stretches of days come often, so that most sequences reach a lock and many undo it.
steps = st.one_of(
    st.tuples(st.sampled_from(["expire", "release", "expire", "renew", "resume"]), st.sampled_from(INSTANCES)),
    st.tuples(st.just("move"), st.sampled_from([None, *INSTANCES])),
    st.tuples(st.just("usage"), st.integers(min_value=1, max_value=9)),
    st.tuples(st.just("pay"), st.none()),
    st.tuples(st.just("days"), st.integers(min_value=1, max_value=16)),
    st.tuples(st.just("days"), st.integers(min_value=12, max_value=16)),
)


class World:
    def __init__(self) -> None:
        open_instances(list(INSTANCES))
        (self.workspace,) = workspaces(1, instance_ids=[INSTANCES[0]], prefix="72")
        self.now = T0
        self.closed_through = beijing_day(T0) - timedelta(days=1)
        self.locked_at_start: dict[date, bool] = {}
        self.unlocked_on: set[date] = set()
        self.unlocks: list[datetime] = []
        self.orders = 0

    def status(self, at: datetime | None = None) -> queries.Status | None:
        return queries.status_of(self.workspace.pk, now=at or self.now)

    def settlement(self) -> workspace_rules.Settlement:
        workspace = Workspace.objects.select_related("cloud_account__instance").get(pk=self.workspace.pk)
        cloud = workspace.cloud_account
        return (
            workspace_rules.BY_BILLING_ACCOUNT
            if cloud is None
            else workspace_rules.by_instance(cloud.instance.instance_id)
        )

    def apply(self, kind: str, value) -> None:  # type: ignore[no-untyped-def]
        match kind:
            case "expire":
                spi({"action": "expiredInstance", "instanceId": value}, now=self.now)
            case "release":
                spi({"action": "releaseInstance", "instanceId": value, "isRefund": "false"}, now=self.now)
            case "renew":
                self.orders += 1
                # Renewed for an hour, so that a later expiry in the sequence is not stale.
                until = format_time(self.now + timedelta(hours=1))
                spi(
                    {"action": "renewInstance", "instanceId": value, "orderId": f"o{self.orders}", "expiredOn": until},
                    now=self.now,
                )
            case "resume":
                spi({"action": "resumeInstance", "instanceId": value, "productCode": "cmgj00053362"}, now=self.now)
            case "move":
                self.move(value)
            case "usage":
                hour = self.now.replace(minute=0, second=0, microsecond=0)
                row = {"workspace": self.workspace.pk, "item": "logs", "hour": hour.strftime("%Y-%m-%dT%H:00:00Z")}
                try:
                    ingest.ingest_batch(raw=[{**row, "quantity": value * 1_000_000}], now=self.now)
                except ingest.SamplesRejected as refused:
                    # Only an hour that began while the workspace was locked is refused.
                    day = beijing_day(hour)
                    unlocked = [at for at in self.unlocks if at > hour]
                    assert refused.forbidden and self.locked_at_start.get(day) and (self.status() or unlocked)
            case "pay":
                do_record_bill_payments(
                    bill_ids=unpaid_bill_ids(workspace_ids=[self.workspace.pk]), recorded_by="operator", now=self.now
                )
            case "days":
                self.days(value)

    def move(self, to: str | None) -> None:
        current = self.settlement()
        if to is None and current.method is workspace_rules.Method.ALIYUN:
            # The one reason this branch's door moves an instance's workspace to its billing-center account
            # with; the billing center's 更改结算方式 page has its own.
            target, reason = workspace_rules.BY_BILLING_ACCOUNT, workspace_rules.Reason.INSTANCE_RELEASED
        elif to is not None and current.method is workspace_rules.Method.BILLING_ACCOUNT:
            target, reason = workspace_rules.by_instance(to), workspace_rules.Reason.BOUND
            active = spi_state(to) == "active"
            if not active:
                return
        else:
            return
        do_change_settlement(
            workspace=Workspace.objects.get(pk=self.workspace.pk),
            to=target,
            reason=reason,
            acting="buyer",
            now=self.now,
        )

    def days(self, count: int) -> None:
        """``count`` Beijing days pass: at each 00:00 the day's lock is seen, the day closes and the duty runs."""
        for _ in range(count):
            boundary = day_window(beijing_day(self.now))[1]
            self.locked_at_start.setdefault(beijing_day(boundary), bool((s := self.status(boundary)) and s.locked))
            self.now = boundary + timedelta(minutes=1)
            day = beijing_day(boundary) - timedelta(days=1)
            closing.do_close_day(day=day, now=self.now)
            self.closed_through = day
            run_duty(self.now)
            self.check_bill(day)

    def check_bill(self, day: date) -> None:
        locked_all_day = self.locked_at_start.get(day, False) and day not in self.unlocked_on
        billed = DailyBill.objects.filter(workspace=self.workspace, day=day).exists()
        assert billed != locked_all_day, (day, locked_all_day)
        if locked_all_day:
            assert not MeteringRecord.objects.filter(day=day, instance_id__in=INSTANCES).exists()


def spi_state(instance_id: str) -> str:
    from kaitong.marketplace.models import MarketplaceInstance

    return MarketplaceInstance.objects.get(instance_id=instance_id).state


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sequence=st.one_of(
        st.lists(steps, min_size=1, max_size=14),
        st.lists(steps, max_size=12).map(lambda rest: [("release", INSTANCES[0]), *rest]),
        st.lists(steps, max_size=12).map(lambda rest: [("move", None), ("usage", 5), *rest]),
    )
)
# Each lock route at least once, whatever the draw: a release locks and a move unlocks; an expiry locks and
# a renewal unlocks; an unpaid bill locks and its payment unlocks.
@example(sequence=[("release", INSTANCES[0]), ("days", 16), ("usage", 1), ("move", None), ("days", 2)])
@example(sequence=[("expire", INSTANCES[0]), ("days", 15), ("renew", INSTANCES[0]), ("usage", 2), ("days", 1)])
@example(sequence=[("move", None), ("usage", 5), ("days", 2), ("days", 15), ("pay", None), ("days", 2)])
def test_any_sequence(sequence):  # type: ignore[no-untyped-def]
    with transaction.atomic():
        world = World()
        world.locked_at_start[beijing_day(T0)] = False
        for kind, value in sequence:
            before = world.status()
            lifted_before = CountdownEvent.objects.filter(workspace=world.workspace, kind="lifted").count()
            world.apply(kind, value)
            after = world.status()
            lifts = list(
                CountdownEvent.objects.filter(workspace=world.workspace, kind="lifted")
                .order_by("at", "id")
                .values_list("detail", flat=True)
            )[lifted_before:]
            if before is not None and before.locked and (after is None or not after.locked):
                world.unlocked_on.add(beijing_day(world.now))
                world.unlocks.append(world.now)
            # Unlock only by the listed causes, and the history says which.
            if lifts:
                assert kind in LIFTS and [lift["lift"] for lift in lifts] == [LIFTS[kind]], (kind, lifts)
                if kind in ("renew", "resume"):
                    assert before is not None and before.instance_id == value
            if before is not None and after is None:
                assert lifts, (kind, value)
        transaction.set_rollback(True)
