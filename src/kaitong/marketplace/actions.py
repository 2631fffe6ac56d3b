"""The only writers of marketplace instances: one SPI call in, one answer out.

Order of work for every call (reliability A.3, A.6):
1. it is authenticated: a call without a valid token (or too malformed to check) is only counted in
   the tally of unauthenticated calls, never stored, and answered 429 past a daily number per source;
2. it is stored in the inbox, redacted, and parsed; a bad call is answered with a message and changes
   nothing;
3. the state change, its audit row and the inbox verdict commit together, so a crash leaves either
   all of them or none, and the marketplace's retry finds the same state.

An expire, release or resume that would change the instance is first confirmed with the marketplace
(DescribeInstanceForIsv, outside any transaction, within the SPI's short budget): the md5 token has no
timestamp, so a captured URL of one of them could otherwise be replayed for ever. One the marketplace's
view rules out is acknowledged and changes nothing; one it cannot confirm (no answer in time) is
applied and the instance is flagged for the reconciliation (``reconciliation.py``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import psycopg
from django.db import DatabaseError, connection, models, transaction
from django.db.models import Sum

from kaitong.marketplace import domain
from kaitong.marketplace.aliyun import spi
from kaitong.marketplace.aliyun.instances import InstanceLookup, LookupFailed
from kaitong.marketplace.models import InstanceEvent, MarketplaceInstance, SpiCall, UnauthenticatedCallTally

log = logging.getLogger(__name__)
Verdict = SpiCall.Verdict


@dataclass(frozen=True)
class SpiAnswer:
    body: dict[str, Any]
    verdict: str
    message: str = ""
    status: int = 200
    retry_after: int | None = None  # seconds, for a Retry-After header


def failure(action: str, message: str) -> dict[str, Any]:
    # createInstance has no failure schema: instanceId "0" tells the marketplace to call again. When
    # the call was too malformed to know its action, answer in both shapes.
    if action in (domain.Action.CREATE, ""):
        return {"instanceId": "0", "success": False, "message": message}
    return {"success": False, "message": message}


def do_receive_spi_call(
    *,
    raw_sources: Iterable[str],
    now: datetime,
    isv_key: str,
    auth_url: str,
    marketplace: InstanceLookup,
    remote_addr: str = "",
    refused_calls_per_day: int,
) -> SpiAnswer:
    """Authenticate, store and apply one SPI call; return the JSON answer for the marketplace.

    ``marketplace`` is asked about the instance before an expire, release or resume changes it.
    ``refused_calls_per_day``: unauthenticated calls from one source in a Beijing day answered as usual;
    past it they are answered 429 until the next day (they are counted either way).
    """
    try:
        params = spi.collect_parameters(raw_sources)
    except spi.BadCall as exc:
        return _refuse_unauthenticated(
            source=remote_addr, action=None, reason=str(exc), now=now, daily_limit=refused_calls_per_day
        )
    request = spi.SpiRequest(params=params)
    try:
        spi.authenticate(params, key=isv_key)
    except spi.BadCall as exc:
        return _refuse_unauthenticated(
            source=remote_addr, action=request.action, reason=str(exc), now=now, daily_limit=refused_calls_per_day
        )

    action = request.action[:64]
    inbox = SpiCall(
        received_at=now,
        action=action,
        instance_id=(params.get("instanceId") or params.get("orderBizId") or "")[:64],
        params=request.redacted(),
        remote_addr=remote_addr[:64],
    )
    try:
        parsed_action = spi.parse_action(request)
        if parsed_action is domain.Action.CREATE:
            return _create(inbox, spi.parse_create(request), now=now, auth_url=auth_url)
        instance_id, call = spi.parse_lifecycle(request, parsed_action)
    except spi.BadCall as exc:
        return _rejected(inbox, action, str(exc))
    return _lifecycle(inbox, instance_id, call, now=now, marketplace=marketplace)


def _rejected(inbox: SpiCall, action: str, message: str) -> SpiAnswer:
    """A signed call that cannot be honoured as sent: stored with its reason (the marketplace sent it)."""
    log.warning("SPI call %s rejected: %s", action or "(none)", message)
    answer = SpiAnswer(failure(action, message), Verdict.REJECTED, message)
    _store(inbox, answer)
    return answer


def _refuse_unauthenticated(
    *, source: str, action: str | None, reason: str, now: datetime, daily_limit: int
) -> SpiAnswer:
    """Count a call refused before authentication and answer it; nothing of the call is stored.

    The log says when a source starts being refused and when it starts being throttled, at most twice
    a day per source (the tally in the operator console counts the rest)."""
    source = domain.tally_source(source)
    answer_shape = (action or "")[:64]
    try:
        refused_before = _count_unauthenticated(source=source, action=action, reason=reason, now=now, limit=daily_limit)
    except DatabaseError as exc:
        # The call is refused whatever happens to its count: a bad call is never reported as transient.
        log.warning("SPI call from %s refused (%s); it could not be counted: %s", source, reason, exc)
        return SpiAnswer(failure(answer_shape, reason), Verdict.REJECTED, reason)
    if refused_before == 0:
        log.warning(
            "SPI call from %s refused before authentication: %s (this source's further refusals today are "
            "counted, not logged: /ops/marketplace/unauthenticatedcalltally/)",
            source,
            reason,
        )
    if refused_before < daily_limit:
        return SpiAnswer(failure(answer_shape, reason), Verdict.REJECTED, reason)
    if refused_before == daily_limit:
        log.warning("SPI calls from %s throttled until 00:00 Beijing time: over %d refused today", source, daily_limit)
    message = f"too many refused calls from this address today (over {daily_limit}); {reason}"
    return SpiAnswer(
        failure(answer_shape, message),
        Verdict.REJECTED,
        message,
        status=429,
        retry_after=domain.seconds_until_next_day(now),
    )


def _count_unauthenticated(*, source: str, action: str | None, reason: str, now: datetime, limit: int) -> int:
    """Add one refused call to its tally row (one atomic upsert); return how many calls from ``source``
    were refused earlier today. Concurrent calls may read the same total, so the limit can be passed by
    as many calls as run at once; the counts themselves are exact."""
    day = domain.tally_day(now)
    with transaction.atomic():
        refused_before = (
            UnauthenticatedCallTally.objects.filter(day=day, source=source).aggregate(total=Sum("count"))["total"] or 0
        )
        values = {
            "day": day,
            "source": source,
            "action": domain.tally_action(action),
            "count": 1,
            "throttled": 1 if refused_before >= limit else 0,
            "first_seen": now,
            "last_seen": now,
            "last_reason": reason[:255],
        }
        assert tuple(values) == TALLY_COLUMNS
        with connection.cursor() as cursor:
            cursor.execute(_tally_upsert_sql(connection.vendor), _db_values(UnauthenticatedCallTally, values))
        if refused_before == 0:
            # A source's first refusal of the day: a good moment to forget old days.
            UnauthenticatedCallTally.objects.filter(day__lt=day - timedelta(days=domain.TALLY_KEPT_DAYS)).delete()
    return int(refused_before)


def _store(inbox: SpiCall, answer: SpiAnswer) -> SpiCall:
    """Write the inbox row with its verdict. Valid calls do this inside the transaction that applies
    them, as its first write, so the call, the state change and its audit row commit together."""
    inbox.verdict = answer.verdict
    inbox.answer = answer.body
    inbox.message = answer.message[:255]
    inbox.save(force_insert=True)
    return inbox


# The columns each create writes: fixed, so their SQL is built once per database vendor (below).
INSTANCE_COLUMNS = (
    "instance_id",
    "ali_uid",
    "order_id",
    "product_code",
    "sku_id",
    "trial",
    "state",
    "expires_at",
    "refunded",
    "applied_orders",
    "extra",
    "created_at",
    "updated_at",
)
INBOX_COLUMNS = ("received_at", "action", "instance_id", "params", "answer", "remote_addr")
TALLY_COLUMNS = ("day", "source", "action", "count", "throttled", "first_seen", "last_seen", "last_reason")


def _field(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field


def _column_list(model: type[models.Model], names: tuple[str, ...]) -> str:
    return ", ".join(connection.ops.quote_name(_field(model, name).column) for name in names)


def _placeholders(names: tuple[str, ...]) -> str:
    return ", ".join(["%s"] * len(names))


def _db_values(model: type[models.Model], values: dict[str, Any]) -> list[Any]:
    """``values`` (in the order of their keys) as the database expects them (JSON, datetimes, …)."""
    return [_field(model, name).get_db_prep_save(value, connection) for name, value in values.items()]


def _new_instance_values(call: spi.CreateCall, *, now: datetime) -> dict[str, Any]:
    values = {
        "instance_id": call.instance_id,
        "ali_uid": call.ali_uid,
        "order_id": call.order_id,
        "product_code": call.product_code,
        "sku_id": call.sku_id,
        "trial": call.trial,
        "state": domain.State.ACTIVE.value,
        "expires_at": call.expires_at,
        "refunded": False,
        "applied_orders": [],
        "extra": call.extra,
        "created_at": now,
        "updated_at": now,
    }
    assert tuple(values) == INSTANCE_COLUMNS
    return values


def _create_event_detail(call: spi.CreateCall) -> dict[str, Any]:
    return {"aliUid": call.ali_uid, "skuId": call.sku_id, "trial": call.trial}


DUPLICATE = "duplicate create; same instance"
DUPLICATE_OTHER_UID = "duplicate create with a different aliUid; the first one stands"


def _create(inbox: SpiCall, call: spi.CreateCall, *, now: datetime, auth_url: str) -> SpiAnswer:
    # instanceId = orderBizId (protocol §1.3), so the answer is known before the write.
    body = {"instanceId": call.instance_id, "appInfo": {"authUrl": auth_url}}
    if connection.vendor == "postgresql":
        verdict, message = _create_in_one_statement(inbox, call, now=now, body=body)
    else:
        verdict, message = _create_in_a_transaction(inbox, call, now=now, body=body)
    if message == DUPLICATE_OTHER_UID:
        log.warning("createInstance %s repeated with a different aliUid", call.instance_id)
    return SpiAnswer(body, verdict, message)


def _create_in_a_transaction(
    inbox: SpiCall, call: spi.CreateCall, *, now: datetime, body: dict[str, Any]
) -> tuple[str, str]:
    """INSERT … ON CONFLICT (instance_id) DO NOTHING RETURNING id, then the inbox and audit rows.

    The UNIQUE constraint decides between concurrent identical creates; nobody checks first and inserts
    after. (Django's bulk_create(ignore_conflicts=True) cannot tell whether it inserted.)"""
    params = _db_values(MarketplaceInstance, _new_instance_values(call, now=now))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_insert_instance_sql(connection.vendor), params)
            row = cursor.fetchone()
        if row is not None:
            _store(inbox, SpiAnswer(body, Verdict.APPLIED))
            InstanceEvent.objects.create(
                instance_id=row[0],
                spi_call=inbox,
                action=domain.Action.CREATE,
                to_state=domain.State.ACTIVE,
                at=now,
                detail=_create_event_detail(call),
            )
            return Verdict.APPLIED, ""
        first_uid = MarketplaceInstance.objects.values_list("ali_uid", flat=True).get(instance_id=call.instance_id)
        message = DUPLICATE if first_uid == call.ali_uid else DUPLICATE_OTHER_UID
        _store(inbox, SpiAnswer(body, Verdict.UNCHANGED, message))
    return Verdict.UNCHANGED, message


