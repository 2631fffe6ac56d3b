"""The instance lifecycle as a pure function, checked by a hypothesis state machine against a model."""

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from kaitong.marketplace.domain import Action, Call, Instance, State, decide

T0 = datetime(2026, 1, 1, tzinfo=UTC)
moments = st.integers(min_value=0, max_value=400).map(lambda d: T0 + timedelta(days=d))
orders = st.sampled_from(["o1", "o2", "o3", "o4"])
skus = st.sampled_from(["basic", "pro", "max"])


class LifecycleMachine(RuleBasedStateMachine):
    """Random sequences of calls, duplicates included; the model is the rule set in a few lines."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.instance: Instance | None = None
        self.model_state: str | None = None
        self.model_expiry: datetime | None = None
        self.model_orders: set[str] = set()
        self.max_expiry_seen: datetime | None = None

    def _send(self, call: Call):  # type: ignore[no-untyped-def]
        outcome = decide(self.instance, call, now=self.now)
        if outcome.instance is not None:
            self.instance = outcome.instance
        return outcome

    @rule(days=st.integers(min_value=0, max_value=60))
    def time_passes(self, days):  # type: ignore[no-untyped-def]
        self.now += timedelta(days=days)

    @precondition(lambda self: self.instance is None)
    @rule(expiry=st.none() | moments)
    def create(self, expiry):  # type: ignore[no-untyped-def]
        self.instance = Instance(state=State.ACTIVE, sku_id="basic", expires_at=expiry)
        self.model_state, self.model_expiry = "active", expiry

    @rule(expiry=moments, order=orders)
    def renew(self, expiry, order):  # type: ignore[no-untyped-def]
        outcome = self._send(Call(Action.RENEW, expires_at=expiry, order_id=order))
        if self.model_state is None or self.model_state == "released":
            assert not outcome.success and outcome.message
            return
        assert outcome.success
        if order in self.model_orders:
            return  # a replayed order changes nothing
        self.model_orders.add(order)
        self.model_state = "active"
        if self.model_expiry is None or expiry > self.model_expiry:
            self.model_expiry = expiry

    @rule()
    def expire(self):  # type: ignore[no-untyped-def]
        outcome = self._send(Call(Action.EXPIRE))
        assert outcome.success  # expire is always acknowledged, even unknown or released
        if self.model_state == "active" and (self.model_expiry is None or self.model_expiry <= self.now):
            self.model_state = "expired"

    @rule(refund=st.booleans())
    def release(self, refund):  # type: ignore[no-untyped-def]
        outcome = self._send(Call(Action.RELEASE, is_refund=refund))
        assert outcome.success
        if self.model_state is not None:
            self.model_state = "released"

    @rule(sku=skus, order=orders)
    def upgrade(self, sku, order):  # type: ignore[no-untyped-def]
        outcome = self._send(Call(Action.UPGRADE, sku_id=sku, order_id=order))
        assert outcome.success == (self.model_state in ("active", "expired"))

    @rule()
    def resume(self):  # type: ignore[no-untyped-def]
        outcome = self._send(Call(Action.RESUME))
        if self.model_state in ("active", "expired"):
            assert outcome.success
            self.model_state = "active"
        else:
            assert not outcome.success

    @invariant()
    def state_matches_model(self):  # type: ignore[no-untyped-def]
        if self.instance is None:
            assert self.model_state is None
            return
        assert self.instance.state.value == self.model_state
        assert self.instance.expires_at == self.model_expiry

    @invariant()
    def expiry_never_moves_backwards(self):  # type: ignore[no-untyped-def]
        if self.instance is None or self.instance.expires_at is None:
            return
        if self.max_expiry_seen is not None:
            assert self.instance.expires_at >= self.max_expiry_seen
        self.max_expiry_seen = self.instance.expires_at


TestLifecycle = LifecycleMachine.TestCase


class TestNamedCases:
    def test_stale_expired_after_renew_changes_nothing(self):
        active = Instance(state=State.ACTIVE, sku_id="a", expires_at=T0 + timedelta(days=30))
        outcome = decide(active, Call(Action.EXPIRE), now=T0)
        assert outcome.success and not outcome.changed

    def test_released_stays_released(self):
        released = Instance(state=State.RELEASED, sku_id="a", expires_at=None)
        for call in (
            Call(Action.RENEW, expires_at=T0, order_id="x"),
            Call(Action.RESUME),
            Call(Action.UPGRADE, sku_id="b"),
        ):
            outcome = decide(released, call, now=T0)
            assert not outcome.success and "released" in outcome.message
        assert decide(released, Call(Action.RELEASE), now=T0).success

    def test_unknown_instance(self):
        assert decide(None, Call(Action.EXPIRE), now=T0).success
        assert decide(None, Call(Action.RELEASE), now=T0).success
        assert not decide(None, Call(Action.RENEW, expires_at=T0, order_id="x"), now=T0).success
