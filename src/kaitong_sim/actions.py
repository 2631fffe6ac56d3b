"""Everything that changes the simulated marketplace: buyers, purchases, events, SPI delivery, and
what the fake Market OpenAPI records (nonces, accepted metering, every call). The only writer.

A buyer's action changes the marketplace's own state at once (as Alibaba's console does) and queues an
SPI delivery for the vendor; ``do_deliver_due`` leases due deliveries, sends each once, and records it.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from kaitong_base import claims
from kaitong_base.claims import claim, free, held
from kaitong_sim import catalogue, cloud_domain, domain, signer
from kaitong_sim.cloud_domain import SlsError
from kaitong_sim.domain import PopError, read_answer
from kaitong_sim.models import (
    AccessKey,
    Account,
    ApiCall,
    Attempt,
    Delivery,
    Instance,
    MeteringRecord,
    Order,
    RamUser,
    RoleGrant,
    SlsProject,
    SlsStore,
    StsCredential,
    UsedNonce,
)

log = logging.getLogger(__name__)

TRIAL_DAYS = 14
RENEW_DAYS = 365
FAULTS = ("", "duplicate", "timeout_after_commit")


class SimulatorError(Exception):
    """A buyer or operator request the marketplace refuses; the message is shown as is."""


class TransportError(Exception):
    """The vendor could not be reached or did not answer in time."""


# Sends one signed GET: (url, params, timeout) → (HTTP status, body text), or raises TransportError.
Transport = Callable[[str, dict[str, str], float], tuple[int, str]]


@dataclass(frozen=True)
class DeliveryConfig:
    spi_url: str
    isv_key: str
    retry_seconds: float
    max_attempts: int
    timeout_seconds: float


def _new_digits(length: int) -> str:
    return str(secrets.randbelow(9 * 10 ** (length - 1)) + 10 ** (length - 1))


# --- buyers ------------------------------------------------------------------------------------------


def do_create_account(
    *,
    name: str,
    uid: str,
    is_ram: bool,
    main_uid: str,
    now: datetime,
    verified: bool = True,
    sls_active: bool = False,
) -> Account:
    name = name.strip()
    uid = uid.strip() or _new_digits(16)
    main_uid = main_uid.strip()
    if not name or len(name) > 64:
        raise SimulatorError("请输入账号名称（不超过 64 个字符） Enter an account name (up to 64 characters).")
    if not uid.isdigit() or not 6 <= len(uid) <= 20:
        raise SimulatorError("UID 应为 6–20 位数字 The UID must be 6–20 digits.")
    if is_ram:
        if not Account.objects.filter(uid=main_uid, is_ram=False).exists():
            raise SimulatorError("RAM 用户须属于已有的主账号 A RAM user must belong to an existing main account.")
    else:
        main_uid = ""
    try:
        with transaction.atomic():
            return Account.objects.create(
                uid=uid,
                name=name,
                is_ram=is_ram,
                main_uid=main_uid,
                verified=verified,
                sls_active=sls_active and not is_ram,
                created_at=now,
            )
    except IntegrityError:
        raise SimulatorError("该 UID 已存在 This UID already exists.") from None


def _products() -> dict[str, catalogue.Product]:
    return catalogue.products(settings.SIMULATOR)


def _product(code: str) -> catalogue.Product:
    product = _products().get(code)
    if product is None:
        raise SimulatorError(f"unknown product {code[:40]}")
    return product


def _owner_uid(account: Account) -> str:
    """Purchases belong to the main account; a RAM user buys and sees on its main account's behalf."""
    return account.main_uid if account.is_ram else account.uid


# --- purchases and events ------------------------------------------------------------------------------


def _queue(instance: Instance | None, params: dict[str, str], *, now: datetime, fault: str, delay: float) -> Delivery:
    if fault not in FAULTS:
        raise SimulatorError(f"unknown fault hook: {fault[:40]}")
    return Delivery.objects.create(
        instance=instance,
        action=params["action"],
        params=params,
        next_attempt_at=now + timedelta(seconds=delay),
        created_at=now,
        fault=fault,
    )