def _create_in_one_statement(
    inbox: SpiCall, call: spi.CreateCall, *, now: datetime, body: dict[str, Any]
) -> tuple[str, str]:
    """The same three writes as ``_create_in_a_transaction``, as one PostgreSQL statement.

    createInstance is the call the marketplace retries and the hot path of bench/spi.py: data-modifying
    CTEs make it one statement, atomic on its own, instead of BEGIN + four statements + COMMIT (Django's
    connection health check still adds its ``SELECT 1`` on the first query of a request). ``first``
    reads the snapshot from before the statement: it sees an earlier create's aliUid, but may miss a
    concurrent one that committed meanwhile, so only a uid positively seen to differ is reported.
    """
    instance_params = _db_values(MarketplaceInstance, _new_instance_values(call, now=now))
    inbox_values = {
        "received_at": inbox.received_at,
        "action": inbox.action,
        "instance_id": inbox.instance_id,
        "params": inbox.params,
        "answer": body,
        "remote_addr": inbox.remote_addr,
    }
    assert tuple(inbox_values) == INBOX_COLUMNS
    inbox_params = _db_values(SpiCall, inbox_values)
    event_detail = InstanceEvent._meta.get_field("detail").get_db_prep_save(_create_event_detail(call), connection)
    params = [
        *instance_params,
        call.instance_id,
        call.ali_uid,
        DUPLICATE_OTHER_UID,
        DUPLICATE,
        *inbox_params,
        domain.Action.CREATE.value,
        domain.State.ACTIVE.value,
        event_detail,
        now,
    ]
    # Django's cursor checks the connection's health and opens it; the statement then runs through a
    # server-binding psycopg cursor as a prepared statement, planned once per connection. Planning this
    # five-part statement costs PostgreSQL more than running it (bench/spi_cpu.py's CPU figures). Django's
    # own cursors bind client-side and cannot prepare.
    with (
        connection.cursor() as django_cursor,
        connection.wrap_database_errors,
        psycopg.Cursor(django_cursor.connection) as cursor,
    ):
        cursor.execute(_create_statement_sql(connection.vendor), params, prepare=True)
        row = cursor.fetchone()
    assert row is not None
    verdict, message = row
    return verdict, message


