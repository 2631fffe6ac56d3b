"""The only writers of the buyer's grant and of the exclusive workspaces' SLS storage.

Verifying a grant asks STS and SLS first (never inside a transaction: a slow cloud must not hold the
write lock), then stores the grant in one short transaction. The AccessKey secret is sealed before it
is stored and is never logged, put in a job or in an exception. Refusals are ``domain.GrantRefused``
subclasses (their words: kaitong/activation/refusals.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction

from kaitong.jobs.actions import enqueue
from kaitong.jobs.retries import GiveUp
from kaitong.notices.actions import do_send_workspace_notice
from kaitong.notices.domain import Notice
from kaitong.sealing import seal, unseal
from kaitong.sls import client, domain
from kaitong.sls.client import CloudError, Credentials
from kaitong.sls.domain import (  # noqa: F401 - the refusals, importable from here as the contract names them
    CloudUnavailable,
    GrantNeeded,
    GrantRefused,
    GrantRevoked,
    InvalidAccessKey,
    KeyOfAnotherAccount,
    NoSlsPermission,
    Problem,
    RoleNotAuthorised,
    SiteWithoutSls,
    SlsNotActivated,
)
from kaitong.sls.models import AliyunGrant, SlsStorage

log = logging.getLogger(__name__)

# By path: the task is an interface above this module (the layers contract), and imports it.
PROVISION_STORAGE = "kaitong.sls.tasks.provision_storage"


def _refused(problem: Problem) -> GrantRefused:
    return domain.REFUSAL_OF[problem]()


def site_region() -> str:
    """The SLS region of this deployment's site; SiteWithoutSls where the exclusive edition is not offered."""
    region = domain.region_of_site(settings.ENV.site_code)
    if region is None:
        raise SiteWithoutSls
    return region


# --- asking the cloud ---------------------------------------------------------------------------------------


def _prove_sls(credentials: Credentials, region: str) -> None:
    """ListProject with the credentials: the permission is there and SLS is activated."""
    try:
        client.list_projects(credentials, region)
    except CloudError as exc:
        log.info("sls: ListProject refused: %s %s", exc.code, exc.status)
        raise _refused(domain.classify_sls(exc.code, exc.status)) from None


def _prove_key(credentials: Credentials, *, ali_uid: str, region: str) -> None:
    """The key is valid, of ``ali_uid``'s account (a RAM user's key answers with its main account), and
    may use SLS there."""
    try:
        caller = client.caller_identity(credentials)
    except CloudError as exc:
        log.info("sls: GetCallerIdentity refused: %s %s", exc.code, exc.status)
        raise _refused(domain.classify_sts_for_key(exc.code, exc.status)) from None
    if caller.account_id != ali_uid:
        raise KeyOfAnotherAccount
    _prove_sls(credentials, region)


def _role_credentials(ali_uid: str, role: str, external_id: str) -> Credentials:
    try:
        return client.assume_role(domain.role_arn(ali_uid, role), external_id)
    except CloudError as exc:
        log.info("sls: AssumeRole for %s refused: %s %s", ali_uid, exc.code, exc.status)
        raise _refused(domain.classify_assume_role(exc.code, exc.status)) from None


def _key_credentials(grant: AliyunGrant) -> Credentials:
    secret = unseal(grant.secret_key_id, grant.secret_sealed, context=domain.secret_context(grant.ali_uid))
    return Credentials(grant.access_key_id, secret)


def credentials_of(grant: AliyunGrant) -> Credentials:
    """What the vendor acts with in the grant's account: a role session when the buyer authorised the role
    (preferred), else (or when the role is refused and a key exists) the RAM user's AccessKey, unsealed
    for this call only. GrantRefused if neither can be used."""
    if grant.role_name:
        try:
            return _role_credentials(grant.ali_uid, grant.role_name, grant.external_id)
        except GrantRefused as refused:
            if not grant.secret_sealed or isinstance(refused, CloudUnavailable):
                raise
    if not grant.secret_sealed:
        raise RoleNotAuthorised
    return _key_credentials(grant)


def _probe(grant: AliyunGrant, region: str) -> Problem | None:
    """What is wrong with the grant now (None: one of its ways works); the preferred way's problem."""
    problems = []
    if grant.role_name:
        try:
            _prove_sls(_role_credentials(grant.ali_uid, grant.role_name, grant.external_id), region)
            return None
        except GrantRefused as refused:
            problems.append(refused.problem)
    if grant.secret_sealed:
        try:
            _prove_key(_key_credentials(grant), ali_uid=grant.ali_uid, region=region)
            return None
        except GrantRefused as refused:
            problems.append(refused.problem)
    return problems[0] if problems else Problem.ROLE_NOT_AUTHORISED


# --- the buyer's grant ------------------------------------------------------------------------------------