@transaction.atomic
def do_purchase(
    *,
    account_uid: str,
    now: datetime,
    trial: bool = False,
    product_code: str = "",
    extra: dict[str, str] | None = None,
    fault: str = "",
    delay: float = 0,
) -> Instance:
    """Open the pay-as-you-go service (or a trial) of a product (default: the commercial edition): an
    instance 开通中, its order, and createInstance."""
    account = Account.objects.filter(uid=account_uid).first()
    if account is None:
        raise SimulatorError("请先登录 Sign in first.")
    product = _product(product_code) if product_code else next(iter(_products().values()))
    owner = _owner_uid(account)
    main = account if not account.is_ram else Account.objects.filter(uid=owner).first()
    if main is None or not main.verified:
        raise SimulatorError(
            "该阿里云账号尚未完成实名认证，无法开通 This Alibaba Cloud account has not passed real-name verification."
        )
    sku = product.trial_sku if trial else product.postpay_sku
    expires_at = now + timedelta(days=TRIAL_DAYS) if trial else None
    instance = None
    for _ in range(5):
        try:
            with transaction.atomic():
                instance = Instance.objects.create(
                    instance_id=_new_digits(8),
                    order_id=_new_digits(15),
                    ali_uid=owner,
                    product_code=product.code,
                    product_name=product.name,
                    sku_id=sku,
                    trial=trial,
                    created_at=now,
                    expires_at=expires_at,
                )
            break
        except IntegrityError:
            continue
    if instance is None:
        raise SimulatorError("could not allocate an instance ID; try again")
    _order(instance, "TRIAL" if trial else "NEW", now=now, order_id=instance.order_id)
    params = {
        "action": "createInstance",
        "aliUid": owner,
        "orderBizId": instance.instance_id,
        "orderId": instance.order_id,
        "productCode": product.code,
        "skuId": sku,
        "trial": "true" if trial else "false",
        **(extra or {}),
    }
    if expires_at is not None:
        params["expiredOn"] = signer.beijing_time(expires_at)
    _queue(instance, params, now=now, fault=fault, delay=delay)
    return instance


def _order(instance: Instance, order_type: str, *, now: datetime, order_id: str | None = None) -> Order:
    return Order.objects.create(
        order_id=order_id or _new_digits(15),
        instance_id=instance.instance_id,
        ali_uid=instance.ali_uid,
        order_type=order_type,
        product_code=instance.product_code,
        product_name=instance.product_name,
        sku_id=instance.sku_id,
        created_at=now,
    )


@transaction.atomic
def do_trigger_event(
    *, instance_id: str, event: str, now: datetime, owner_uid: str | None = None, fault: str = "", delay: float = 0
) -> Delivery:
    """A marketplace event on an instance: overdue bill, arrears paid, upgrade, close (业务关闭).

    ``owner_uid``: when a buyer (not the operator) asks, the instance must be theirs.
    """
    query = Instance.objects.select_for_update().filter(instance_id=instance_id)
    if owner_uid is not None:
        query = query.filter(ali_uid=owner_uid)
    instance = query.first()
    if instance is None:
        raise SimulatorError("实例不存在 No such instance.")
    if instance.status == Instance.Status.CLOSED:
        raise SimulatorError("实例已关闭 The instance is closed.")
    target = instance.vendor_instance_id or instance.instance_id
    params: dict[str, str]
    match event:
        case "expire":
            # An overdue bill: the marketplace freezes the instance and tells the vendor.
            instance.status = Instance.Status.EXPIRED
            params = {"action": "expiredInstance", "instanceId": target}
        case "renew" | "resume":
            # Arrears paid: pay-as-you-go reuses renewInstance (resumeInstance is for hybrid products).
            order = _order(instance, "RENEW", now=now)
            if instance.status != Instance.Status.OPENING:
                instance.status = Instance.Status.OPENED
            if event == "renew":
                instance.expires_at = now + timedelta(days=RENEW_DAYS)
                params = {
                    "action": "renewInstance",
                    "instanceId": target,
                    "orderId": order.order_id,
                    "expiredOn": signer.beijing_time(instance.expires_at),
                }
            else:
                params = {
                    "action": "resumeInstance",
                    "instanceId": target,
                    "productCode": instance.product_code,
                    "skuId": instance.sku_id,
                }
        case "upgrade":
            product = _product(instance.product_code)
            instance.sku_id = product.upgrade_sku if instance.sku_id != product.upgrade_sku else product.postpay_sku
            order = _order(instance, "UPGRADE", now=now)
            params = {
                "action": "upgradeInstance",
                "instanceId": target,
                "skuId": instance.sku_id,
                "orderId": order.order_id,
            }
        case "release":
            instance.status = Instance.Status.CLOSED
            instance.closed_at = now
            params = {
                "action": "releaseInstance",
                "instanceId": target,
                "isRefund": "false",
                "orderId": instance.order_id,
            }
        case _:
            raise SimulatorError(f"unknown event {event[:40]}")
    instance.save()
    return _queue(instance, params, now=now, fault=fault, delay=delay)


