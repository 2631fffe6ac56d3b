"""The buyer's Alibaba Cloud as the official SDKs reach it: STS and SLS, told apart by the Host header.

The vendor calls the real endpoint names (``sts.aliyuncs.com``, ``<region>.log.aliyuncs.com``,
``<project>.<region>.log.aliyuncs.com``) through the official SDKs, given an HTTP proxy: the simulator's
URL. ``requests`` then sends absolute-form request lines (``POST http://sts.aliyuncs.com/ HTTP/1.1``)
to gunicorn, which keeps the Host header; ``CloudHostMiddleware`` answers those hosts here before any
page URL is looked at. Django's test client reaches the same code with ``HTTP_HOST``.

Nothing is trusted: STS checks the POP signature exactly as the fake Market OpenAPI does (``openapi``),
with the secret of whichever key signed (the ISV's, a buyer's, or temporary credentials with their
token); SLS checks its own ``LOG`` signature (``cloud_domain``). Lookups are ``queries``, writes
``actions``.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from kaitong_base import clock
from kaitong_sim import actions, cloud_domain, domain, openapi, queries
from kaitong_sim.cloud_domain import Caller, KeyRecord, SlsError, unauthorized
from kaitong_sim.domain import PopError

log = logging.getLogger(__name__)

STS_VERSION = "2015-04-01"
_STS_HOST = re.compile(r"^sts(\.[a-z0-9-]+)?\.aliyuncs\.com$")
_SLS_HOST = re.compile(r"^(?:([a-z0-9][a-z0-9-]{1,62})\.)?([a-z0-9-]+)\.log\.aliyuncs\.com$")


@dataclass(frozen=True)
class Isv:
    """The ISV's own account: its AccessKey (the one the Market API knows) and its UID."""

    access_key_id: str
    access_key_secret: str
    uid: str


def _isv() -> Isv:
    config = settings.SIMULATOR
    return Isv(config.access_key_id, config.access_key_secret, config.isv_uid)


def key_of(access_key_id: str, isv: Isv) -> KeyRecord | None:
    if access_key_id == isv.access_key_id:
        return KeyRecord(secret=isv.access_key_secret, caller=cloud_domain.account_caller(isv.uid), active=True)
    return queries.key_record(access_key_id)


# --- routing ---------------------------------------------------------------------------------------------


class CloudHostMiddleware:
    """Answer requests for Alibaba's STS and SLS host names; let everything else through."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        host = request.META.get("HTTP_HOST", "").split(":")[0].lower()
        if _STS_HOST.match(host):
            return sts_view(request)
        match = _SLS_HOST.match(host)
        if match:
            return sls_view(request, region=match.group(2), project=match.group(1) or "")
        return self.get_response(request)


def _raw(request: HttpRequest) -> openapi.RawRequest:
    return openapi.RawRequest(
        method=request.method or "GET",
        path=request.path_info or "/",
        query_string=request.META.get("QUERY_STRING", ""),
        body=request.body,
        content_type=request.content_type or "",
        headers={name.lower(): value for name, value in request.headers.items()},
    )


# --- STS -------------------------------------------------------------------------------------------------


_CREDENTIAL = re.compile(r"Credential=([^,/\s]+)")


def _record(*, request_id: str, action: str, access_key_id: str, method: str, status: int, body: Any) -> None:
    """Put the call on the operator page beside the Market OpenAPI's (who called what, and the answer)."""
    error = body if isinstance(body, dict) else {}
    actions.do_record_api_call(
        at=timezone.now(),
        request_id=request_id,
        action=action,
        access_key_id=access_key_id,
        signature_method=method,
        http_status=status,
        code=str(error.get("Code") or error.get("errorCode") or "OK") if status >= 400 else "OK",
        message=str(error.get("Message") or error.get("errorMessage") or "") if status >= 400 else "",
    )


