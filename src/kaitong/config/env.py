"""The one typed configuration, read from ``KAITONG_*`` environment variables.

Everything the deployment can change lives here; ``settings.py`` maps it once into Django settings.
A bad value fails at start-up with a message naming the variable, and placeholder secrets are refused
outside the demo and the tests, so a production process can never run on a key from the README.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kaitong.sealing.domain import DataKeyError, parse_data_keys

# Well-known demo values, refused in production by _refuse_placeholders.
DEMO_SECRET_KEY = "demo-insecure-secret-key-never-use-in-production-0123456789"  # noqa: S105
DEMO_ISV_KEY = "demo-isv-key-0123456789abcdef"
DEMO_ACCESS_KEY_ID = "demo-access-key-id"
DEMO_ACCESS_KEY_SECRET = "demo-access-key-secret-0123456789"  # noqa: S105
DEMO_USAGE_API_TOKEN = "demo-usage-api-token-0123456789"  # noqa: S105
# 32 bytes everybody can read: base64 of "kaitong-demo-data-key-0123456789".
DEMO_DATA_KEY = "demo-1:a2FpdG9uZy1kZW1vLWRhdGEta2V5LTAxMjM0NTY3ODk="

# An HTTP header's name, or nothing.
_HEADER_NAME = "^[A-Za-z0-9-]*$"
# A year: the max-age browsers and preload lists expect of a site that means it.
HSTS_DEFAULT_SECONDS = 365 * 24 * 3600

# Values that mean "nobody configured this": refused outside demo and test.
_PLACEHOLDERS = {"", "change-me", "changeme", "secret", "xxx", "todo"}


class Mode(StrEnum):
    PRODUCTION = "production"
    DEMO = "demo"
    TEST = "test"


class ConfigError(Exception):
    """The environment does not describe a runnable deployment; the message says what to fix."""


class AppEnv(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAITONG_", extra="ignore", frozen=True)

    mode: Mode = Field(default=Mode.PRODUCTION, alias="KAITONG_ENV")
    database_url: str = "sqlite:///var/kaitong.sqlite3"
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:8000"
    debug: bool = False
    allowed_hosts: str = "*"

    # Alibaba Cloud Marketplace: the SPI shared key, and the Market OpenAPI we push metering to.
    aliyun_isv_key: str = ""
    aliyun_access_key_id: str = ""
    aliyun_access_key_secret: str = ""
    aliyun_market_endpoint: str = "market.aliyuncs.com"
    aliyun_market_protocol: str = "https"
    aliyun_product_code: str = "cmgj00053362"
    # Where 更改结算方式 sends a buyer to buy the product first (前往阿里云免费开通观测云服务); the demo
    # points it at the simulator's product page.
    marketplace_product_url: str = "https://market.aliyun.com/products/56838014/cmgj00053362.html"
    aliyun_metering_assit: str = "cmgj00053362-Frequency-1"
    # The exclusive edition (专属版, data in the buyer's own SLS) is a second product with its own
    # metering item (marketplace.queries.is_exclusive tells an instance's edition by its product code).
    aliyun_exclusive_product_code: str = "cmgj00060481"
    aliyun_exclusive_metering_assit: str = "cmgj00060481-Frequency-1"
    # How the STS and SLS SDKs reach Alibaba Cloud: the real endpoint names, through an HTTP proxy when
    # set (the demo and the tests: the simulator's URL, with protocol http).
    aliyun_cloud_proxy: str = ""
    aliyun_cloud_protocol: str = Field(default="https", pattern="^(https|http)$")
    aliyun_sts_endpoint: str = "sts.aliyuncs.com"
    aliyun_sls_endpoint_template: str = "{region}.log.aliyuncs.com"
    # 第三方快捷授权: the marketplace's role template, the ExternalId its trust policy requires, and the
    # page where the buyer agrees (the demo: the simulator's /authorize/).
    aliyun_sls_role: str = "AliyunMarketGuanceSLSRole"
    aliyun_sls_role_external_id: str = "guance-sls"
    marketplace_role_auth_url: str = "https://market.console.aliyun.com/imageconsole/index.htm#/roleAuth"
    verify_tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    # STS and SLS calls (kaitong/sls): one attempt each, at most this long (a page waits on 验证).
    aliyun_cloud_connect_timeout_ms: int = Field(default=3000, ge=100)
    aliyun_cloud_read_timeout_ms: int = Field(default=5000, ge=100)

    # SPI calls from one address (IPv6: one /64) refused before authentication in a Beijing day that are
    # answered as usual; past it they get 429 until 00:00. Signed calls are never limited.
    spi_refused_calls_per_day: int = Field(default=100, ge=1)

    # The site this deployment serves (one deployment, one site).
    site_code: str = "cn1"
    site_name: str = "中国区1（杭州）"
    dataway_url: str = "https://openway.guance.com"
    datakit_install_host: str = "https://static.guance.com"

    # Mail: the worker sends through this SMTP server.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    mail_from: str = "观测云 <no-reply@kaitong.local>"
    operator_email: str = "ops@kaitong.local"

    # SMS to a workspace's owner (kaitong/sms/backends.py): "none" (email only), "file" (the demo's sink:
    # one JSON file a message in sms_file_dir, shown by the simulator's mailbox), "locmem" (tests), or the
    # dotted path of a gateway class.
    sms_backend: str = Field(default="none", pattern=r"^(none|file|locmem|[A-Za-z_]\w*(\.[A-Za-z_]\w*)+)$")
    sms_file_dir: str = "var/sms"

    usage_api_token: str = ""

    # Secrets at rest (a buyer's AccessKey secret): "<id>:<base64 of 32 bytes>[,…]", the first seals,
    # all open (kaitong.sealing; docs/decisions/2026-11-30-data-key.md).
    data_key: str = ""

    # Metering pushes (billing): which Market API client, its timeouts, and the ledger's claim lease.
    metering_client: str = Field(default="sdk", pattern="^(sdk|recording)$")
    metering_connect_timeout_ms: int = Field(default=3000, ge=100)
    metering_read_timeout_ms: int = Field(default=10000, ge=100)
    metering_lease_seconds: int = Field(default=120, ge=1)
    metering_concurrency: int = Field(default=2, ge=1, le=16)

    # Asking the marketplace about an instance (DescribeInstanceForIsv): before an SPI expire, release or
    # resume (on the SPI's path, so briefly: the marketplace waits about 5 s in all), and in the periodic
    # reconciliation, at most so many calls a second, each instance again after so many hours.
    instance_check_client: str = Field(default="sdk", pattern="^(sdk|scripted)$")
    instance_check_timeout_ms: int = Field(default=2000, ge=100, le=4000)
    reconcile_calls_per_second: float = Field(default=5.0, gt=0, le=100)
    reconcile_interval_hours: int = Field(default=24, ge=1)

    # Jobs: a task RUNNING this long is taken to have lost its worker and runs again (at least once);
    # finished tasks are kept this many days (failed ones three times as long).
    job_lease_seconds: int = Field(default=300, ge=1)
    job_retention_days: int = Field(default=14, ge=1)

    # Waiting for the database: a request meets an unavailable database with a quick 503, not a stall.
    # PostgreSQL's connect_timeout (libpq's minimum is 2 s); how long a writer queues for SQLite's
    # write lock before "database is locked".
    database_connect_timeout_seconds: int = Field(default=3, ge=2, le=60)
    sqlite_busy_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # /readyz says "not ready" when the oldest task that is due has waited longer than this (0: the
    # queue is not checked). A verification code lives 10 minutes: 5 minutes late is already too late.
    ready_max_queue_age_seconds: int = Field(default=300, ge=0)

    # Behind a TLS-terminating proxy. HSTS max-age (unset: a year when the public URL is https, else
    # off); the header the proxy sets to the scheme the client used (unset: X-Forwarded-Proto when the
    # public URL is https; empty: none); a header carrying the proxy's request id (empty: ids are ours).
    hsts_seconds: int | None = Field(default=None, ge=0)
    proxy_ssl_header: str | None = Field(default=None, pattern=_HEADER_NAME)
    request_id_header: str = Field(default="", pattern=_HEADER_NAME)

    # Bearer token of /metrics (empty: /metrics answers 404).
    metrics_token: str = ""

    # The demo's clock (demo and tests only; refused in production): a file holding how many seconds the
    # clock runs ahead of real time, shared with the simulator, whose 已购买的服务 page moves it
    # (kaitong_base/clock.py). Empty: real time.
    clock_offset_file: str = ""

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:// or postgresql://")
        return value

    @field_validator("data_key")
    @classmethod
    def _data_keys_in_form(cls, value: str) -> str:
        if value.strip().lower() in _PLACEHOLDERS:
            return ""  # unset: filled in demo/test, refused in production (_refuse_placeholders)
        try:
            parse_data_keys(value)
        except DataKeyError as exc:
            raise ValueError(str(exc)) from None  # the message never quotes a key
        return value

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http(s):// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> AppEnv:
        if self.mode is not Mode.PRODUCTION:
            return self
        problems = []
        for name in ("secret_key", "aliyun_isv_key", "usage_api_token"):
            value = getattr(self, name)
            if value.strip().lower() in _PLACEHOLDERS or value.startswith("demo-"):
                problems.append(f"KAITONG_{name.upper()} is not set (or is a placeholder)")
            elif len(value) < 16:
                # The SPI md5 scheme is weak; a short key makes it weaker still (reliability A.2).
                problems.append(f"KAITONG_{name.upper()} must be at least 16 characters")
        data_key = self.data_key
        if data_key.lower() in _PLACEHOLDERS:
            problems.append("KAITONG_DATA_KEY is not set (or is a placeholder)")
        elif any(
            key.key_id.startswith("demo-") or key.secret == parse_data_keys(DEMO_DATA_KEY).current.secret
            for key in parse_data_keys(data_key).keys.values()
        ):
            problems.append("KAITONG_DATA_KEY holds the demo key: make one with `kaitong rotate-data-key --new-key ID`")
        if self.sms_backend == "locmem":
            problems.append(
                "KAITONG_SMS_BACKEND=locmem keeps messages in memory (tests only): use none, file or a gateway"
            )
        token = self.metrics_token
        if token and (token.strip().lower() in _PLACEHOLDERS or token.startswith("demo-") or len(token) < 16):
            # Optional, but when set it guards the operator's numbers: not a word from the README.
            problems.append("KAITONG_METRICS_TOKEN must be at least 16 characters and not a placeholder")
        if self.clock_offset_file:
            # A production clock is the machine's: bills, pushes and locks run on it.
            problems.append("KAITONG_CLOCK_OFFSET_FILE moves the clock for the demo only; unset it in production")
        if problems:
            raise ValueError("; ".join(problems) + " — set KAITONG_ENV=demo to run with demo secrets")
        return self

    @property
    def is_https(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def hsts_max_age(self) -> int:
        """Strict-Transport-Security's max-age: as configured, else a year on an https public URL."""
        if self.hsts_seconds is not None:
            return self.hsts_seconds
        return HSTS_DEFAULT_SECONDS if self.is_https else 0

    @property
    def trusted_proxy_ssl_header(self) -> str:
        """The header (if any) through which the TLS-terminating proxy says the client used https.

        An https public URL with ``kaitong serve`` (plain http) means such a proxy is in front; trusting
        its X-Forwarded-Proto only ever makes Django stricter (https Referer checks, HSTS sent)."""
        if self.proxy_ssl_header is not None:
            return self.proxy_ssl_header
        return "X-Forwarded-Proto" if self.is_https else ""

    def metering_assit_of(self, product_code: str) -> str:
        """The metering item (meteringAssit) a product's records are pushed with: each product has its own."""
        if product_code == self.aliyun_exclusive_product_code:
            return self.aliyun_exclusive_metering_assit
        return self.aliyun_metering_assit

    @property
    def var_dir(self) -> Path:
        return Path("var")


