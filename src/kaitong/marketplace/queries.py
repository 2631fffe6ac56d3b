"""Read-only questions about marketplace instances.

"Is this instance active?" is answered here and nowhere else: the login-free entry, the activation
pages and every settlement by an instance ask ``active_instances``, so a state the lifecycle adds
later (DESIGN.md, day two) changes what "active" means in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import F, QuerySet

from kaitong.marketplace.domain import State
from kaitong.marketplace.models import STATE_LABELS, MarketplaceInstance


def active_instances() -> QuerySet[MarketplaceInstance]:
    """Instances that may settle workspaces and admit buyers: neither expired nor released."""
    return MarketplaceInstance.objects.filter(state=State.ACTIVE)


def instance_is_active(instance_id: str) -> bool:
    """Whether a session's instance may still be used (an expiry or release after entry ends it)."""
    return active_instances().filter(instance_id=instance_id).exists()


def ali_uid_of(instance_id: str) -> str | None:
    """The Alibaba account (aliUid) that bought the instance; None for an instance we never heard of."""
    return MarketplaceInstance.objects.filter(instance_id=instance_id).values_list("ali_uid", flat=True).first()


def is_exclusive(instance_id: str) -> bool:
    """Whether the instance is of the exclusive edition (专属版, data in the buyer's SLS): its product
    code is the configured exclusive one. False for an instance we never heard of."""
    exclusive = settings.ENV.aliyun_exclusive_product_code
    return MarketplaceInstance.objects.filter(instance_id=instance_id, product_code=exclusive).exists()


@dataclass(frozen=True)
class InstanceSummary:
    """What the buyer sees of their instance: its state and when it ends (None: no end date)."""

    instance_id: str
    ali_uid: str
    active: bool
    state_label: str
    expires_at: datetime | None
    trial: bool


def instance_summary(instance_id: str) -> InstanceSummary | None:
    instance = MarketplaceInstance.objects.filter(instance_id=instance_id).first()
    if instance is None:
        return None
    state = State(instance.state)
    return InstanceSummary(
        instance_id=instance.instance_id,
        ali_uid=instance.ali_uid,
        active=state is State.ACTIVE,
        state_label=str(STATE_LABELS[state]),
        expires_at=instance.expires_at,
        trial=instance.trial,
    )


def lock_active_instance(instance_id: str) -> MarketplaceInstance | None:
    """The instance, its row locked for the rest of the caller's transaction, if it is active; else None.

    Whoever settles a workspace by an instance holds this lock, and so does the SPI call that expires or
    releases it: a release either happens first (the binding is refused) or sees the bound workspace.
    """
    return active_instances().select_for_update().filter(instance_id=instance_id).first()


def instances_to_reconcile(*, checked_before: datetime, limit: int) -> list[str]:
    """The instances the reconciliation asks the marketplace about next, at most ``limit``, in this order:
    flagged ones first (an SPI call applied unconfirmed, a difference seen), oldest flag first, of any
    state; then those never checked, or last checked before ``checked_before``, oldest first, except
    released ones (final here: nothing left to compare)."""
    flagged = list(
        MarketplaceInstance.objects.filter(unreconciled_since__isnull=False)
        .order_by("unreconciled_since", "id")
        .values_list("instance_id", flat=True)[:limit]
    )
    if len(flagged) >= limit:
        return flagged
    due = (
        MarketplaceInstance.objects.filter(unreconciled_since__isnull=True)
        .exclude(state=State.RELEASED)
        .exclude(reconciled_at__gte=checked_before)
        .order_by(F("reconciled_at").asc(nulls_first=True), "id")
        .values_list("instance_id", flat=True)[: limit - len(flagged)]
    )
    return flagged + list(due)