def sts_view(request: HttpRequest) -> JsonResponse:
    request_id = str(uuid.uuid4()).upper()
    action, access_key_id = "STS", ""
    try:
        try:
            raw = _raw(request)
        except RequestDataTooBig:
            raise PopError("InvalidParameter", "The request body is too large.") from None
        claimed = _CREDENTIAL.search(raw.headers.get("authorization", ""))
        access_key_id = claimed.group(1) if claimed else request.GET.get("AccessKeyId", "")
        action = "STS " + (raw.headers.get("x-acs-action") or request.GET.get("Action", ""))
        status, body = handle_sts(
            raw, now=timezone.now(), stamped_now=clock.real_now(), isv=_isv(), request_id=request_id
        )
    except PopError as refusal:
        status, body = refusal.status, _sts_error(refusal, request_id)
    except Exception:
        log.exception("simulated STS failed")
        status = 500
        body = _sts_error(PopError("InternalError", "The request processing has failed.", status=500), request_id)
    method = "ACS3-HMAC-SHA256" if "authorization" in request.headers else "HMAC-SHA1"
    _record(request_id=request_id, action=action, access_key_id=access_key_id, method=method, status=status, body=body)
    return JsonResponse(body, status=status)


def _sts_error(error: PopError, request_id: str) -> dict[str, str]:
    return {**domain.pop_body(error, request_id=request_id), "HostId": "sts.aliyuncs.com"}


def _authenticated_caller(auth: openapi.Authenticated, key: KeyRecord, *, now: datetime) -> Caller:
    if key.security_token:
        if auth.security_token != key.security_token:
            raise PopError("InvalidSecurityToken.MismatchWithAccessKey", "Specified SecurityToken mismatch.")
        if key.expires_at is not None and key.expires_at <= now:
            raise PopError("InvalidSecurityToken.Expired", "Specified SecurityToken is expired.", status=403)
    if not key.active:
        raise PopError("InvalidAccessKeyId.Inactive", "Specified access key is disabled.")
    return key.caller


def handle_sts(
    raw: openapi.RawRequest, *, now: datetime, stamped_now: datetime, isv: Isv, request_id: str
) -> tuple[int, dict[str, Any]]:
    """Answer one STS request; raise PopError for a refusal."""
    keys: dict[str, KeyRecord] = {}

    def secret_of(access_key_id: str) -> str:
        key = key_of(access_key_id, isv)
        if key is None:
            raise PopError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", status=404)
        keys[access_key_id] = key
        return key.secret

    auth = openapi.authenticate(raw, now=stamped_now, secret_of=secret_of)
    caller = _authenticated_caller(auth, keys[auth.access_key_id], now=now)
    if auth.version != STS_VERSION:
        raise PopError("InvalidVersion", f"Specified parameter Version {auth.version[:20]!r} is not valid.")
    if auth.action == "GetCallerIdentity":
        return 200, cloud_domain.caller_identity_body(caller, request_id=request_id)
    if auth.action == "AssumeRole":
        return 200, _assume_role(auth.params, caller=caller, isv=isv, now=now, request_id=request_id)
    raise PopError(
        "InvalidAction.NotFound", "Specified api is not found, please check your url and method.", status=404
    )


def _assume_role(params: dict[str, str], *, caller: Caller, isv: Isv, now: datetime, request_id: str) -> dict[str, Any]:
    for name in ("RoleArn", "RoleSessionName"):
        if not params.get(name):
            raise PopError(f"MissingParameter.{name}", f"{name} is mandatory for this action.")
    session = params["RoleSessionName"]
    if not cloud_domain.valid_session_name(session):
        raise PopError("InvalidParameter.RoleSessionName", "The parameter RoleSessionName is wrongly formed.")
    duration_text = params.get("DurationSeconds") or str(cloud_domain.MAX_SESSION_SECONDS)
    if not duration_text.isdigit() or not (
        cloud_domain.MIN_SESSION_SECONDS <= int(duration_text) <= cloud_domain.MAX_SESSION_SECONDS
    ):
        raise PopError("InvalidParameter.DurationSeconds", "The Min/Max value of DurationSeconds is 15min/1hr.")
    parsed = cloud_domain.parse_role_arn(params["RoleArn"])
    if parsed is None:
        raise PopError("InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed.")
    buyer_uid, role_name = parsed
    grant = queries.active_grant(buyer_uid=buyer_uid, role_name=role_name)
    if grant is None:
        raise PopError("EntityNotExist.Role", "The specified Role not exists.", status=404)
    # The role's trust policy names the ISV's account (and ExternalId): anyone else may not assume it.
    if caller.account_id != grant["trusted_uid"] or caller.account_id != isv.uid:
        raise PopError("NoPermission", "You are not authorized to assume this role.", status=403)
    if params.get("ExternalId", "") != grant["external_id"]:
        raise PopError("NoPermission", "You are not authorized to assume this role (ExternalId).", status=403)
    credential = actions.do_issue_sts_credential(
        grant_id=grant["id"], session_name=session, seconds=int(duration_text), now=now
    )
    assumed = cloud_domain.role_caller(
        main_uid=buyer_uid, role_name=role_name, role_id=grant["role_id"], session_name=session
    )
    return {
        "RequestId": request_id,
        "AssumedRoleUser": {"Arn": assumed.arn, "AssumedRoleId": assumed.principal_id},
        "Credentials": {
            "AccessKeyId": credential.access_key_id,
            "AccessKeySecret": credential.secret,
            "SecurityToken": credential.security_token,
            "Expiration": cloud_domain.iso_utc(credential.expires_at),
        },
    }


