"""The typed configuration fails fast and refuses placeholder secrets outside demo and test."""

import base64

import pytest

from kaitong.config import env as env_module
from kaitong.config.env import ConfigError, load_env

STRONG = {
    "KAITONG_SECRET_KEY": "s" * 40,
    "KAITONG_ALIYUN_ISV_KEY": "k" * 32,
    "KAITONG_USAGE_API_TOKEN": "t" * 32,
    "KAITONG_DATA_KEY": "k1:" + base64.b64encode(b"d" * 32).decode(),
}


@pytest.fixture
def environment(monkeypatch):  # type: ignore[no-untyped-def]
    for name in list(__import__("os").environ):
        if name.startswith("KAITONG_"):
            monkeypatch.delenv(name)
    load_env.cache_clear()
    yield monkeypatch
    load_env.cache_clear()


class TestLoadEnv:
    def test_production_with_real_secrets_loads(self, environment):
        for name, value in STRONG.items():
            environment.setenv(name, value)
        env = load_env()
        assert env.mode is env_module.Mode.PRODUCTION
        assert env.database_url.startswith("sqlite://")

    def test_production_refuses_missing_and_demo_secrets(self, environment):
        environment.setenv("KAITONG_ALIYUN_ISV_KEY", env_module.DEMO_ISV_KEY)
        with pytest.raises(ConfigError) as error:
            load_env()
        message = str(error.value)
        assert "KAITONG_SECRET_KEY is not set" in message
        assert "KAITONG_ALIYUN_ISV_KEY is not set" in message

    def test_short_isv_key_is_refused(self, environment):
        for name, value in STRONG.items():
            environment.setenv(name, value)
        environment.setenv("KAITONG_ALIYUN_ISV_KEY", "short")
        with pytest.raises(ConfigError, match="at least 16 characters"):
            load_env()

    def test_sms_backend_is_none_file_or_a_class_and_never_memory_in_production(self, environment):
        for name, value in STRONG.items():
            environment.setenv(name, value)
        assert load_env().sms_backend == "none"
        environment.setenv("KAITONG_SMS_BACKEND", "example_gateway.aliyun.AliyunSms")
        load_env.cache_clear()
        assert load_env().sms_backend == "example_gateway.aliyun.AliyunSms"
        environment.setenv("KAITONG_SMS_BACKEND", "locmem")
        load_env.cache_clear()
        with pytest.raises(ConfigError, match="KAITONG_SMS_BACKEND=locmem keeps messages in memory"):
            load_env()
        environment.setenv("KAITONG_SMS_BACKEND", "smtp://nope")
        load_env.cache_clear()
        with pytest.raises(ConfigError, match=r"sms_backend|KAITONG_SMS_BACKEND"):
            load_env()

    def test_bad_values_name_the_variable(self, environment):
        environment.setenv("KAITONG_ENV", "demo")
        environment.setenv("KAITONG_DATABASE_URL", "mysql://x")
        environment.setenv("KAITONG_SMTP_PORT", "not-a-port")
        with pytest.raises(ConfigError) as error:
            load_env()
        assert "KAITONG_DATABASE_URL" in str(error.value) and "KAITONG_SMTP_PORT" in str(error.value)

    def test_bad_mode_names_kaitong_env(self, environment):
        environment.setenv("KAITONG_ENV", "prod")
        with pytest.raises(ConfigError) as error:
            load_env()
        assert "  KAITONG_ENV:" in str(error.value) and "KAITONG_KAITONG" not in str(error.value)

    def test_demo_fills_in_demo_secrets(self, environment):
        environment.setenv("KAITONG_ENV", "demo")
        env = load_env()
        assert env.aliyun_isv_key == env_module.DEMO_ISV_KEY and env.secret_key


class TestDataKey:
    """KAITONG_DATA_KEY seals secrets at rest: production needs a real one, demo and test get a known one."""

    def production(self, environment, value):
        for name, strong in STRONG.items():
            environment.setenv(name, strong)
        environment.setenv("KAITONG_DATA_KEY", value)
        with pytest.raises(ConfigError) as error:
            load_env()
        return str(error.value)

    @pytest.mark.parametrize("value", ["", "change-me", " TODO "])
    def test_production_refuses_it_missing_or_a_placeholder(self, environment, value):
        assert "KAITONG_DATA_KEY is not set (or is a placeholder)" in self.production(environment, value)

    def test_production_refuses_the_demo_key_or_a_demo_id(self, environment):
        assert "KAITONG_DATA_KEY holds the demo key" in self.production(environment, env_module.DEMO_DATA_KEY)
        load_env.cache_clear()
        demo_id = "demo-2:" + base64.b64encode(b"x" * 32).decode()
        assert "KAITONG_DATA_KEY holds the demo key" in self.production(
            environment, f"{STRONG['KAITONG_DATA_KEY']},{demo_id}"
        )
        load_env.cache_clear()
        same_key = "mine:" + env_module.DEMO_DATA_KEY.split(":")[1]
        assert "KAITONG_DATA_KEY holds the demo key" in self.production(environment, same_key)

    def test_a_malformed_or_short_key_is_refused_in_every_mode_naming_the_variable(self, environment):
        short = "k1:" + base64.b64encode(b"d" * 16).decode()
        message = self.production(environment, short)
        assert "KAITONG_DATA_KEY" in message and "must be 32 bytes (it is 16)" in message
        assert base64.b64encode(b"d" * 16).decode() not in message
        environment.setenv("KAITONG_ENV", "demo")
        environment.setenv("KAITONG_DATA_KEY", "k1")
        load_env.cache_clear()
        with pytest.raises(ConfigError, match=r"KAITONG_DATA_KEY.*must be <id>:<base64 of 32 bytes>"):
            load_env()

    def test_production_takes_a_real_keyring(self, environment):
        for name, value in STRONG.items():
            environment.setenv(name, value)
        environment.setenv(
            "KAITONG_DATA_KEY", "k2:" + base64.b64encode(b"e" * 32).decode() + "," + STRONG["KAITONG_DATA_KEY"]
        )
        assert load_env().data_key.startswith("k2:")

    @pytest.mark.parametrize("value", [None, "change-me"])
    def test_demo_gets_the_well_known_demo_key(self, environment, value):
        environment.setenv("KAITONG_ENV", "demo")
        if value is not None:
            environment.setenv("KAITONG_DATA_KEY", value)
        assert load_env().data_key == env_module.DEMO_DATA_KEY


