"""A code is consumed by an explicit step inside the transaction of the work it proves: if the work
fails, the code stays usable; a wrong code is counted all the same (reliability C.10–C.12)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction
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


def _create_bound(code: str, now) -> int:  # type: ignore[no-untyped-def]
    """创建工作空间 with ``code``: it consumes the code, then creates a workspace settled by 800010."""
    return workspace_actions.do_create_bound_workspace(
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


def test_a_code_is_consumed_only_where_wrong_tries_are_counted():
    now = timezone.now()
    send(now)
    code = code_sent_to(EMAIL)
    # Called bare, a wrong code would roll back with the caller's work and never be counted.
    with pytest.raises(RuntimeError, match="counts_wrong_codes"), transaction.atomic():
        actions.consume_code(email=EMAIL, purpose=CREATE, code=code, now=now)
    assert VerificationCode.objects.get().used_at is None
