"""A request's control characters never forge or break a log line (issue 10, item 7)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from django.conf import settings

from kaitong.config.logs import (
    EscapingFormatter,
    JsonFormatter,
    RequestIdFilter,
    escape_control_characters,
    request_id_var,
)


def _record(message: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("kaitong.test", logging.WARNING, __file__, 1, message, args, exc_info)  # type: ignore[arg-type]


def test_a_forged_line_stays_on_its_own_line():
    formatter = EscapingFormatter("%(levelname)s %(message)s")
    line = formatter.format(_record("SPI call %s rejected", "x\n2026-11-30 WARNING forged\x00"))
    assert "\n" not in line and "\x00" not in line
    assert line == "WARNING SPI call x\\n2026-11-30 WARNING forged\\x00 rejected"


def test_a_traceback_keeps_its_lines():
    formatter = EscapingFormatter("%(message)s")
    try:
        raise ValueError("boom")
    except ValueError:
        line = formatter.format(_record("failed: %s", "a\rb", exc_info=sys.exc_info()))
    first, *rest = line.split("\n")
    assert first == "failed: a\\rb" and rest[0].startswith("Traceback") and "ValueError: boom" in line


def test_every_control_character_is_escaped():
    assert escape_control_characters("".join(map(chr, range(32))) + "\x7f").isprintable()
    assert escape_control_characters("中文 ok\t") == "中文 ok\\t"


def test_the_configured_console_uses_it():
    """Django configured ``settings.LOGGING`` at start-up: its console handler escapes."""
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "plain"
    consoles = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    assert consoles and all(isinstance(h.formatter, EscapingFormatter) for h in consoles)


def test_a_json_line_is_one_valid_object_that_escapes_what_a_request_sent():
    token = request_id_var.set("req-0123456789")
    try:
        record = _record("SPI call %s rejected", "x\n2026-11-30 WARNING forged\x00\x7f 中文")
        RequestIdFilter().filter(record)
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    assert "\n" not in line and "\x00" not in line and "\x7f" not in line and "中文" in line
    entry = json.loads(line)
    assert entry["message"] == "SPI call x\n2026-11-30 WARNING forged\x00\x7f 中文 rejected"
    assert entry["request_id"] == "req-0123456789"
    assert entry["level"] == "WARNING" and entry["logger"] == "kaitong.test"
    assert entry["time"].endswith("+00:00")


def test_a_json_traceback_stays_inside_its_line():
    try:
        raise ValueError("boom")
    except ValueError:
        line = JsonFormatter().format(_record("failed", exc_info=sys.exc_info()))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["request_id"] is None and "ValueError: boom" in entry["exception"]


_PRODUCTION_REQUEST = """
import django
django.setup()
from django.test import Client
answer = Client().get("/no-such-page%0A2026-11-30 ERROR forged")
print(answer["X-Request-ID"])
"""


def test_production_logs_one_json_object_per_line_with_the_request_id(tmp_path):
    """A real production process: Django's own warning about a 404 (its path chosen by the client) is
    a JSON line carrying the id the response gave the client."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAITONG_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "kaitong.config.settings",
            "KAITONG_ENV": "production",
            "KAITONG_SECRET_KEY": "s" * 40,
            "KAITONG_ALIYUN_ISV_KEY": "k" * 32,
            "KAITONG_USAGE_API_TOKEN": "t" * 32,
            "KAITONG_DATA_KEY": "k1:ZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGQ=",
            "KAITONG_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", _PRODUCTION_REQUEST], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    request_id = done.stdout.strip().splitlines()[-1]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    (not_found,) = [e for e in entries if e["logger"] == "django.request"]
    assert not_found["request_id"] == request_id and len(request_id) == 32
    # (Django escapes the path itself since 5.2.2; the line would be one line either way.)
    assert not_found["message"] == "Not Found: /no-such-page\\n2026-11-30 ERROR forged"


def test_a_proxy_request_id_is_taken_only_from_the_header_the_operator_named(settings):
    from django.test import Client

    offered = {"HTTP_X_REQUEST_ID": "proxy-id-0123456789"}
    assert Client().get("/healthz", **offered)["X-Request-ID"] != "proxy-id-0123456789"
    settings.ENV = settings.ENV.model_copy(update={"request_id_header": "X-Request-ID"})
    assert Client().get("/healthz", **offered)["X-Request-ID"] == "proxy-id-0123456789"
    forged = Client().get("/healthz", HTTP_X_REQUEST_ID="x\nforged")["X-Request-ID"]
    assert forged != "x\nforged" and len(forged) == 32
