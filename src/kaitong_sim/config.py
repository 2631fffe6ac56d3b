"""The simulator's one typed configuration, read from the same ``KAITONG_*`` variables as always.

The simulator plays Alibaba Cloud Marketplace, so it holds what the marketplace holds: the ISV key it
signs SPI calls and 免登 links with, the one AccessKey pair its OpenAPI accepts, the billing-item ID
(``meteringAssit``) a product must carry, and where the vendor's SPI endpoint is. It reads these itself
(never through the vendor's configuration), and a bad value stops it at start-up with a message naming
the variable.

Without ``KAITONG_ENV`` it runs as ``demo``: the simulator is never a production process. In ``demo``
and ``test`` it fills unset secrets with the well-known demo values, the same ones the vendor's demo
uses, because in the demo the two parties must share the ISV key and the AccessKey pair as a real
vendor and Alibaba do. To test a real vendor deployment, set ``KAITONG_ENV=production`` and that
deployment's key and pair: then placeholders are refused.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The demo's well-known values (the vendor's demo fills in the same ones); refused in production.
DEMO_SECRET_KEY = "demo-insecure-secret-key-never-use-in-production-0123456789"  # noqa: S105
DEMO_ISV_KEY = "demo-isv-key-0123456789abcdef"
DEMO_ACCESS_KEY_ID = "demo-access-key-id"
DEMO_ACCESS_KEY_SECRET = "demo-access-key-secret-0123456789"  # noqa: S105

_PLACEHOLDERS = {"", "change-me", "changeme", "secret", "xxx", "todo"}


class Mode(StrEnum):
    PRODUCTION = "production"
    DEMO = "demo"
    TEST = "test"


class ConfigError(Exception):
    """The environment does not describe a runnable simulator; the message says what to fix."""


class SimulatorConfig(BaseSettings):
    """Every field names the variable it is read from."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    mode: Mode = Field(default=Mode.DEMO, alias="KAITONG_ENV")
    secret_key: str = Field(default="", alias="KAITONG_SECRET_KEY")  # signs the buyer's session cookie
    debug: bool = Field(default=False, alias="KAITONG_DEBUG")
    database_url: str = Field(default="sqlite:///var/simulator.sqlite3", alias="KAITONG_SIMULATOR_DATABASE_URL")

    # What the marketplace and the vendor share.
    isv_key: str = Field(default="", alias="KAITONG_ALIYUN_ISV_KEY")
    access_key_id: str = Field(default="", alias="KAITONG_ALIYUN_ACCESS_KEY_ID")
    access_key_secret: str = Field(default="", alias="KAITONG_ALIYUN_ACCESS_KEY_SECRET")
    product_code: str = Field(default="cmgj00053362", alias="KAITONG_ALIYUN_PRODUCT_CODE")
    metering_assit: str = Field(default="cmgj00053362-Frequency-1", alias="KAITONG_ALIYUN_METERING_ASSIT")
    # The second product, the exclusive edition (专属版, data in the buyer's own SLS): sold and metered
    # the same way, with its own billing item.
    exclusive_product_code: str = Field(default="cmgj00060481", alias="KAITONG_ALIYUN_EXCLUSIVE_PRODUCT_CODE")
    exclusive_metering_assit: str = Field(
        default="cmgj00060481-Frequency-1", alias="KAITONG_ALIYUN_EXCLUSIVE_METERING_ASSIT"
    )

    # The buyer's Alibaba account (STS and SLS, see cloud.py): who the ISV is there, and the role
    # template the marketplace's 第三方快捷授权 creates in a buyer's account.
    isv_uid: str = Field(default="1999999999999999", alias="KAITONG_ALIYUN_ISV_UID")  # owns the ISV's AccessKey
    sls_role: str = Field(default="AliyunMarketGuanceSLSRole", alias="KAITONG_ALIYUN_SLS_ROLE")
    sls_role_external_id: str = Field(default="guance-sls", alias="KAITONG_ALIYUN_SLS_ROLE_EXTERNAL_ID")

    # SPI delivery: where, how long to wait for an answer, how often and how many times to try.
    spi_url: str = Field(default="http://127.0.0.1:8000/marketplace/aliyun/spi", alias="KAITONG_SIMULATOR_SPI_URL")
    spi_timeout_seconds: float = Field(default=5.0, gt=0, alias="KAITONG_SIMULATOR_SPI_TIMEOUT_SECONDS")
    retry_seconds: float = Field(default=10.0, gt=0, alias="KAITONG_SIMULATOR_RETRY_SECONDS")
    max_attempts: int = Field(default=120, ge=1, alias="KAITONG_SIMULATOR_MAX_ATTEMPTS")

    # The fake Market OpenAPI's rules and the buyer's bill.
    require_metering_assit: bool = Field(default=True, alias="KAITONG_SIMULATOR_REQUIRE_METERING_ASSIT")
    enforce_deadline: bool = Field(default=True, alias="KAITONG_SIMULATOR_ENFORCE_DEADLINE")
    unit_price: Decimal = Field(default=Decimal("0.01"), ge=0, alias="KAITONG_SIMULATOR_UNIT_PRICE")
    # Lookups (DescribeInstanceForIsv, DescribeOrderForIsv) answered per AccessKey per second; more are
    # refused with Throttling.User. Alibaba publishes no figure: an assumption, kept low on purpose.
    lookups_per_second: int = Field(default=10, ge=1, alias="KAITONG_SIMULATOR_LOOKUPS_PER_SECOND")
    mailbox_dir: str = Field(default="", alias="KAITONG_SIMULATOR_MAILBOX_DIR")  # the demo's stored mail
    sms_dir: str = Field(default="", alias="KAITONG_SIMULATOR_SMS_DIR")  # the vendor's SMS sink (its JSON files)
    # The demo's clock, shared with the vendor (kaitong_base/clock.py): 已购买的服务 moves it forward.
    # Demo and tests only; refused in production. Empty: real time, and the page has no clock control.
    clock_offset_file: str = Field(default="", alias="KAITONG_CLOCK_OFFSET_FILE")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:// or postgresql://")
        return value

    @field_validator("isv_uid")
    @classmethod
    def _uid(cls, value: str) -> str:
        if not value.isdigit() or not 6 <= len(value) <= 20:
            raise ValueError("must be an Alibaba Cloud account UID (6–20 digits)")
        return value

    @field_validator("spi_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http(s):// URL")
        return value

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> SimulatorConfig:
        if self.mode is not Mode.PRODUCTION:
            return self
        problems = []
        if self.clock_offset_file:
            problems.append("KAITONG_CLOCK_OFFSET_FILE moves the clock for the demo only; unset it in production")
        for name, variable in (
            ("secret_key", "KAITONG_SECRET_KEY"),
            ("isv_key", "KAITONG_ALIYUN_ISV_KEY"),
            ("access_key_id", "KAITONG_ALIYUN_ACCESS_KEY_ID"),
            ("access_key_secret", "KAITONG_ALIYUN_ACCESS_KEY_SECRET"),
        ):
            value = getattr(self, name)
            if value.strip().lower() in _PLACEHOLDERS or value.startswith("demo-"):
                problems.append(f"{variable} is not set (or is a placeholder)")
        if problems:
            raise ValueError("; ".join(problems) + " — leave KAITONG_ENV unset (demo) to run with demo secrets")
        return self


def _with_demo_secrets(config: SimulatorConfig) -> SimulatorConfig:
    return config.model_copy(
        update={
            "secret_key": config.secret_key or DEMO_SECRET_KEY,
            "isv_key": config.isv_key or DEMO_ISV_KEY,
            "access_key_id": config.access_key_id or DEMO_ACCESS_KEY_ID,
            "access_key_secret": config.access_key_secret or DEMO_ACCESS_KEY_SECRET,
        }
    )


@lru_cache(maxsize=1)
def load_config() -> SimulatorConfig:
    """Read the environment once; raise ConfigError listing every bad variable."""
    try:
        config = SimulatorConfig()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            # Each field's location is its alias, the variable itself; a whole-model error has none.
            variable = ".".join(str(part) for part in error["loc"]) or "configuration"
            lines.append(f"  {variable}: {error['msg']}")
        raise ConfigError("the marketplace simulator cannot start:\n" + "\n".join(lines)) from None
    if config.mode is not Mode.PRODUCTION:
        config = _with_demo_secrets(config)
    return config
