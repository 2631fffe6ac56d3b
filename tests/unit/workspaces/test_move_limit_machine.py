"""At most one settlement change per Beijing calendar month, except after a release or expiry (issue 12),
driven by hypothesis through any sequence of moves, bindings, expiries, releases, renewals, resumptions
and days passing (across Beijing month ends).

The machine holds one workspace, three marketplace instances and the workspace's audit rows, and judges
every move the way the settlement door does (``settlement_changes``, the target instance active, then
``check_move`` on the facts read from the audit rows as ``queries.move_facts`` reads them). It checks,
from the recorded successful moves:

- two successful moves in one Beijing month always have, between them, an expiry or release of the
  instance that settled the workspace then (each lapse pays for one extra move, never more);
- the rules refuse no more than they must: a move is refused exactly when the workspace is settled by a
  subscribed instance, or when it already moved this Beijing month and its instance has not lapsed since.
Pure: no database, no clock.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kaitong.workspaces import domain
from kaitong.workspaces.domain import BY_BILLING_ACCOUNT, Method, Reason, Settlement, by_instance

# Two days before a Beijing month ends, in the evening: months turn within the first steps.
T0 = datetime(2026, 11, 28, 13, 30, tzinfo=UTC)
INSTANCES = ("A", "B", "C")
targets = st.sampled_from([None, *INSTANCES])  # None: the billing-center account


def beijing_month(moment: datetime) -> str:
    return moment.astimezone(domain.BEIJING).strftime("%Y-%m")


@dataclass(frozen=True)
class Change:
    """An audit row of the workspace (SettlementChange): when, why, to what; ``seq`` orders the story."""

    seq: int
    at: datetime
    reason: Reason
    to: Settlement


class MoveLimitMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.seq = 0
        self.marketplace = dict.fromkeys(INSTANCES, "active")  # active | expired | released
        # Opened during activation, settled by instance A (创建工作空间).
        self.settlement: Settlement = by_instance("A")
        self.changes = [Change(0, T0, Reason.CREATED_BOUND, self.settlement)]
        self.lapses: list[tuple[int, str]] = []  # (seq, instance) expiries/releases of the settling instance

    def tick(self) -> int:
        self.seq += 1
        return self.seq

    # --- what the door reads ----------------------------------------------------------------------------

    def facts(self) -> domain.MoveFacts:
        """As ``queries.move_facts`` reads them from the audit rows and the instance."""
        moves = [c for c in self.changes if c.reason in domain.MOVE_REASONS]
        last = moves[-1] if moves else None
        releases = [c for c in self.changes if c.reason is Reason.INSTANCE_RELEASED]
        current = self.settlement
        return domain.MoveFacts(
            current=current,
            instance_subscribed=self.marketplace[current.instance_id] == "active" if current.instance_id else None,
            last_move_at=last.at if last else None,
            fell_back_since_last_move=last is not None and any(r.seq > last.seq for r in releases),
        )

    def moves(self) -> list[Change]:
        return [c for c in self.changes if c.reason in domain.MOVE_REASONS]

    # --- the world ------------------------------------------------------------------------------------------

    def instance_becomes(self, instance_id: str, state: str, *, allowed_from: set[str]) -> None:
        if self.marketplace[instance_id] not in allowed_from:
            return
        self.marketplace[instance_id] = state
        seq = self.tick()
        if state != "active" and self.settlement.instance_id == instance_id:
            self.lapses.append((seq, instance_id))

    @rule(instance_id=st.sampled_from(INSTANCES))
    def expire(self, instance_id: str) -> None:
        self.instance_becomes(instance_id, "expired", allowed_from={"active"})

    @rule(instance_id=st.sampled_from(INSTANCES))
    def release(self, instance_id: str) -> None:
        """关闭 or released at the end of its grace: final (marketplace/domain.py)."""
        self.instance_becomes(instance_id, "released", allowed_from={"active", "expired"})

    @rule(instance_id=st.sampled_from(INSTANCES))
    def renew_or_resume(self, instance_id: str) -> None:
        self.instance_becomes(instance_id, "active", allowed_from={"expired"})

    @rule(hours=st.integers(min_value=1, max_value=24 * 40))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule(to=targets, binding=st.booleans())
    def move(self, to: str | None, binding: bool) -> None:
        """更改结算方式 (MOVED) or 绑定 from the login-free entry (BOUND, to an instance only)."""
        target = BY_BILLING_ACCOUNT if to is None else by_instance(to)
        reason = Reason.BOUND if binding and to is not None else Reason.MOVED
        current = self.settlement
        # The door: settling by an instance needs it active (accounts.ensure_cloud_account), first.
        if to is not None and self.marketplace[to] != "active":
            return
        try:
            if not domain.settlement_changes(current=current, to=target, reason=reason):
                return
        except domain.AlreadyBoundElsewhere:
            assert reason is Reason.BOUND and current.method is Method.ALIYUN
            return
        expected = self.expected_refusal()
        try:
            domain.check_move(self.facts(), now=self.now)
        except domain.MoveRefused as refused:
            assert refused.rule is expected, (refused.rule, expected)
            if refused.rule is domain.MoveRule.ONCE_A_MONTH:
                assert refused.next_move_from is not None and refused.next_move_from > self.now
                assert beijing_month(refused.next_move_from) != beijing_month(self.now)
                assert beijing_month(refused.next_move_from - timedelta(seconds=1)) == beijing_month(self.now)
            return
        assert expected is None, expected
        self.settlement = target
        self.changes.append(Change(self.tick(), self.now, reason, target))

    def expected_refusal(self) -> domain.MoveRule | None:
        """The rule in words, from the story alone: a subscribed instance keeps its workspace; otherwise
        one move a Beijing month, and one more after each lapse of the settling instance."""
        current = self.settlement
        if current.instance_id and self.marketplace[current.instance_id] == "active":
            return domain.MoveRule.STILL_SUBSCRIBED
        moves = self.moves()
        if not moves or beijing_month(moves[-1].at) != beijing_month(self.now):
            return None
        if any(seq > moves[-1].seq for seq, _ in self.lapses):
            return None
        return domain.MoveRule.ONCE_A_MONTH

    # --- the invariant ---------------------------------------------------------------------------------------

    @invariant()
    def at_most_one_move_a_month_but_after_a_lapse(self) -> None:
        moves = self.moves()
        for earlier, later in itertools.pairwise(moves):
            if beijing_month(earlier.at) != beijing_month(later.at):
                continue
            between = [instance for seq, instance in self.lapses if earlier.seq < seq < later.seq]
            # The lapse was of the instance the first move settled the workspace on (or one it kept).
            assert between, f"two moves in {beijing_month(later.at)} with no lapse between: {earlier}, {later}"
            assert earlier.to.instance_id in between, (earlier, between)

    @invariant()
    def moves_stay_in_time_order(self) -> None:
        times = [c.at for c in self.changes]
        assert times == sorted(times)


TestMoveLimitMachine = MoveLimitMachine.TestCase
TestMoveLimitMachine.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