def do_expire_due(*, now: datetime) -> int:
    """The marketplace's clock: an open instance whose expiry has passed (a trial's end) is expired."""
    expired = 0
    for instance_id in _past_expiry(Instance.objects.all(), now=now).values_list("instance_id", flat=True):
        with transaction.atomic():
            # Checked again under the lock: another simulator process may have expired it meanwhile.
            if not _past_expiry(Instance.objects.select_for_update(), now=now).filter(instance_id=instance_id):
                continue
            do_trigger_event(instance_id=instance_id, event="expire", now=now)
        expired += 1
    return expired


def _past_expiry(instances: QuerySet[Instance], *, now: datetime) -> QuerySet[Instance]:
    return instances.filter(status=Instance.Status.OPENED, expires_at__isnull=False, expires_at__lte=now)


def login_free_url(*, instance_id: str, owner_uid: str, isv_key: str, now: datetime) -> str:
    """The 免登 link of one of the owner's open instances (protocol §2). Writes nothing."""
    instance = Instance.objects.filter(instance_id=instance_id, ali_uid=owner_uid).first()
    if instance is None:
        raise SimulatorError("实例不存在 No such instance.")
    if instance.status in (Instance.Status.OPENING, Instance.Status.CLOSED) or not instance.auth_url:
        raise SimulatorError(
            "实例尚未开通或已关闭，无法免登 The instance is not open, so login-free entry is unavailable."
        )
    return signer.login_free_url(
        auth_url=instance.auth_url,
        instance_id=instance.vendor_instance_id or instance.instance_id,
        isv_key=isv_key,
        now=now,
    )


# --- SPI delivery ------------------------------------------------------------------------------------


def delivery_lease(config: DeliveryConfig) -> timedelta:
    """How long a loop holds a delivery it sends: two sends (the attempt, and the ``duplicate`` fault's
    second one), each bounded by the SPI timeout, plus room for the database writes around them."""
    return timedelta(seconds=2 * config.timeout_seconds + 30)


def _record(
    delivery: Delivery, *, now: datetime, status: int | None, ok: bool, reason: str, body: str, ms: int
) -> None:
    Attempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        at=now,
        http_status=status,
        ok=ok,
        reason=reason[:300],
        response=body[:2000],
        elapsed_ms=ms,
    )


def _send(transport: Transport, config: DeliveryConfig, params: dict[str, str]) -> tuple[int | None, str, str | None]:
    """One HTTP try: (status, body, transport error or None); the token is computed now, never stored."""
    try:
        status, body = transport(config.spi_url, signer.sign(params, config.isv_key), config.timeout_seconds)
    except TransportError as exc:
        return None, "", str(exc)
    return status, body, None


def _apply_success(delivery: Delivery, answer_instance_id: str, app_info: dict[str, Any], *, now: datetime) -> None:
    delivery.state = Delivery.State.DELIVERED
    delivery.delivered_at = now
    delivery.last_error = ""
    instance = delivery.instance
    if instance is not None and delivery.action == "createInstance":
        instance.vendor_instance_id = answer_instance_id
        auth_url = app_info.get("authUrl")
        instance.auth_url = str(auth_url)[:500] if isinstance(auth_url, str) else ""
        instance.app_info = app_info
        if instance.status == Instance.Status.OPENING:
            instance.status = Instance.Status.OPENED
        instance.save()