# --- SLS -------------------------------------------------------------------------------------------------


def sls_view(request: HttpRequest, *, region: str, project: str) -> HttpResponse:
    request_id = uuid.uuid4().hex[:24].upper()
    try:
        try:
            raw = _raw(request)
        except RequestDataTooBig:
            raise SlsError("PostBodyTooLarge", "The request body is too large.", status=413) from None
        status, body = handle_sls(
            raw, region=region, project=project, now=timezone.now(), stamped_now=clock.real_now(), isv=_isv()
        )
    except SlsError as refusal:
        status, body = refusal.status, cloud_domain.sls_body(refusal)
    except Exception:
        log.exception("simulated SLS failed")
        status, body = 500, {"errorCode": "InternalServerError", "errorMessage": "internal server error"}
    claimed = re.match(r"LOG ([^:\s]+):", request.headers.get("authorization", ""))
    _record(
        request_id=request_id,
        action="SLS " + _sls_action(request.method or "GET", request.path_info, project=project),
        access_key_id=claimed.group(1) if claimed else "",
        method="LOG " + request.headers.get("x-log-signaturemethod", "hmac-sha1"),
        status=status,
        body=body,
    )
    response = (
        JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
        if body is not None
        else HttpResponse(status=status)
    )
    response["x-log-requestid"] = request_id
    return response


_SLS_ACTIONS = {
    ("GET", "/", False): "ListProject",
    ("POST", "/", False): "CreateProject",
    ("GET", "/", True): "GetProject",
    ("POST", "/logstores", True): "CreateLogStore",
    ("POST", "/metricstores", True): "CreateMetricStore",
}


def _sls_action(method: str, path: str, *, project: str) -> str:
    return _SLS_ACTIONS.get((method, path.rstrip("/") or "/", bool(project)), f"{method} {path[:40]}")


def _sls_caller(raw: openapi.RawRequest, *, now: datetime, signed_at: datetime, isv: Isv) -> Caller:
    """``signed_at``: what the Date header is checked against (the SDK stamps the machine's real clock,
    also when the demo's clock runs ahead); ``now``: what temporary credentials expire by."""
    headers = raw.headers
    access_key_id, signature = cloud_domain.parse_sls_authorization(headers.get("authorization", ""))
    key = key_of(access_key_id, isv)
    if key is None:
        raise unauthorized(f"AccessKeyId not found: {access_key_id[:40]}")
    query = dict(parse_qsl(raw.query_string, keep_blank_values=True))
    to_sign = cloud_domain.sls_string_to_sign(method=raw.method, path=raw.path, query=query, headers=headers)
    expected = cloud_domain.sls_signature(
        secret=key.secret, string_to_sign=to_sign, method=headers.get("x-log-signaturemethod", "hmac-sha1")
    )
    if not domain.signatures_match(expected, signature):
        raise SlsError("SignatureNotMatch", "signature is not match", status=401)
    if headers.get("content-md5", "") != cloud_domain.content_md5(raw.body):
        raise SlsError("InvalidContentMD5", "the Content-MD5 does not match the body", status=400)
    cloud_domain.check_sls_date(headers.get("date", ""), now=signed_at)
    if key.security_token:
        if headers.get("x-acs-security-token", "") != key.security_token:
            raise unauthorized("The security token you provided is invalid.")
        if key.expires_at is not None and key.expires_at <= now:
            raise unauthorized("The security token you provided has expired.")
    if not key.active:
        raise unauthorized("AccessKeyId is disabled.")
    return key.caller


