"""The buyer's Alibaba account as STS and SLS see it: pure rules, no Django, no I/O, time passed in.

SLS signs its requests its own way, not POP's (read from the official SDK's gateway,
``alibabacloud_gateway_sls.client.Client.get_signature``; protocol v1, the SDK's default)::

    Authorization: LOG <AccessKeyId>:base64(hmac(secret, string_to_sign))
    string_to_sign = METHOD "\\n" content-md5 "\\n" content-type "\\n" date "\\n"
                     every header whose lower-case name contains x-log- or x-acs-, sorted, as name:value "\\n"
                     path ["?" name=value "&" ... sorted by name, values as sent before URL-encoding]

The HMAC is SHA-256 when the request says ``x-log-signaturemethod: hmac-sha256`` (today's SDKs),
SHA-1 otherwise (older SDKs); ``content-md5`` is the upper-case hex MD5 of the body, empty without one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

SLS_REGIONS = ("cn-hangzhou", "cn-zhangjiakou", "cn-shanghai", "cn-beijing", "cn-shenzhen")
# SLS refuses a request whose Date is further than this from its clock (RequestTimeTooSkewed).
SLS_DATE_SKEW = timedelta(minutes=15)
# AssumeRole's DurationSeconds: 900 s at least, and at most the role's maximum session (default 1 h).
MIN_SESSION_SECONDS = 900
MAX_SESSION_SECONDS = 3600
_ALPHANUMERIC = string.ascii_letters + string.digits


class SlsError(Exception):
    """An SLS error answer: HTTP status, ``errorCode``, ``errorMessage``."""

    def __init__(self, code: str, message: str, *, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def sls_body(error: SlsError) -> dict[str, str]:
    return {"errorCode": error.code, "errorMessage": error.message}


def unauthorized(message: str = "Unauthorized") -> SlsError:
    return SlsError("Unauthorized", message, status=401)


# --- SLS request signing ---------------------------------------------------------------------------------


def sls_string_to_sign(*, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> str:
    """``headers``: lower-case names to values, as received; ``query``: decoded names and values."""
    canonical_headers = "".join(
        f"{name}:{headers[name]}\n" for name in sorted(headers) if "x-log-" in name or "x-acs-" in name
    )
    resource = path
    if query:
        resource += "?" + "&".join(f"{name}={query[name]}" for name in sorted(query))
    return (
        f"{method.upper()}\n{headers.get('content-md5', '')}\n{headers.get('content-type', '')}\n"
        f"{headers.get('date', '')}\n{canonical_headers}{resource}"
    )


def sls_signature(*, secret: str, string_to_sign: str, method: str = "hmac-sha256") -> str:
    digest = hashlib.sha256 if method == "hmac-sha256" else hashlib.sha1
    return base64.b64encode(hmac.new(secret.encode(), string_to_sign.encode(), digest).digest()).decode()


_LOG_AUTHORIZATION = re.compile(r"^LOG ([^:\s]+):(\S+)$")


def parse_sls_authorization(header: str) -> tuple[str, str]:
    """(AccessKeyId, signature) of ``LOG <id>:<signature>``; Unauthorized when absent or malformed."""
    match = _LOG_AUTHORIZATION.match(header.strip())
    if not match:
        raise unauthorized("The Authorization header is missing or malformed.")
    return match.group(1), match.group(2)


def check_sls_date(value: str, *, now: datetime) -> None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise SlsError("RequestTimeTooSkewed", "The Date header is missing or malformed.", status=400) from None
    if moment.tzinfo is None or abs(now - moment) > SLS_DATE_SKEW:
        raise SlsError(
            "RequestTimeTooSkewed", "The difference between the request time and now is too large.", status=400
        )


def content_md5(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest().upper() if body else ""


# --- names -------------------------------------------------------------------------------------------------

_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_STORE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$")
_SESSION_NAME = re.compile(r"^[\w.@-]{2,64}$")
_ROLE_ARN = re.compile(r"^acs:ram::(\d{6,20}):role/([A-Za-z0-9.-]{1,64})$")


def check_project_name(name: str) -> None:
    """3–63 characters: lower-case letters, digits and hyphens, beginning and ending with a letter or digit."""
    if not _PROJECT_NAME.match(name):
        raise SlsError("ParameterInvalid", f"project name {name[:70]!r} is invalid", status=400)


def check_store_name(name: str) -> None:
    if not _STORE_NAME.match(name):
        raise SlsError("ParameterInvalid", f"logstore name {name[:70]!r} is invalid", status=400)


def valid_session_name(name: str) -> bool:
    return bool(_SESSION_NAME.match(name))


def parse_role_arn(arn: str) -> tuple[str, str] | None:
    """(account uid, role name) of ``acs:ram::<uid>:role/<name>``, or None."""
    match = _ROLE_ARN.match(arn)
    return (match.group(1), match.group(2)) if match else None


def role_arn(uid: str, role_name: str) -> str:
    # RAM writes role names in ARNs in lower case; role names are case-insensitive.
    return f"acs:ram::{uid}:role/{role_name.lower()}"


# --- identities ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who signed a request, as GetCallerIdentity answers it; ``sls_allowed``: may use the owner's SLS."""

    account_id: str  # the MAIN account, whoever signed
    identity_type: str  # Account | RAMUser | AssumedRoleUser
    arn: str
    user_id: str
    principal_id: str
    sls_allowed: bool
    role_id: str = ""


def account_caller(uid: str) -> Caller:
    return Caller(uid, "Account", f"acs:ram::{uid}:root", uid, uid, sls_allowed=True)


def ram_caller(*, main_uid: str, user_id: str, name: str, sls_policy: bool) -> Caller:
    return Caller(main_uid, "RAMUser", f"acs:ram::{main_uid}:user/{name.lower()}", user_id, user_id, sls_policy)


def role_caller(*, main_uid: str, role_name: str, role_id: str, session_name: str) -> Caller:
    principal = f"{role_id}:{session_name}"
    arn = f"acs:ram::{main_uid}:assumed-role/{role_name.lower()}/{session_name}"
    # The role's policy is the one the marketplace's role template carries: SLS access.
    return Caller(main_uid, "AssumedRoleUser", arn, principal, principal, sls_allowed=True, role_id=role_id)


def caller_identity_body(caller: Caller, *, request_id: str) -> dict[str, str]:
    body = {
        "RequestId": request_id,
        "AccountId": caller.account_id,
        "UserId": caller.user_id,
        "Arn": caller.arn,
        "IdentityType": caller.identity_type,
        "PrincipalId": caller.principal_id,
    }
    if caller.role_id:
        body["RoleId"] = caller.role_id
    return body


# --- new secrets -----------------------------------------------------------------------------------------


def new_access_key_id() -> str:
    """``LTAI`` and 20 letters and digits, the shape of an Alibaba AccessKey ID."""
    return "LTAI" + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(20))


def new_secret(length: int = 30) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def new_sts_key_id() -> str:
    return "STS." + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(25))


def new_security_token() -> str:
    return "CAIS" + secrets.token_urlsafe(192)


def new_numeric_id(length: int = 16) -> str:
    return str(secrets.randbelow(9 * 10 ** (length - 1)) + 10 ** (length - 1))


def iso_utc(moment: datetime) -> str:
    """As STS writes Expiration: ``2026-11-30T12:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class KeyRecord:
    """What the simulated Alibaba knows of an AccessKey ID: its secret, whom it acts as, whether it works."""

    secret: str
    caller: Caller
    active: bool  # False: disabled, or its role was revoked
    security_token: str = ""  # temporary credentials: the token that must come with them
    expires_at: datetime | None = None