def _attempt(
    delivery_id: int, *, token: str, clock: Callable[[], datetime], transport: Transport, config: DeliveryConfig
) -> bool:
    """Make one attempt of a delivery leased to ``token``, record it, and schedule the next on failure;
    the lease ends with the write. True when delivered."""
    params, fault = Delivery.objects.values_list("params", "fault").get(id=delivery_id)
    # The HTTP call happens outside any transaction: a slow vendor must not hold the database.
    started = time.monotonic()
    status, body, error = _send(transport, config, params)
    ms = int((time.monotonic() - started) * 1000)
    now = clock()
    with transaction.atomic():
        delivery = held(Delivery.objects.select_for_update().filter(id=delivery_id), token=token).first()
        if delivery is None:
            # This loop stalled past its lease and another took the delivery over: its answer stands.
            log.warning("SPI delivery #%s: the lease ran out during the attempt; its result is dropped", delivery_id)
            return False
        delivery.attempts += 1
        if error is not None:
            ok, reason, vendor_id, app_info = False, error, "", {}
        else:
            answer = read_answer(action=delivery.action, status=status or 0, body=body)
            ok, reason, vendor_id, app_info = answer.ok, answer.reason, answer.instance_id, answer.app_info
        if ok and delivery.fault == "timeout_after_commit":
            # Test hook: the vendor committed, but its answer never reached us; a retry must be harmless.
            ok, reason, status = False, "timed out (fault hook: the vendor's answer was dropped)", None
            delivery.fault = ""
        _record(delivery, now=now, status=status, ok=ok, reason=reason, body=body, ms=ms)
        if ok:
            _apply_success(delivery, vendor_id, app_info, now=now)
        else:
            delivery.last_error = reason[:1000]
            if delivery.attempts >= config.max_attempts:
                delivery.state = Delivery.State.GAVE_UP
            else:
                delivery.next_attempt_at = now + timedelta(seconds=config.retry_seconds)
        for column, value in claims.revoke().items():  # the lease ends with this write
            setattr(delivery, column, value)
        delivery.save()
    if ok and fault == "duplicate":
        # Test hook: the marketplace sends the same call again; the vendor must change nothing twice.
        # Only this loop does it: the delivery is delivered now, so no other loop can claim it.
        status, body, error = _send(transport, config, params)
        with transaction.atomic():
            Delivery.objects.filter(id=delivery_id).update(fault="")
            _record(
                delivery,
                now=now,
                status=status,
                ok=error is None and status == 200,
                reason="duplicate delivery (fault hook): " + (error or f"HTTP {status}"),
                body=body,
                ms=0,
            )
    return ok


def do_deliver_due(
    *, clock: Callable[[], datetime], transport: Transport, config: DeliveryConfig, limit: int = 50
) -> int:
    """One pass of the delivery loop: lease due deliveries one at a time, oldest due first, and try each
    once, up to ``limit``. Returns how many were tried.

    Each is leased (``kaitong_base.claims``) for ``delivery_lease`` from the moment it is taken, so any
    number of loops, in one simulator process or several on one database, never send the same delivery
    at once; a loop killed mid-send holds its delivery only until the lease runs out.
    """
    due = Delivery.objects.filter(state=Delivery.State.PENDING, next_attempt_at__lte=clock())
    tried = 0
    while tried < limit:
        now = clock()
        # Look before claiming: on SQLite a claim takes the write lock, which an idle loop polling
        # twice a second should not.
        if not free(due, now=now).exists():
            break
        taken = claim(due, now=now, lease=delivery_lease(config), limit=1, order_by=("next_attempt_at", "id"))
        if not taken.ids:
            break
        _attempt(taken.ids[0], token=taken.token, clock=clock, transport=transport, config=config)
        tried += 1
    return tried


def do_reset_delivery(*, delivery_id: int, now: datetime) -> None:
    """生产消息重试: give a delivery that ran out of tries a fresh set, due now."""
    Delivery.objects.filter(id=delivery_id).exclude(state=Delivery.State.DELIVERED).update(
        state=Delivery.State.PENDING, attempts=0, next_attempt_at=now
    )


# --- what the fake Market OpenAPI records --------------------------------------------------------------


def do_use_nonce(*, nonce: str, now: datetime) -> None:
    """Spend a request's signature nonce; raise PopError when it was spent already (protocol §3.1)."""
    if len(nonce) > 128:
        raise PopError("InvalidParameter", "SignatureNonce is too long.")
    try:
        with transaction.atomic():
            UsedNonce.objects.create(nonce=nonce, seen_at=now)
    except IntegrityError:
        raise PopError("SignatureNonceUsed", "Specified signature nonce was used already.") from None
    # A request older than the timestamp window is refused anyway, so its nonce need not be kept.
    UsedNonce.objects.filter(seen_at__lt=now - 2 * domain.TIMESTAMP_SKEW).delete()