def _json_body(raw: openapi.RawRequest) -> dict[str, Any]:
    try:
        data = json.loads(raw.body or b"{}")
    except ValueError:
        raise SlsError("PostBodyInvalid", "the request body is not valid JSON", status=400) from None
    if not isinstance(data, dict):
        raise SlsError("PostBodyInvalid", "the request body must be a JSON object", status=400)
    return data


def handle_sls(
    raw: openapi.RawRequest, *, region: str, project: str, now: datetime, stamped_now: datetime, isv: Isv
) -> tuple[int, Any]:
    """Answer one SLS request: (status, JSON body or None); raise SlsError for a refusal."""
    caller = _sls_caller(raw, now=now, signed_at=stamped_now, isv=isv)
    owner = caller.account_id
    if not caller.sls_allowed:
        raise SlsError("Unauthorized", "denied by sts or ram, action: log:*, resource: acs:log:*", status=403)
    if not queries.sls_active(owner):
        # Assumption (see the README): Alibaba's exact answer for an account without SLS is not documented.
        raise SlsError("ServiceNotEnabled", "Log Service is not activated for this account.", status=403)
    action = _sls_action(raw.method, raw.path, project=project)
    if action == "ListProject":
        return 200, _list_projects(raw, owner=owner, region=region)
    if action == "CreateProject":
        data = _json_body(raw)
        actions.do_create_sls_project(
            owner_uid=owner,
            region=region,
            name=str(data.get("projectName") or ""),
            description=str(data.get("description") or ""),
            now=now,
        )
        return 200, None
    if action not in _SLS_ACTIONS.values() or not project:
        raise SlsError("RequestNotSupported", "the request is not supported", status=404)
    found = queries.sls_project(region=region, name=project)
    if found is None:
        raise SlsError("ProjectNotExist", f"The Project does not exist : {project}", status=404)
    if found["owner_uid"] != owner:
        raise SlsError("Unauthorized", f"denied by sts or ram, resource: acs:log:*:*:project/{project}", status=403)
    if action == "GetProject":
        return 200, _project_body(found)
    if action in ("CreateLogStore", "CreateMetricStore"):
        data = _json_body(raw)
        metric = action == "CreateMetricStore"
        ttl, shards = data.get("ttl", 30), data.get("shardCount", 2)
        if not isinstance(ttl, int) or not isinstance(shards, int) or not (1 <= ttl <= 3650 and 1 <= shards <= 256):
            raise SlsError("ParameterInvalid", "ttl or shardCount is invalid", status=400)
        mode = str(data.get("mode") or "standard")
        if mode not in ("standard", "query"):
            raise SlsError("ParameterInvalid", f"mode {mode[:20]!r} is invalid", status=400)
        actions.do_create_sls_store(
            project_id=found["id"],
            name=str(data.get("name" if metric else "logstoreName") or ""),
            kind="metricstore" if metric else "logstore",
            mode=mode,
            ttl=ttl,
            shard_count=shards,
            now=now,
        )
        return 200, None
    raise SlsError("RequestNotSupported", "the request is not supported", status=404)


def _project_body(project: dict[str, Any]) -> dict[str, Any]:
    created = int(project["created_at"].timestamp())
    return {
        "projectName": project["name"],
        "description": project["description"],
        "region": project["region"],
        "owner": project["owner_uid"],
        "status": "Normal",
        "createTime": str(created),
        "lastModifyTime": str(created),
        "dataRedundancyType": "LRS",
    }


def _list_projects(raw: openapi.RawRequest, *, owner: str, region: str) -> dict[str, Any]:
    query = dict(parse_qsl(raw.query_string, keep_blank_values=True))
    offset = int(query["offset"]) if query.get("offset", "").isdigit() else 0
    size = min(int(query["size"]), 500) if query.get("size", "").isdigit() else 100
    projects = queries.sls_projects(owner, region=region, name_contains=query.get("projectName", ""))
    page = projects[offset : offset + size]
    return {"count": len(page), "total": len(projects), "projects": [_project_body(p) for p in page]}