class TestExclusiveProduct:
    def test_each_product_is_pushed_with_its_own_metering_item(self, environment):
        environment.setenv("KAITONG_ENV", "demo")
        env = load_env()
        assert env.metering_assit_of("cmgj00053362") == "cmgj00053362-Frequency-1"
        assert env.metering_assit_of("cmgj00060481") == "cmgj00060481-Frequency-1"
        environment.setenv("KAITONG_ALIYUN_EXCLUSIVE_PRODUCT_CODE", "cmgjX")
        environment.setenv("KAITONG_ALIYUN_EXCLUSIVE_METERING_ASSIT", "cmgjX-Frequency-2")
        load_env.cache_clear()
        env = load_env()
        assert env.metering_assit_of("cmgjX") == "cmgjX-Frequency-2"
        assert env.metering_assit_of("cmgj00060481") == env.aliyun_metering_assit


def test_serve_refuses_to_start_with_placeholder_secrets(tmp_path):
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if not k.startswith("KAITONG_")}
    result = subprocess.run(
        [sys.executable, "-m", "kaitong.cli", "serve", "--port", "1"],
        env=clean,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "KAITONG_SECRET_KEY is not set" in result.stderr


def test_https_public_url_gives_secure_host_only_cookies(tmp_path):
    import os
    import subprocess
    import sys

    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_NAME, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_NAME, s.CSRF_COOKIE_SECURE)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAITONG_")}
    env.update(
        KAITONG_ENV="demo",
        KAITONG_PUBLIC_URL="https://kaitong.example.com",
        DJANGO_SETTINGS_MODULE="kaitong.config.settings",
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.split() == ["__Host-kaitong-session", "True", "__Host-kaitong-csrf", "True"]


class TestBehindAProxy:
    """HSTS and the proxy's scheme header follow the public URL unless the operator says otherwise."""

    def test_https_public_url_means_a_year_of_hsts_and_x_forwarded_proto(self, environment):
        environment.setenv("KAITONG_ENV", "demo")
        environment.setenv("KAITONG_PUBLIC_URL", "https://kaitong.example.com")
        env = load_env()
        assert env.hsts_max_age == 365 * 24 * 3600
        assert env.trusted_proxy_ssl_header == "X-Forwarded-Proto"

    def test_plain_http_means_neither(self, environment):
        environment.setenv("KAITONG_ENV", "demo")
        env = load_env()
        assert env.hsts_max_age == 0 and env.trusted_proxy_ssl_header == ""

    def test_the_operator_can_turn_both_off_or_choose(self, environment):
        environment.setenv("KAITONG_ENV", "demo")
        environment.setenv("KAITONG_PUBLIC_URL", "https://kaitong.example.com")
        environment.setenv("KAITONG_HSTS_SECONDS", "0")
        environment.setenv("KAITONG_PROXY_SSL_HEADER", "")
        env = load_env()
        assert env.hsts_max_age == 0 and env.trusted_proxy_ssl_header == ""
        load_env.cache_clear()
        environment.setenv("KAITONG_PROXY_SSL_HEADER", "X-Forwarded-Scheme")
        assert load_env().trusted_proxy_ssl_header == "X-Forwarded-Scheme"

    def test_a_header_name_that_is_not_one_is_refused(self, environment):
        environment.setenv("KAITONG_ENV", "demo")
        environment.setenv("KAITONG_PROXY_SSL_HEADER", "X-Forwarded-Proto: https")
        with pytest.raises(ConfigError, match="KAITONG_PROXY_SSL_HEADER"):
            load_env()


class TestMetricsToken:
    def test_unset_is_fine_and_a_weak_one_is_refused_in_production(self, environment):
        for name, value in STRONG.items():
            environment.setenv(name, value)
        assert load_env().metrics_token == ""
        load_env.cache_clear()
        environment.setenv("KAITONG_METRICS_TOKEN", "short")
        with pytest.raises(ConfigError, match="KAITONG_METRICS_TOKEN must be at least 16"):
            load_env()
        load_env.cache_clear()
        environment.setenv("KAITONG_METRICS_TOKEN", "m" * 32)
        assert load_env().metrics_token == "m" * 32
