"""The simulator's own configuration: the same KAITONG_* variables, typed, and refused when wrong."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kaitong.config import env as vendor_env
from kaitong_sim.config import ConfigError, Mode, load_config

VARIABLES = ("KAITONG_ENV", "KAITONG_SECRET_KEY", "KAITONG_ALIYUN_ISV_KEY", "KAITONG_ALIYUN_ACCESS_KEY_ID")


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch):
    """A clean slate of the variables that matter here, and a fresh read of them."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    load_config.cache_clear()
    yield monkeypatch
    load_config.cache_clear()


def test_reads_the_variables_it_always_read(environment):
    environment.setenv("KAITONG_SIMULATOR_SPI_URL", "http://vendor.test/marketplace/aliyun/spi")
    environment.setenv("KAITONG_SIMULATOR_RETRY_SECONDS", "3")
    environment.setenv("KAITONG_SIMULATOR_MAX_ATTEMPTS", "7")
    environment.setenv("KAITONG_SIMULATOR_ENFORCE_DEADLINE", "false")
    environment.setenv("KAITONG_SIMULATOR_UNIT_PRICE", "0.02")
    environment.setenv("KAITONG_ALIYUN_METERING_ASSIT", "cmgj1-Frequency-2")
    config = load_config()
    assert config.spi_url == "http://vendor.test/marketplace/aliyun/spi"
    assert (config.retry_seconds, config.max_attempts) == (3.0, 7)
    assert config.enforce_deadline is False and config.unit_price == Decimal("0.02")
    assert config.metering_assit == "cmgj1-Frequency-2"


@pytest.mark.parametrize(
    "variable,value",
    [
        ("KAITONG_SIMULATOR_MAX_ATTEMPTS", "0"),
        ("KAITONG_SIMULATOR_RETRY_SECONDS", "soon"),
        ("KAITONG_SIMULATOR_DATABASE_URL", "mysql://localhost/sim"),
        ("KAITONG_SIMULATOR_SPI_URL", "vendor.test/spi"),
        ("KAITONG_ENV", "staging"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(environment, variable, value):
    environment.setenv(variable, value)
    with pytest.raises(ConfigError) as refused:
        load_config()
    assert variable in str(refused.value)


def test_without_kaitong_env_it_is_the_demo_with_the_vendor_demo_secrets(environment):
    """The demo's two parties must hold the same key and AccessKey pair, as Alibaba and a vendor do."""
    config = load_config()
    assert config.mode is Mode.DEMO
    assert config.isv_key == vendor_env.DEMO_ISV_KEY
    assert (config.access_key_id, config.access_key_secret) == (
        vendor_env.DEMO_ACCESS_KEY_ID,
        vendor_env.DEMO_ACCESS_KEY_SECRET,
    )


def test_production_refuses_placeholder_secrets(environment):
    environment.setenv("KAITONG_ENV", "production")
    environment.setenv("KAITONG_ALIYUN_ISV_KEY", "demo-isv-key-0123456789abcdef")
    with pytest.raises(ConfigError) as refused:
        load_config()
    for variable in VARIABLES[1:]:
        assert variable in str(refused.value)


def test_the_exclusive_edition_and_the_isv_account(environment):
    environment.setenv("KAITONG_ALIYUN_EXCLUSIVE_PRODUCT_CODE", "cmgj9")
    environment.setenv("KAITONG_ALIYUN_EXCLUSIVE_METERING_ASSIT", "cmgj9-Frequency-1")
    environment.setenv("KAITONG_ALIYUN_ISV_UID", "1888888888888888")
    environment.setenv("KAITONG_ALIYUN_SLS_ROLE", "MyRole")
    environment.setenv("KAITONG_ALIYUN_SLS_ROLE_EXTERNAL_ID", "ext")
    config = load_config()
    assert (config.exclusive_product_code, config.exclusive_metering_assit) == ("cmgj9", "cmgj9-Frequency-1")
    assert (config.isv_uid, config.sls_role, config.sls_role_external_id) == ("1888888888888888", "MyRole", "ext")


def test_the_isv_uid_must_be_a_uid(environment):
    environment.setenv("KAITONG_ALIYUN_ISV_UID", "isv")
    with pytest.raises(ConfigError, match="KAITONG_ALIYUN_ISV_UID"):
        load_config()
