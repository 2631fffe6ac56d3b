"""A code is consumed inside the transaction of the work it proves (``accounts.submitting``): if the
work fails, the code stays usable; a wrong code is counted all the same (reliability C.10–C.12); a
repeat of one submission (its form token) changes nothing."""

from __future__ import annotations

import pytest
from django.db import DatabaseError
from django.utils import timezone

from kaitong.accounts import actions, domain
from kaitong.accounts.models import BillingAccount, VerificationCode
from kaitong.workspaces import actions as workspace_actions
from kaitong.workspaces.models import Workspace
from tests.support.activation import code_sent_to, existing_account, open_instance
from tests.support.marketplace import call_spi

pytestmark = pytest.mark.django_db
EMAIL = "ops@acme.example"
CREATE = domain.Purpose.CREATE_WORKSPACE


def send(now, *, email=EMAIL, purpose=CREATE):  # type: ignore[no-untyped-def]
    actions.do_send_verification_code(email=email, purpose=purpose, ip="10.0.0.1", language="zh-hans", now=now)


def _create_bound(code: str, now, form_token: str | None = None) -> int:  # type: ignore[no-untyped-def]
    """创建工作空间 with ``code``: it consumes the code, then creates a workspace settled by 800010."""
    return workspace_actions.do_create_bound_workspace(
        form_token=form_token,
        billing_account_id=BillingAccount.objects.get(username="acme").pk,
        instance_id="800010",
        name="acme-new",
        language="zh",
        email=EMAIL,
        code=code,
        now=now,
    )


@pytest.fixture
def create_code(client):  # type: ignore[no-untyped-def]
    """An account that may create a workspace settled by instance 800010, and a fresh code for it."""
    existing_account("acme", EMAIL)
    open_instance(client, "800010")
    now = timezone.now()
    send(now)
    return code_sent_to(EMAIL), now


def test_a_failure_of_the_work_leaves_the_code_usable(client, create_code, monkeypatch):
    code, now = create_code

    def disk_full(**kwargs):  # type: ignore[no-untyped-def]
        raise DatabaseError("could not extend file")

    # Whatever fails after the code was consumed (here the settlement, as a full disk would) undoes it.
    monkeypatch.setattr(workspace_actions, "do_change_settlement", disk_full)
    with pytest.raises(DatabaseError):
        _create_bound(code, now)
    monkeypatch.undo()
    assert VerificationCode.objects.get().used_at is None
    assert not Workspace.objects.exists()
    assert Workspace.objects.get(pk=_create_bound(code, now)).name == "acme-new"
    assert VerificationCode.objects.get().used_at == now


def test_a_refusal_after_the_code_leaves_it_usable(client, create_code):
    code, now = create_code
    call_spi(client, {"action": "releaseInstance", "instanceId": "800010", "isRefund": "false"})
    with pytest.raises(actions.InstanceNotActive):
        _create_bound(code, now)
    assert VerificationCode.objects.get().used_at is None
    # The same code still proves the mailbox.
    assert actions.do_verify_email(email=EMAIL, purpose=CREATE, code=code, now=now) == EMAIL


def test_a_wrong_code_is_counted_though_the_work_rolls_back(client, create_code):
    code, now = create_code
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(actions.CodeRefused) as caught:
        _create_bound(wrong, now)
    assert (caught.value.verdict, caught.value.tries_left) == (domain.Verdict.WRONG, 4)
    assert VerificationCode.objects.get().failures == 1
    assert not Workspace.objects.exists()
    _create_bound(code, now)
    assert Workspace.objects.count() == 1


def test_a_repeat_of_one_submission_changes_nothing_and_gets_the_first_outcome(client, create_code):
    code, now = create_code
    first = _create_bound(code, now, form_token="100010:token-of-one-page-0001")
    with pytest.raises(actions.AlreadySubmitted) as repeat:
        _create_bound(code, now, form_token="100010:token-of-one-page-0001")
    assert repeat.value.outcome == {"workspace": first}
    assert Workspace.objects.count() == 1
    # Another page's submit with the same, now used, code is a new submission: refused as used.
    with pytest.raises(actions.CodeRefused) as used:
        _create_bound(code, now, form_token="100010:token-of-another-page")
    assert used.value.verdict is domain.Verdict.USED


def test_a_repeated_wrong_code_is_answered_again_without_another_try(client, create_code):
    code, now = create_code
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(3):
        with pytest.raises(actions.CodeRefused) as caught:
            _create_bound(wrong, now, form_token="100010:token-of-one-page-0002")
        assert (caught.value.verdict, caught.value.tries_left) == (domain.Verdict.WRONG, 4)
    assert VerificationCode.objects.get().failures == 1
