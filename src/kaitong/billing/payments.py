"""The billing-center balance, minimal and honest: a daily bill settled by the billing-center account is due
when its day closes, and an operator records that it was paid. No payment provider is integrated.

A bill unpaid a day past its due day starts its workspace's lock countdown (``kaitong.countdown``);
recording the payment of every overdue bill of a workspace lifts it, in the payment's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction

from kaitong.billing.models import BillPayment, DailyBill
from kaitong.countdown.actions import do_lift_paid_countdowns
from kaitong.workspaces.models import Workspace


@dataclass
class PaymentResult:
    recorded: list[int] = field(default_factory=list)  # bills now paid
    refused: dict[int, str] = field(default_factory=dict)  # bill id → why not (its code, below)
    lifted: int = 0  # countdowns the payments lifted


# Why a bill cannot be marked paid (the operator console words each one).
NOT_FOUND = "not_found"
SETTLED_BY_ALIBABA = "settled_by_alibaba"  # Alibaba collects it; the marketplace bill says whether it was paid
NOTHING_DUE = "nothing_due"  # a 0.00 bill
ALREADY_PAID = "already_paid"


def do_record_bill_payments(*, bill_ids: list[int], recorded_by: str, now: datetime, note: str = "") -> PaymentResult:
    """Record each bill as paid in full (the operator saw the money arrive), in one transaction with the
    lifts that follow. A bill that cannot be paid here is refused with its reason; the others go through."""
    result = PaymentResult()
    with transaction.atomic():
        bills = {bill.pk: bill for bill in DailyBill.objects.select_for_update().filter(pk__in=bill_ids)}
        paid = set(BillPayment.objects.filter(bill_id__in=list(bills)).values_list("bill_id", flat=True))
        workspaces = []
        for bill_id in sorted(set(bill_ids)):
            bill = bills.get(bill_id)
            why = _refusal(bill, already_paid=bill_id in paid)
            if why:
                result.refused[bill_id] = why
                continue
            assert bill is not None
            BillPayment.objects.create(
                bill=bill, amount=bill.total, recorded_at=now, recorded_by=recorded_by[:200], note=note[:255]
            )
            result.recorded.append(bill_id)
            workspaces.append(bill.workspace_id)
        if workspaces:
            result.lifted = do_lift_paid_countdowns(
                workspace_ids=workspaces, now=now, acting=f"payment by {recorded_by}"
            )
    return result


def _refusal(bill: DailyBill | None, *, already_paid: bool) -> str:
    if bill is None:
        return NOT_FOUND
    if bill.settlement != Workspace.Settlement.BILLING_ACCOUNT:
        return SETTLED_BY_ALIBABA
    if bill.total <= 0:
        return NOTHING_DUE
    if already_paid:
        return ALREADY_PAID
    return ""