def _store_grant(*, ali_uid: str, now: datetime, **fields: str) -> None:
    """Create or refresh the account's grant as verified now (a revoked one is ok again)."""
    with transaction.atomic():
        AliyunGrant.objects.update_or_create(
            ali_uid=ali_uid,
            defaults={
                **fields,
                "verified_at": now,
                "checked_at": now,
                "state": AliyunGrant.State.OK,
                "problem": "",
                "notified_at": None,
            },
        )
        _restart_storage(ali_uid)


def do_verify_access_key(
    *, ali_uid: str, access_key_id: str, access_key_secret: str, region: str, now: datetime
) -> None:
    """RAM 账号授权 → 验证: prove the RAM user's AccessKey (GetCallerIdentity, then ListProject) and store it,
    the secret sealed. Refusals: InvalidAccessKey, KeyOfAnotherAccount, NoSlsPermission, SlsNotActivated,
    CloudUnavailable."""
    access_key_id, access_key_secret = access_key_id.strip(), access_key_secret.strip()
    if not access_key_id or not access_key_secret:
        raise InvalidAccessKey
    _prove_key(Credentials(access_key_id, access_key_secret), ali_uid=ali_uid, region=region)
    sealed = seal(access_key_secret, context=domain.secret_context(ali_uid))
    _store_grant(
        ali_uid=ali_uid, now=now, access_key_id=access_key_id, secret_key_id=sealed.key_id, secret_sealed=sealed.blob
    )
    log.info("sls: AccessKey %s of account %s verified", domain.mask_key_id(access_key_id), ali_uid)


def role_link(*, ali_uid: str, return_url: str) -> str:
    """第三方快捷授权's link to the marketplace's role authorisation page, coming back to ``return_url``."""
    env = settings.ENV
    return domain.role_link(
        base_url=env.marketplace_role_auth_url,
        role=env.aliyun_sls_role,
        ali_uid=ali_uid,
        return_url=return_url,
        isv_key=env.aliyun_isv_key,
    )


def do_verify_role(*, ali_uid: str, region: str, now: datetime) -> None:
    """第三方快捷授权 → 验证: assume the buyer's role (the vendor's AccessKey, the configured ExternalId, a
    short session), ListProject with it, and store the grant (from now on the role is used). Refusals:
    RoleNotAuthorised, SlsNotActivated, NoSlsPermission, CloudUnavailable."""
    env = settings.ENV
    role, external_id = env.aliyun_sls_role, env.aliyun_sls_role_external_id
    _prove_sls(_role_credentials(ali_uid, role, external_id), region)
    _store_grant(ali_uid=ali_uid, now=now, role_name=role, external_id=external_id)
    log.info("sls: role %s of account %s verified", role, ali_uid)


# --- an exclusive workspace's storage -----------------------------------------------------------------------


def _restart_storage(ali_uid: str) -> None:
    """Queue the provisioning again for the account's projects that failed (their grant works again)."""
    failed = SlsStorage.objects.filter(ali_uid=ali_uid, state=SlsStorage.State.FAILED)
    for workspace_id in failed.values_list("workspace_id", flat=True):
        enqueue(PROVISION_STORAGE, workspace_id=workspace_id)
    failed.update(state=SlsStorage.State.PENDING)


def start_sls_storage(*, workspace_id: int, ali_uid: str, now: datetime) -> None:
    """In the transaction that creates an exclusive workspace: record its SLS project as pending and queue
    the job that creates it (it commits with the workspace). SiteWithoutSls, GrantNeeded, GrantRevoked."""
    region = site_region()
    grant = AliyunGrant.objects.filter(ali_uid=ali_uid).first()
    if grant is None or grant.verified_at is None:
        raise GrantNeeded
    if grant.state == AliyunGrant.State.REVOKED:
        raise GrantRevoked
    SlsStorage.objects.create(
        workspace_id=workspace_id,
        ali_uid=ali_uid,
        region=region,
        project=domain.project_name(workspace_id),
        created_at=now,
    )
    enqueue(PROVISION_STORAGE, workspace_id=workspace_id)


@dataclass(frozen=True)
class Provisioned:
    project: str
    adopted: bool
    created_stores: tuple[str, ...]


def _fail(storage: SlsStorage, error: str, *, final: bool) -> None:
    with transaction.atomic():
        SlsStorage.objects.filter(pk=storage.pk).update(
            error=error[:300], state=SlsStorage.State.FAILED if final else SlsStorage.State.PENDING
        )