# The SQL depends only on the models and the database vendor: built once per process, not per call.
# Identifiers come from the models' metadata; every value is a bound parameter.


@functools.cache
def _insert_instance_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    meta = MarketplaceInstance._meta
    return (
        f"INSERT INTO {quote(meta.db_table)} ({_column_list(MarketplaceInstance, INSTANCE_COLUMNS)}) "  # noqa: S608
        f"VALUES ({_placeholders(INSTANCE_COLUMNS)}) "
        f"ON CONFLICT ({quote('instance_id')}) DO NOTHING RETURNING {quote(meta.pk.column)}"
    )


@functools.cache
def _tally_upsert_sql(vendor: str) -> str:
    """One row per (day, source, action): inserted with count 1, or its count bumped in the same statement
    (INSERT … ON CONFLICT DO UPDATE, atomic on SQLite and PostgreSQL alike)."""
    quote = connection.ops.quote_name
    table = quote(UnauthenticatedCallTally._meta.db_table)
    count, throttled, last_seen, last_reason = (
        quote(_field(UnauthenticatedCallTally, name).column)
        for name in ("count", "throttled", "last_seen", "last_reason")
    )
    conflict = ", ".join(quote(name) for name in ("day", "source", "action"))
    return (
        f"INSERT INTO {table} ({_column_list(UnauthenticatedCallTally, TALLY_COLUMNS)}) "  # noqa: S608
        f"VALUES ({_placeholders(TALLY_COLUMNS)}) "
        f"ON CONFLICT ({conflict}) DO UPDATE SET "
        f"{count} = {table}.{count} + 1, "
        f"{throttled} = {table}.{throttled} + EXCLUDED.{throttled}, "
        # Two calls may commit in the other order than their clocks: the later time stays.
        f"{last_seen} = CASE WHEN EXCLUDED.{last_seen} > {table}.{last_seen} "
        f"THEN EXCLUDED.{last_seen} ELSE {table}.{last_seen} END, "
        f"{last_reason} = EXCLUDED.{last_reason}"
    )