@transaction.atomic
def do_accept_metering(
    *,
    records: list[domain.Record],
    now: datetime,
    request_id: str,
    unit_price: Decimal,
    required_assits: dict[str, str] | None = None,
) -> None:
    """Put checked PushMeteringData records on the buyers' bills, all or none (protocol §3.2).

    ``required_assits``: product code → the billing item its entities must carry (None: not checked).

    Raises PopError for an unknown instance, instances of two products, or an instance pushed less than
    60 s ago. The vendor may name an instance by the ID it returned from createInstance.
    """
    ids = {record.instance_id for record in records}
    instances = {i.instance_id: i for i in Instance.objects.filter(instance_id__in=ids)}
    for instance in Instance.objects.filter(vendor_instance_id__in=ids - set(instances)):
        instances[instance.vendor_instance_id] = instance
    missing = sorted(ids - set(instances))
    if missing:
        raise PopError("Invalid.Parameter.Instance", f"Instance {missing[0][:32]} does not exist.", status=500)
    domain.check_one_product({iid: instance.product_code for iid, instance in instances.items()})
    if required_assits is not None:
        for record in records:
            domain.check_assit(record, required=required_assits.get(instances[record.instance_id].product_code))
    for instance_id in sorted(ids):
        last = (
            MeteringRecord.objects.filter(instance_id=instances[instance_id].instance_id)
            .order_by("-received_at")
            .values_list("received_at", flat=True)
            .first()
        )
        domain.check_rate(instance_id=instance_id, last_push_at=last, now=now)
    for record in records:
        instance = instances[record.instance_id]
        MeteringRecord.objects.create(
            request_id=request_id,
            received_at=now,
            instance_id=instance.instance_id,
            product_code=instance.product_code,
            start_at=datetime.fromtimestamp(record.start, tz=UTC),
            end_at=datetime.fromtimestamp(record.end, tz=UTC),
            entities=[{"Key": e.key, "Value": e.value, "meteringAssit": e.metering_assit} for e in record.entities],
            cost=domain.record_cost(record, unit_price=unit_price, trial=instance.trial),
        )


def do_record_api_call(
    *,
    at: datetime,
    request_id: str,
    action: str,
    access_key_id: str,
    signature_method: str,
    http_status: int,
    code: str,
    message: str,
) -> None:
    """Log one OpenAPI request and how it was answered (the operator page lists them)."""
    ApiCall.objects.create(
        at=at,
        request_id=request_id,
        action=action[:64],
        access_key_id=access_key_id[:128],
        signature_method=signature_method,
        http_status=http_status,
        code=code,
        message=message[:300],
    )


# --- the buyer's Alibaba account: RAM users, AccessKeys, SLS, role grants -------------------------------------


def _main_account(uid: str) -> Account:
    account = Account.objects.filter(uid=uid, is_ram=False).first()
    if account is None:
        raise SimulatorError("主账号不存在 No such main account.")
    return account


def do_set_sls_active(*, uid: str, active: bool) -> None:
    """日志服务 SLS 开通 / 关闭 in a main account (closing keeps its projects, as suspending would)."""
    account = _main_account(uid)
    Account.objects.filter(id=account.id).update(sls_active=active)


_RAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@transaction.atomic
def do_create_ram_user(*, main_uid: str, name: str, sls_policy: bool, now: datetime) -> RamUser:
    """A RAM user; when it exists already its SLS policy is set as asked (attached or detached)."""
    _main_account(main_uid)
    name = name.strip()
    if not _RAM_NAME.match(name):
        raise SimulatorError(
            "RAM 用户名须为 1–64 位字母、数字、点、下划线或连字符 A RAM user name is 1–64 letters, digits, . _ or -."
        )
    user = RamUser.objects.select_for_update().filter(main_uid=main_uid, name__iexact=name).first()
    if user is None:
        return RamUser.objects.create(
            user_id=cloud_domain.new_numeric_id(), main_uid=main_uid, name=name, sls_policy=sls_policy, created_at=now
        )
    if user.sls_policy != sls_policy:
        user.sls_policy = sls_policy
        user.save(update_fields=["sls_policy"])
    return user


