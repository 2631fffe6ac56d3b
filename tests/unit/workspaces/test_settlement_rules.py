"""Which settlement changes are allowed, as a table and as a property (no database)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaitong.workspaces import domain

R = domain.Reason
OWN = domain.BY_BILLING_ACCOUNT
A, B = domain.by_instance("100001"), domain.by_instance("100002")


@pytest.mark.parametrize(
    ("current", "to", "reason", "changes"),
    [
        # created: settled as asked, whatever the method
        (None, OWN, R.CREATED, True),
        (None, A, R.CREATED_BOUND, True),
        (None, A, R.REGISTERED, True),
        (None, A, R.COMMERCIAL_OPENED, True),
        # 绑定: from the billing-center account to an instance; again to the same one changes nothing
        (OWN, A, R.BOUND, True),
        (A, A, R.BOUND, False),
        # released: back to the billing-center account
        (A, OWN, R.INSTANCE_RELEASED, True),
    ],
)
def test_allowed_changes(current, to, reason, changes):
    assert domain.settlement_changes(current=current, to=to, reason=reason) is changes


def test_an_instance_never_takes_a_workspace_another_instance_settles():
    with pytest.raises(domain.AlreadyBoundElsewhere):
        domain.settlement_changes(current=A, to=B, reason=R.BOUND)


@pytest.mark.parametrize(
    ("current", "to", "reason"),
    [
        (OWN, A, R.CREATED),  # an opening reason for a workspace that exists
        (None, A, R.BOUND),  # binding a workspace that does not exist yet
        (None, OWN, R.INSTANCE_RELEASED),
        (OWN, OWN, R.BOUND),  # binding settles by an instance
        (OWN, OWN, R.INSTANCE_RELEASED),  # a release moves only what an instance settled
        (A, B, R.INSTANCE_RELEASED),
    ],
)
def test_calls_no_path_makes_are_bugs(current, to, reason):
    with pytest.raises(ValueError):  # a programming error, not a refusal a buyer could meet
        domain.settlement_changes(current=current, to=to, reason=reason)


def test_an_instance_settles_if_and_only_if_the_method_says_so():
    with pytest.raises(ValueError, match="if and only if"):
        domain.Settlement(domain.Method.ALIYUN)
    with pytest.raises(ValueError, match="if and only if"):
        domain.Settlement(domain.Method.BILLING_ACCOUNT, "100001")


settlements = st.one_of(st.just(OWN), st.sampled_from(["100001", "100002", "100003"]).map(domain.by_instance))


@given(current=st.one_of(st.none(), settlements), to=settlements, reason=st.sampled_from(list(R)))
def test_the_same_settlement_again_never_changes_anything(current, to, reason):
    """Whatever the call, asking for the settlement a workspace already has writes nothing."""
    try:
        changes = domain.settlement_changes(current=current, to=to, reason=reason)
    except (ValueError, domain.AlreadyBoundElsewhere):
        return
    assert changes is (current != to)