@functools.cache
def _create_statement_sql(vendor: str) -> str:
    tables = {
        m.__name__: connection.ops.quote_name(m._meta.db_table) for m in (MarketplaceInstance, SpiCall, InstanceEvent)
    }
    return f"""
        WITH new_instance AS (
            INSERT INTO {tables["MarketplaceInstance"]} ({_column_list(MarketplaceInstance, INSTANCE_COLUMNS)})
            VALUES ({_placeholders(INSTANCE_COLUMNS)})
            ON CONFLICT (instance_id) DO NOTHING RETURNING id
        ), first AS (
            SELECT ali_uid FROM {tables["MarketplaceInstance"]} WHERE instance_id = %s
        ), outcome AS (
            SELECT CASE WHEN EXISTS (SELECT 1 FROM new_instance) THEN 'applied' ELSE 'unchanged' END AS verdict,
                   CASE WHEN EXISTS (SELECT 1 FROM new_instance) THEN ''
                        WHEN (SELECT ali_uid FROM first) <> %s THEN %s ELSE %s END AS message
        ), inbox AS (
            INSERT INTO {tables["SpiCall"]} ({_column_list(SpiCall, INBOX_COLUMNS)}, verdict, message)
            SELECT {_placeholders(INBOX_COLUMNS)}, outcome.verdict, outcome.message FROM outcome RETURNING id
        ), event AS (
            INSERT INTO {tables["InstanceEvent"]} (instance_id, spi_call_id, action, from_state, to_state, detail, at)
            SELECT new_instance.id, inbox.id, %s, '', %s, %s, %s FROM new_instance, inbox RETURNING id
        )
        SELECT verdict, message FROM outcome
    """  # noqa: S608


@dataclass(frozen=True)
class Confirmation:
    """What the marketplace said before a call was applied: its view, or why it could not be asked."""

    view: domain.MarketView | None
    failure: str = ""


def _confirm(marketplace: InstanceLookup, instance_id: str, call: domain.Call, *, now: datetime) -> Confirmation | None:
    """Ask the marketplace about the instance when ``call`` needs it and would change something now.

    Runs before the writing transaction: no row is locked while the marketplace is asked. A call that
    changes nothing (a duplicate, an unknown or released instance) costs no question.
    """
    if not domain.needs_confirmation(call):
        return None
    instance = MarketplaceInstance.objects.filter(instance_id=instance_id).first()
    if instance is None or not domain.decide(instance.as_domain(), call, now=now).changed:
        return None
    try:
        return Confirmation(view=marketplace.describe(instance_id))
    except LookupFailed as exc:
        log.warning("SPI %s for %s: the marketplace cannot confirm it (%s)", call.action, instance_id, exc)
        return Confirmation(view=None, failure=str(exc))