def _make_project(storage: SlsStorage, credentials: Credentials, now: datetime) -> bool:
    """Create the workspace's project, or adopt the buyer's own project of that name; return adopted.

    SLS project names are unique in a region across all accounts: "already exists" is adopted only if
    the buyer's own ListProject shows it, else it is another account's and the name cannot be had."""
    name, region = storage.project, storage.region
    try:
        client.create_project(credentials, region, name, domain.project_description(storage.workspace_id))
        adopted = False
    except CloudError as exc:
        if exc.code != "ProjectAlreadyExist":
            raise
        if name not in client.list_projects(credentials, region, name=name):
            raise GiveUp(f"the SLS project name {name} in {region} belongs to another account") from None
        adopted = True
    with transaction.atomic():
        SlsStorage.objects.filter(pk=storage.pk).update(project_made_at=now, adopted=adopted)
    return adopted


def do_provision_storage(*, workspace_id: int, now: datetime) -> Provisioned | None:
    """The job: create (or adopt) the workspace's project and each of its stores, then mark it ready.

    Idempotent: a store that exists already is fine, a retry goes on from where the last attempt
    stopped. A cloud failure raises (CloudError: the job engine retries); a grant that no longer works
    fails the storage and gives up (verifying the grant again queues it anew). None when already ready.
    """
    storage = SlsStorage.objects.filter(workspace_id=workspace_id).first()
    if storage is None or storage.state == SlsStorage.State.READY:
        return None
    grant = AliyunGrant.objects.get(ali_uid=storage.ali_uid)
    try:
        credentials = credentials_of(grant)
        adopted = storage.adopted
        if storage.project_made_at is None:
            adopted = _make_project(storage, credentials, now)
        created = []
        for store in domain.STORES:
            try:
                if store.kind is domain.StoreKind.METRICSTORE:
                    client.create_metricstore(
                        credentials, storage.region, storage.project, store.name, ttl=domain.TTL_DAYS
                    )
                else:
                    client.create_logstore(
                        credentials, storage.region, storage.project, store.name, mode=store.mode, ttl=domain.TTL_DAYS
                    )
                created.append(store.name)
            except CloudError as exc:
                if not exc.code.endswith("AlreadyExist"):
                    raise
    except GrantRefused as refused:
        _fail(storage, f"grant refused: {refused.problem}", final=True)
        raise GiveUp(f"the grant of {storage.ali_uid} does not work: {refused.problem}") from None
    except GiveUp as exc:
        _fail(storage, str(exc), final=True)
        raise
    except CloudError as exc:
        _fail(storage, str(exc), final=False)
        raise
    with transaction.atomic():
        SlsStorage.objects.filter(pk=storage.pk).update(state=SlsStorage.State.READY, ready_at=now, error="")
    log.info(
        "sls: workspace %d storage %s/%s ready (adopted: %s)", workspace_id, storage.region, storage.project, adopted
    )
    return Provisioned(storage.project, adopted, tuple(created))


# --- the periodic check ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckReport:
    checked: int
    revoked: tuple[str, ...]
    recovered: tuple[str, ...]


def _notify_loss(grant: AliyunGrant, problem: Problem, now: datetime) -> None:
    storages = SlsStorage.objects.filter(ali_uid=grant.ali_uid, workspace__dissolution__isnull=True)
    for workspace_id, project in storages.values_list("workspace_id", "project"):
        do_send_workspace_notice(
            workspace_id=workspace_id,
            notice=Notice.SLS_ACCESS_LOST,
            context={"ali_uid": grant.ali_uid, "problem": str(problem), "project": project},
            now=now,
        )


def do_check_grants(*, now: datetime) -> CheckReport:
    """sls.check_grants: try every verified grant as the provisioning would. A grant that stopped working
    is marked revoked and each owner of an exclusive workspace in that account is told once, in the
    workspace's language; one that works again is ok again (and its failed projects are queued anew).
    No answer from the cloud changes nothing: it is tried again at the next check."""
    region = domain.region_of_site(settings.ENV.site_code)
    if region is None:
        return CheckReport(0, (), ())
    revoked, recovered, checked = [], [], 0
    for grant in AliyunGrant.objects.filter(verified_at__isnull=False).order_by("pk"):
        problem = _probe(grant, region)
        checked += 1
        with transaction.atomic():
            current = AliyunGrant.objects.select_for_update().get(pk=grant.pk)
            current.checked_at = now
            if problem is None and current.state == AliyunGrant.State.REVOKED:
                current.state, current.problem, current.notified_at = AliyunGrant.State.OK, "", None
                _restart_storage(current.ali_uid)
                recovered.append(current.ali_uid)
            elif problem is not None and problem is not Problem.UNAVAILABLE and current.state == AliyunGrant.State.OK:
                current.state, current.problem, current.notified_at = AliyunGrant.State.REVOKED, str(problem), now
                _notify_loss(current, problem, now)
                revoked.append(current.ali_uid)
            current.save(update_fields=["checked_at", "state", "problem", "notified_at"])
    if revoked:
        log.warning("sls: grants no longer working: %s", ", ".join(revoked))
    return CheckReport(checked, tuple(revoked), tuple(recovered))