def _demo_defaults(env: AppEnv) -> AppEnv:
    """Fill unset secrets with the well-known demo values (never in production)."""
    updates = {
        "secret_key": env.secret_key or DEMO_SECRET_KEY,
        "aliyun_isv_key": env.aliyun_isv_key or DEMO_ISV_KEY,
        "aliyun_access_key_id": env.aliyun_access_key_id or DEMO_ACCESS_KEY_ID,
        "aliyun_access_key_secret": env.aliyun_access_key_secret or DEMO_ACCESS_KEY_SECRET,
        "usage_api_token": env.usage_api_token or DEMO_USAGE_API_TOKEN,
        "data_key": env.data_key or DEMO_DATA_KEY,
    }
    return env.model_copy(update=updates)


@lru_cache(maxsize=1)
def load_env() -> AppEnv:
    """Read the environment once; raise ConfigError with every problem listed."""
    try:
        env = AppEnv()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            # A field's location is its name, or for an aliased field (KAITONG_ENV) the variable itself.
            field = "_".join(str(part) for part in error["loc"]).upper()
            name = field if field.startswith("KAITONG_") else f"KAITONG_{field}"
            if not error["loc"]:
                name = "configuration"
            lines.append(f"  {name}: {error['msg']}")
        raise ConfigError("kaitong cannot start:\n" + "\n".join(lines)) from None
    if env.mode is not Mode.PRODUCTION:
        env = _demo_defaults(env)
    return env
