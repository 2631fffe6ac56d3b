"""STS and SLS through the official SDKs (``alibabacloud-sts20150401``, ``alibabacloud-sls20201230``),
configured from the environment: the real endpoint names, a proxy and protocol (the demo and the tests
send them to the simulator), and timeouts. One attempt per call, no SDK retries: a page waits on 验证,
and the provisioning job has the job engine's retries.

Every failure is a ``CloudError(code, message, status)`` whose text never holds a secret: the SDKs'
messages are cut short and scrubbed of the credentials they were given. The SDKs are imported only
when a call is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kaitong.sls.domain import SESSION_NAME, SESSION_SECONDS, UNREACHABLE, StoreMode

SCRUBBED = "‹secret›"


@dataclass(frozen=True)
class Credentials:
    """An AccessKey pair, with a security token when it is a role session's. Never printed whole."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str = field(default="", repr=False)
    expiration: str = ""


@dataclass(frozen=True)
class Caller:
    account_id: str  # the main account's UID, also for a RAM user's key
    identity_type: str  # Account | RAMUser | AssumedRoleUser
    arn: str


class CloudError(Exception):
    """STS or SLS answered with an error (``code`` as Alibaba spells it, ``status`` its HTTP status) or
    did not answer (code ``Unreachable``, status 0)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.code = code
        self.message = message
        self.status = status


def _env() -> Any:
    from django.conf import settings

    return settings.ENV


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, SCRUBBED)
    return text[:300]


def _config(credentials: Credentials, endpoint: str) -> Any:
    from alibabacloud_tea_openapi.models import Config

    env = _env()
    config = Config(
        access_key_id=credentials.access_key_id,
        access_key_secret=credentials.access_key_secret,
        security_token=credentials.security_token or None,
        endpoint=endpoint,
        protocol=env.aliyun_cloud_protocol,
        connect_timeout=env.aliyun_cloud_connect_timeout_ms,
        read_timeout=env.aliyun_cloud_read_timeout_ms,
    )
    if env.aliyun_cloud_proxy:
        # Absolute-form requests to the proxy, which keeps the Host (the simulator routes by it).
        config.http_proxy = env.aliyun_cloud_proxy
        config.https_proxy = env.aliyun_cloud_proxy
    return config


def _runtime() -> Any:
    from darabonba.runtime import RuntimeOptions

    env = _env()
    return RuntimeOptions(
        autoretry=False,
        max_attempts=1,
        connect_timeout=env.aliyun_cloud_connect_timeout_ms,
        read_timeout=env.aliyun_cloud_read_timeout_ms,
    )


def _status(exc: Any) -> int:
    status = getattr(exc, "status_code", None) or getattr(exc, "statusCode", None)
    data = getattr(exc, "data", None)
    if not status and isinstance(data, dict):
        status = data.get("statusCode") or data.get("httpCode")
    try:
        return int(status or 0)
    except (TypeError, ValueError):
        return 0


def _call(credentials: Credentials, call: Any) -> Any:
    """Run ``call()``; turn whatever it raises into a CloudError free of ``credentials``' secrets."""
    from Tea.exceptions import TeaException

    secrets = (credentials.access_key_secret, credentials.security_token)
    try:
        return call()
    except TeaException as exc:
        code = str(getattr(exc, "code", "") or "") or "Unknown"
        raise CloudError(code, _scrub(str(getattr(exc, "message", "") or ""), secrets), _status(exc)) from None
    except Exception as exc:
        # Transport: refused, reset, timed out (the SDKs wrap requests' errors in their own).
        raise CloudError(UNREACHABLE, _scrub(f"{type(exc).__name__}: {exc}", secrets), 0) from None


# --- STS ---------------------------------------------------------------------------------------------------


def _sts(credentials: Credentials) -> Any:
    from alibabacloud_sts20150401.client import Client

    return Client(_config(credentials, _env().aliyun_sts_endpoint))


def isv_credentials() -> Credentials:
    """The vendor's own AccessKey (the one the Market API uses): the principal the buyer's role trusts."""
    env = _env()
    return Credentials(env.aliyun_access_key_id, env.aliyun_access_key_secret)


def caller_identity(credentials: Credentials) -> Caller:
    """STS GetCallerIdentity: whose key this is (a RAM user's key answers with its main account's UID)."""

    def call() -> Any:
        return _sts(credentials).get_caller_identity_with_options(_runtime())

    body = _call(credentials, call).body
    return Caller(
        account_id=str(body.account_id or ""), identity_type=str(body.identity_type or ""), arn=str(body.arn or "")
    )


def assume_role(
    role_arn: str, external_id: str, session_name: str = SESSION_NAME, duration_seconds: int = SESSION_SECONDS
) -> Credentials:
    """STS AssumeRole with the vendor's AccessKey: a short session as the buyer's role."""
    from alibabacloud_sts20150401.models import AssumeRoleRequest

    isv = isv_credentials()
    request = AssumeRoleRequest(
        role_arn=role_arn,
        external_id=external_id,
        role_session_name=session_name,
        duration_seconds=duration_seconds,
    )

    def call() -> Any:
        return _sts(isv).assume_role_with_options(request, _runtime())

    granted = _call(isv, call).body.credentials
    return Credentials(
        access_key_id=str(granted.access_key_id),
        access_key_secret=str(granted.access_key_secret),
        security_token=str(granted.security_token),
        expiration=str(granted.expiration or ""),
    )


# --- SLS (every action here is in policy/guance-sls-policy.json, and nothing else is) -------------------


def _sls(credentials: Credentials, region: str) -> Any:
    from alibabacloud_sls20201230.client import Client

    return Client(_config(credentials, _env().aliyun_sls_endpoint_template.format(region=region)))


def list_projects(credentials: Credentials, region: str, *, name: str = "") -> list[str]:
    """ListProject: the names of the account's projects in ``region`` (those containing ``name``, if given)."""
    from alibabacloud_sls20201230.models import ListProjectRequest

    request = ListProjectRequest(offset=0, size=500, project_name=name or None)

    def call() -> Any:
        return _sls(credentials, region).list_project_with_options(request, {}, _runtime())

    body = _call(credentials, call).body
    return [str(project.project_name) for project in (body.projects or []) if project.project_name]


def create_project(credentials: Credentials, region: str, name: str, description: str) -> None:
    from alibabacloud_sls20201230.models import CreateProjectRequest

    request = CreateProjectRequest(project_name=name, description=description)
    _call(credentials, lambda: _sls(credentials, region).create_project_with_options(request, {}, _runtime()))


def create_logstore(
    credentials: Credentials, region: str, project: str, name: str, *, mode: StoreMode, ttl: int, shards: int = 2
) -> None:
    from alibabacloud_sls20201230.models import CreateLogStoreRequest

    request = CreateLogStoreRequest(logstore_name=name, mode=str(mode), ttl=ttl, shard_count=shards)
    _call(
        credentials, lambda: _sls(credentials, region).create_log_store_with_options(project, request, {}, _runtime())
    )


def create_metricstore(
    credentials: Credentials, region: str, project: str, name: str, *, ttl: int, shards: int = 2
) -> None:
    from alibabacloud_sls20201230.models import CreateMetricStoreRequest

    request = CreateMetricStoreRequest(name=name, ttl=ttl, shard_count=shards)
    _call(
        credentials,
        lambda: _sls(credentials, region).create_metric_store_with_options(project, request, {}, _runtime()),
    )
