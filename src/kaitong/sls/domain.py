"""Pure rules of the exclusive edition's storage: regions, names, the stores of a workspace, the
marketplace's role-authorisation link, and what a cloud error means for the buyer. No Django, no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlencode

# The sites that offer the exclusive edition, and the SLS region each one's data lives in.
REGION_OF_SITE = {"cn1": "cn-hangzhou", "cn3": "cn-zhangjiakou"}

PROJECT_PREFIX = "guance-wksp-"
# How long the stores keep data (SLS's own default); the buyer can change it in their console.
TTL_DAYS = 30
# AssumeRole's shortest session (STS allows 900..3600 s): the vendor needs the role for a minute.
SESSION_SECONDS = 900
SESSION_NAME = "guance-kaitong"


class StoreKind(StrEnum):
    LOGSTORE = "logstore"
    METRICSTORE = "metricstore"


class StoreMode(StrEnum):
    STANDARD = "standard"
    QUERY = "query"  # cheaper, for data that is looked up rather than analysed (backups)


@dataclass(frozen=True)
class Store:
    name: str
    kind: StoreKind
    mode: StoreMode = StoreMode.STANDARD


# Every exclusive workspace's project holds these (guance-domain §3.2): metrics in a Metricstore; logs,
# events, dial tests, CI and security checks in Standard Logstores; backup logs in a Query Logstore.
STORES: tuple[Store, ...] = (
    Store("metrics", StoreKind.METRICSTORE),
    Store("logging", StoreKind.LOGSTORE),
    Store("event", StoreKind.LOGSTORE),
    Store("dialtesting", StoreKind.LOGSTORE),
    Store("cicd", StoreKind.LOGSTORE),  # SLS names are 3–63 characters: not "ci"
    Store("security", StoreKind.LOGSTORE),
    Store("backup_log", StoreKind.LOGSTORE, StoreMode.QUERY),
)


def region_of_site(site_code: str) -> str | None:
    """The SLS region of a site that offers the exclusive edition; None for any other site."""
    return REGION_OF_SITE.get(site_code)


def project_name(workspace_id: int) -> str:
    return f"{PROJECT_PREFIX}{workspace_id}"


def project_description(workspace_id: int) -> str:
    return f"Guance workspace {workspace_id} (观测云专属版)"


def role_arn(ali_uid: str, role: str) -> str:
    return f"acs:ram::{ali_uid}:role/{role}"


def role_link_token(*, role: str, isv_key: str) -> str:
    """The authorisation link's ``token``: md5 of ``role=<role>&key=<ISV key>`` (hex), the marketplace's rule."""
    return hashlib.md5(f"role={role}&key={isv_key}".encode(), usedforsecurity=False).hexdigest()


def role_link(*, base_url: str, role: str, ali_uid: str, return_url: str, isv_key: str) -> str:
    """The marketplace's cross-account role authorisation link (第三方快捷授权).

    The real page routes in its URL fragment (``…index.htm#/roleAuth``): the parameters follow it the
    same way as they follow a path."""
    query = urlencode(
        {
            "role": role,
            "aliyunuid": ali_uid,
            "returnurl": return_url,
            "token": role_link_token(role=role, isv_key=isv_key),
        }
    )
    return f"{base_url}{'&' if '?' in base_url else '?'}{query}"


def mask_key_id(access_key_id: str) -> str:
    """An AccessKey ID as pages and the operator see it: its first and last four characters."""
    if len(access_key_id) <= 8:
        return "****"
    return f"{access_key_id[:4]}****{access_key_id[-4:]}"


# --- what a cloud error means ----------------------------------------------------------------------------


class Problem(StrEnum):
    """Why a grant does not (or no longer does) let the vendor write into the buyer's SLS."""

    INVALID_KEY = "invalid_key"  # wrong secret, unknown or revoked AccessKey
    OTHER_ACCOUNT = "other_account"  # a key of another Alibaba account than the instance's
    NO_SLS_PERMISSION = "no_sls_permission"
    SLS_NOT_ACTIVATED = "sls_not_activated"
    ROLE_NOT_AUTHORISED = "role_not_authorised"  # no grant of the role, revoked, or a wrong ExternalId
    UNAVAILABLE = "unavailable"  # no answer, throttled, a server error, or the vendor's own key refused


# The code a transport failure gets (no HTTP answer at all).
UNREACHABLE = "Unreachable"

_POP_BAD_KEY = ("SignatureDoesNotMatch", "InvalidAccessKeyId", "IncompleteSignature", "InvalidSecurityToken")
_SLS_BAD_KEY = ("SignatureNotMatch", "InvalidAccessKeyId", "InvalidSecurityToken", "SecurityTokenExpired")
# SLS's answer when Log Service was never activated in the account (the simulator's assumption, as its
# README says: Alibaba documents no code for it).
_SLS_NOT_ACTIVATED = {"ServiceNotEnabled"}


def _unavailable(code: str, status: int) -> bool:
    return code == UNREACHABLE or status >= 500 or status == 0 or code.startswith("Throttling")


def classify_sts_for_key(code: str, status: int) -> Problem:
    """GetCallerIdentity with the buyer's AccessKey failed: a refusal of the key is the buyer's to fix."""
    if _unavailable(code, status):
        return Problem.UNAVAILABLE
    if code.startswith(_POP_BAD_KEY):
        return Problem.INVALID_KEY
    return Problem.UNAVAILABLE


def classify_assume_role(code: str, status: int) -> Problem:
    """AssumeRole (with the vendor's own AccessKey) failed. The vendor's key refused is our fault, not the
    buyer's: unavailable. Any other refusal means the buyer's grant is missing or does not fit."""
    if _unavailable(code, status) or code.startswith(_POP_BAD_KEY):
        return Problem.UNAVAILABLE
    return Problem.ROLE_NOT_AUTHORISED


def classify_sls(code: str, status: int) -> Problem:
    """An SLS call failed (the key itself was accepted by STS a moment before)."""
    if _unavailable(code, status):
        return Problem.UNAVAILABLE
    if code in _SLS_NOT_ACTIVATED:
        return Problem.SLS_NOT_ACTIVATED
    if code.startswith(_SLS_BAD_KEY):
        return Problem.INVALID_KEY
    if code == "Unauthorized" or status in (401, 403):
        return Problem.NO_SLS_PERMISSION
    return Problem.UNAVAILABLE


# --- the refusals a buyer can meet (their words: kaitong/activation/refusals.py) --------------------------


class GrantRefused(Exception):
    """The buyer's authorisation does not let the vendor use their SLS; each subclass is one reason."""

    problem: Problem = Problem.UNAVAILABLE


class InvalidAccessKey(GrantRefused):
    problem = Problem.INVALID_KEY


class KeyOfAnotherAccount(GrantRefused):
    problem = Problem.OTHER_ACCOUNT


class NoSlsPermission(GrantRefused):
    problem = Problem.NO_SLS_PERMISSION


class SlsNotActivated(GrantRefused):
    problem = Problem.SLS_NOT_ACTIVATED


class RoleNotAuthorised(GrantRefused):
    problem = Problem.ROLE_NOT_AUTHORISED


class CloudUnavailable(GrantRefused):
    problem = Problem.UNAVAILABLE


REFUSAL_OF: dict[Problem, type[GrantRefused]] = {
    cls.problem: cls
    for cls in (
        InvalidAccessKey,
        KeyOfAnotherAccount,
        NoSlsPermission,
        SlsNotActivated,
        RoleNotAuthorised,
        CloudUnavailable,
    )
}


class SiteWithoutSls(Exception):
    """This deployment's site does not offer the exclusive edition (only cn1 and cn3 do)."""


class GrantNeeded(Exception):
    """An exclusive workspace needs a verified grant of the instance's Alibaba account first (绑定阿里云账号)."""


class GrantRevoked(Exception):
    """The account's grant was found revoked: verify it again before creating another exclusive workspace."""


def secret_context(ali_uid: str) -> str:
    """The associated data an AccessKey secret is sealed with: a sealed secret moved to another
    account's row does not open."""
    return f"sls.grant:{ali_uid}"
