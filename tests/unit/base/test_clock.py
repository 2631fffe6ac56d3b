"""The demo's clock: an offset file every demo process reads, that only moves forward, refused in production."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kaitong_base import clock


@pytest.fixture
def offset_file(tmp_path):
    yield tmp_path / "clock-offset"
    clock.uninstall()


def test_no_file_is_real_time(offset_file):
    assert clock.read_offset(offset_file) == timedelta(0)


def test_advance_adds_up_and_never_goes_back(offset_file):
    assert clock.advance(offset_file, timedelta(days=3)) == timedelta(days=3)
    assert clock.advance(offset_file, timedelta(days=14)) == timedelta(days=17)
    assert clock.read_offset(offset_file) == timedelta(days=17)
    with pytest.raises(clock.ClockOffsetError):
        clock.advance(offset_file, timedelta(days=-1))
    with pytest.raises(clock.ClockOffsetError):
        clock.advance(offset_file, clock.MAX_OFFSET)
    assert clock.read_offset(offset_file) == timedelta(days=17)


@pytest.mark.parametrize("text", ["-5", "1.5", "ten", "9" * 12, ""])
def test_an_unreadable_offset_counts_as_none(offset_file, text):
    offset_file.write_text(text)
    assert clock.read_offset(offset_file) == timedelta(0)


def test_installed_every_reader_of_django_time_moves(offset_file, monkeypatch):
    monkeypatch.setattr(clock, "REREAD_SECONDS", 0)
    real = clock.real_now()
    clock.install(offset_file)
    assert clock.installed() is not None
    assert abs(timezone.now() - real) < timedelta(seconds=5)
    clock.advance(offset_file, timedelta(days=14))
    # Read through the module attribute, as every caller reads it.
    assert timedelta(days=14) <= timezone.now() - real < timedelta(days=14, seconds=5)
    assert abs(clock.real_now() - real) < timedelta(seconds=5)
    clock.uninstall()
    assert clock.installed() is None and abs(timezone.now() - real) < timedelta(seconds=5)


def test_the_vendor_refuses_it_in_production(monkeypatch):
    from kaitong.config import env

    for name, value in {
        "KAITONG_ENV": "production",
        "KAITONG_SECRET_KEY": "a-real-secret-key-of-length",
        "KAITONG_ALIYUN_ISV_KEY": "a-real-isv-key-of-length",
        "KAITONG_USAGE_API_TOKEN": "a-real-usage-token-of-length",
        "KAITONG_CLOCK_OFFSET_FILE": "var/demo-clock-offset",
    }.items():
        monkeypatch.setenv(name, value)
    env.load_env.cache_clear()
    try:
        with pytest.raises(env.ConfigError, match="KAITONG_CLOCK_OFFSET_FILE"):
            env.load_env()
        monkeypatch.setenv("KAITONG_ENV", "demo")
        env.load_env.cache_clear()
        assert env.load_env().clock_offset_file == "var/demo-clock-offset"
    finally:
        env.load_env.cache_clear()


def test_the_simulator_refuses_it_in_production(monkeypatch):
    from kaitong_sim import config

    for name, value in {
        "KAITONG_ENV": "production",
        "KAITONG_SECRET_KEY": "a-real-secret-key-of-length",
        "KAITONG_ALIYUN_ISV_KEY": "a-real-isv-key-of-length",
        "KAITONG_ALIYUN_ACCESS_KEY_ID": "real-id",
        "KAITONG_ALIYUN_ACCESS_KEY_SECRET": "real-secret-of-length",
        "KAITONG_CLOCK_OFFSET_FILE": "var/demo-clock-offset",
    }.items():
        monkeypatch.setenv(name, value)
    config.load_config.cache_clear()
    try:
        with pytest.raises(config.ConfigError, match="KAITONG_CLOCK_OFFSET_FILE"):
            config.load_config()
    finally:
        config.load_config.cache_clear()


def test_a_process_sees_its_own_step_at_once(offset_file):
    real = clock.real_now()
    clock.install(offset_file)  # re-read only every REREAD_SECONDS otherwise
    clock.advance(offset_file, timedelta(days=1))
    assert timezone.now() - real >= timedelta(days=1)