def do_create_access_key(*, main_uid: str, now: datetime, ram_user_id: int | None = None) -> AccessKey:
    """A new AccessKey of the main account or of one of its RAM users; the caller shows its secret once."""
    _main_account(main_uid)
    user = None
    if ram_user_id is not None:
        user = RamUser.objects.filter(id=ram_user_id, main_uid=main_uid).first()
        if user is None:
            raise SimulatorError("RAM 用户不存在 No such RAM user.")
    return AccessKey.objects.create(
        access_key_id=cloud_domain.new_access_key_id(),
        secret=cloud_domain.new_secret(),
        main_uid=main_uid,
        ram_user=user,
        created_at=now,
    )


def do_revoke_access_key(*, access_key_id: str, now: datetime, main_uid: str | None = None) -> None:
    """Disable a key for good (Alibaba's 禁用 then 删除); ``main_uid``: the buyer asking must own it."""
    keys = AccessKey.objects.filter(access_key_id=access_key_id)
    if main_uid is not None:
        keys = keys.filter(main_uid=main_uid)
    if not keys.exists():
        raise SimulatorError("AccessKey 不存在 No such AccessKey.")
    keys.filter(state=AccessKey.State.ACTIVE).update(state=AccessKey.State.REVOKED, revoked_at=now)


@transaction.atomic
def do_grant_role(*, buyer_uid: str, role_name: str, trusted_uid: str, external_id: str, now: datetime) -> RoleGrant:
    """同意授权: the role exists in the buyer's account, trusting the ISV (kept if it exists already)."""
    _main_account(buyer_uid)
    grant = (
        RoleGrant.objects.select_for_update()
        .filter(buyer_uid=buyer_uid, role_name__iexact=role_name, state=RoleGrant.State.ACTIVE)
        .first()
    )
    if grant is not None:
        return grant
    return RoleGrant.objects.create(
        buyer_uid=buyer_uid,
        role_name=role_name,
        role_id=cloud_domain.new_numeric_id(19),
        trusted_uid=trusted_uid,
        external_id=external_id,
        created_at=now,
    )


def do_revoke_grants(*, buyer_uid: str, now: datetime, grant_id: int | None = None) -> int:
    """撤销授权: delete the role (one grant, or all the buyer's); its temporary credentials stop working."""
    grants = RoleGrant.objects.filter(buyer_uid=buyer_uid, state=RoleGrant.State.ACTIVE)
    if grant_id is not None:
        grants = grants.filter(id=grant_id)
    return grants.update(state=RoleGrant.State.REVOKED, revoked_at=now)


def do_issue_sts_credential(*, grant_id: int, session_name: str, seconds: int, now: datetime) -> StsCredential:
    """AssumeRole's answer: temporary credentials acting as the role until ``now + seconds``."""
    return StsCredential.objects.create(
        access_key_id=cloud_domain.new_sts_key_id(),
        secret=cloud_domain.new_secret(),
        security_token=cloud_domain.new_security_token(),
        grant_id=grant_id,
        session_name=session_name,
        expires_at=now + timedelta(seconds=seconds),
        created_at=now,
    )


def do_create_sls_project(*, owner_uid: str, region: str, name: str, description: str, now: datetime) -> SlsProject:
    """CreateProject: names are unique per region across every account (ProjectAlreadyExist)."""
    cloud_domain.check_project_name(name)
    try:
        with transaction.atomic():
            return SlsProject.objects.create(
                owner_uid=owner_uid, region=region, name=name, description=description[:512], created_at=now
            )
    except IntegrityError:
        raise SlsError("ProjectAlreadyExist", f"Project {name} already exist", status=400) from None


def do_create_sls_store(
    *, project_id: int, name: str, kind: str, mode: str, ttl: int, shard_count: int, now: datetime
) -> SlsStore:
    """CreateLogStore / CreateMetricStore (one namespace per project: LogStoreAlreadyExist)."""
    cloud_domain.check_store_name(name)
    try:
        with transaction.atomic():
            return SlsStore.objects.create(
                project_id=project_id, name=name, kind=kind, mode=mode, ttl=ttl, shard_count=shard_count, created_at=now
            )
    except IntegrityError:
        raise SlsError("LogStoreAlreadyExist", f"logstore {name} already exists", status=400) from None
