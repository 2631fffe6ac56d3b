"""A request's control characters never forge or break a log line (issue 10, item 7)."""

from __future__ import annotations

import logging
import sys

from django.conf import settings

from kaitong.config.logs import EscapingFormatter, escape_control_characters


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