def _lifecycle(
    inbox: SpiCall, instance_id: str, call: domain.Call, *, now: datetime, marketplace: InstanceLookup
) -> SpiAnswer:
    confirmation = _confirm(marketplace, instance_id, call, now=now)
    with transaction.atomic():
        instance = MarketplaceInstance.objects.select_for_update().filter(instance_id=instance_id).first()
        outcome = domain.decide(instance.as_domain() if instance else None, call, now=now)
        if outcome.changed and domain.needs_confirmation(call) and confirmation is None:
            # The instance changed between the question and the lock (another call came first), so the
            # question was never asked: the marketplace calls again and this time it is.
            outcome = domain.refused("the instance changed while this call was checked; call again")
        if not outcome.success:
            answer = SpiAnswer(failure(call.action, outcome.message), Verdict.REFUSED, outcome.message)
        elif outcome.instance is None:
            answer = SpiAnswer({"success": True}, Verdict.UNCHANGED, outcome.message)
        elif confirmation is not None and confirmation.view is not None and domain.ruled_out(call, confirmation.view):
            # A replayed or overtaken call: the same answer as the original got, and nothing changes.
            message = f"stale: the marketplace says the instance is {confirmation.view.status.value}; nothing changed"
            log.warning("SPI %s for %s ignored: %s", call.action, instance_id, message)
            answer = SpiAnswer({"success": True}, Verdict.CONTRADICTED, message)
            outcome = domain.acknowledged(message)
        else:
            answer = SpiAnswer({"success": True}, Verdict.APPLIED)
        _store(inbox, answer)
        if outcome.instance is not None:
            assert instance is not None
            _apply(instance, outcome.instance, inbox, call, now=now, confirmation=confirmation)
    return answer


def _apply(
    instance: MarketplaceInstance,
    after: domain.Instance,
    inbox: SpiCall,
    call: domain.Call,
    *,
    now: datetime,
    confirmation: Confirmation | None,
) -> None:
    before_state = instance.state
    instance.state = after.state
    instance.sku_id = after.sku_id
    instance.expires_at = after.expires_at
    instance.refunded = after.refunded
    instance.applied_orders = sorted(after.applied_orders)
    instance.updated_at = now
    fields = ["state", "sku_id", "expires_at", "refunded", "applied_orders", "updated_at"]
    detail: dict[str, Any] = {
        "expiresAt": after.expires_at.isoformat() if after.expires_at else None,
        "skuId": after.sku_id,
    }
    if confirmation is not None and confirmation.view is not None:
        detail["marketplace"] = confirmation.view.status.value
    elif confirmation is not None:
        # Applied on trust: the reconciliation asks again soon and raises the alarm if the two disagree.
        detail["unconfirmed"] = confirmation.failure
        instance.unreconciled_since = instance.unreconciled_since or now
        instance.reconcile_note = f"{call.action} applied unconfirmed ({confirmation.failure})"[:255]
        fields += ["unreconciled_since", "reconcile_note"]
    instance.save(update_fields=fields)
    InstanceEvent.objects.create(
        instance=instance,
        spi_call=inbox,
        action=call.action,
        from_state=before_state,
        to_state=after.state,
        at=now,
        detail=detail,
    )
    _notify_state_change(instance, before_state=before_state, now=now, spi_call_id=inbox.pk)


# Other capabilities react to a state change (a released instance stops settling its workspaces)
# through receivers registered here; they run inside the same transaction, with the instance row
# still locked, so what they write commits or rolls back with the change and its audit row.
class StateChangeReceiver(Protocol):
    def __call__(self, instance: MarketplaceInstance, *, before_state: str, now: datetime, spi_call_id: int) -> None:
        """React to ``instance`` having left ``before_state``; ``spi_call_id`` is the inbox row that did it."""


_state_change_receivers: list[StateChangeReceiver] = []


def on_instance_state_change(receiver: StateChangeReceiver) -> StateChangeReceiver:
    """Register ``receiver``, called inside the writing transaction after every change of state."""
    _state_change_receivers.append(receiver)
    return receiver


def _notify_state_change(instance: MarketplaceInstance, *, before_state: str, now: datetime, spi_call_id: int) -> None:
    if instance.state == before_state:
        return
    for receiver in _state_change_receivers:
        receiver(instance, before_state=before_state, now=now, spi_call_id=spi_call_id)
