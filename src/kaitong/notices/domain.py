"""The notices kaitong sends about a workspace, what each must be told, and how an SMS is kept to one
segment. Pure: no Django, no I/O."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from kaitong.sls.domain import Problem as SlsProblem


class Notice(StrEnum):
    """What happened to a workspace that its owner is told about, in the workspace's language."""

    COUNTDOWN_STARTED = "countdown_started"  # the 14-day lock countdown began
    COUNTDOWN_ENDING = "countdown_ending"  # 3 days before the lock
    LOCKED = "locked"
    UNLOCKED = "unlocked"
    SETTLEMENT_CHANGED = "settlement_changed"
    HIGH_SPEND = "high_spend"  # 高消费预警: a daily bill item above the owner's threshold
    SLS_ACCESS_LOST = "sls_access_lost"  # the buyer's grant to their SLS stopped working (exclusive edition)


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class Cause(StrEnum):
    """Why a workspace counts down to its lock (or is locked)."""

    INSTANCE_EXPIRED = "instance_expired"
    INSTANCE_RELEASED = "instance_released"
    UNPAID_BILL = "unpaid_bill"


class UnlockReason(StrEnum):
    INSTANCE_RENEWED = "instance_renewed"
    INSTANCE_RESUMED = "instance_resumed"
    SETTLEMENT_MOVED = "settlement_moved"
    BILL_PAID = "bill_paid"


class Settlement(StrEnum):
    """The settlement methods as the notices name them (the workspace's own column's values)."""

    BILLING_ACCOUNT = "billing_account"
    ALIYUN = "aliyun"


def mail_language(workspace_language: str) -> str:
    """The Django language of a workspace's notices: the workspace's own (zh/en), never the reader's browser."""
    return "en" if workspace_language == "en" else "zh-hans"


# --- what a notice must be told -------------------------------------------------------------------------


class BadNoticeContext(ValueError):
    """The context does not hold what the notice's templates need; the message lists every problem."""


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LOCK = {"locks_on": "day", "cause": Cause}
REQUIRED: dict[Notice, dict[str, Any]] = {
    Notice.COUNTDOWN_STARTED: _LOCK,
    Notice.COUNTDOWN_ENDING: _LOCK,
    Notice.LOCKED: _LOCK,
    Notice.UNLOCKED: {"reason": UnlockReason},
    Notice.SETTLEMENT_CHANGED: {"from_settlement": Settlement, "to_settlement": Settlement},
    Notice.HIGH_SPEND: {"day": "day", "item": "text", "amount": "money", "threshold": "money"},
    Notice.SLS_ACCESS_LOST: {"ali_uid": "text", "problem": SlsProblem},
}
# Keys a caller may leave out: ``instance_id`` ("" or absent: no instance line), ``unlock_url`` (a one-time
# link the locked notice then carries instead of the console's).
OPTIONAL: dict[Notice, dict[str, Any]] = {
    Notice.COUNTDOWN_STARTED: {"instance_id": "text"},
    Notice.COUNTDOWN_ENDING: {"instance_id": "text"},
    Notice.LOCKED: {"instance_id": "text", "unlock_url": "url"},
    Notice.SETTLEMENT_CHANGED: {"instance_id": "text"},
    Notice.SLS_ACCESS_LOST: {"project": "text"},
}


def _problem(key: str, kind: Any, value: Any) -> str | None:
    if not isinstance(value, str):
        return f"{key}: must be a string, not {type(value).__name__}"
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        allowed = [member.value for member in kind]
        return None if value in allowed else f"{key}: {value!r} is not one of {', '.join(allowed)}"
    if kind == "day":
        try:
            date.fromisoformat(value)
        except ValueError:
            return f"{key}: {value!r} is not a day (YYYY-MM-DD)"
        return None if _DAY.match(value) else f"{key}: {value!r} is not a day (YYYY-MM-DD)"
    if kind == "money":
        try:
            amount = Decimal(value)
        except InvalidOperation:
            return f"{key}: {value!r} is not an amount"
        return None if amount.is_finite() and amount >= 0 else f"{key}: {value!r} is not an amount"
    if kind == "url":
        return None if value.startswith(("http://", "https://")) else f"{key}: {value!r} is not an absolute URL"
    return None


def context_problems(notice: Notice, context: Mapping[str, Any]) -> list[str]:
    """Every way ``context`` falls short of what ``notice`` needs (empty: it is fine). Keys beyond the
    agreed ones are allowed and ignored by the templates."""
    problems = []
    for key, kind in REQUIRED[notice].items():
        if key not in context:
            problems.append(f"{key}: missing")
        elif (problem := _problem(key, kind, context[key])) is not None:
            problems.append(problem)
    for key, kind in OPTIONAL.get(notice, {}).items():
        if key in context and (problem := _problem(key, kind, context[key])) is not None:
            problems.append(problem)
    return problems


# --- SMS: one segment ------------------------------------------------------------------------------------

# A text with any character outside GSM 03.38 (every Chinese one) travels as UCS-2: 70 characters fill
# one segment. An English text could take 160, but a workspace name may be Chinese whatever the
# workspace's language, so both languages are held to 70.
SMS_MAX_CHARS = 70
# A value shortened to fit keeps at least this many characters (its ellipsis included).
SMS_FLOOR_CHARS = 6
ELLIPSIS = "…"


def sms_length(text: str) -> int:
    """Characters as a carrier counts them: UTF-16 code units (an emoji outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def shorten(value: str, length: int) -> str:
    """``value`` cut to ``length`` characters, the last being an ellipsis when something was cut."""
    if sms_length(value) <= length:
        return value
    kept = ""
    for character in value:
        if sms_length(kept + character) > length - 1:
            break
        kept += character
    return kept + ELLIPSIS


def fit_sms(render: Callable[[Mapping[str, str]], str], elastic: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """Render an SMS within ``SMS_MAX_CHARS``: the ``elastic`` values (a workspace's name, an item's name)
    give way, the longest first and never below the next longest in one step (so two long values end up
    about as long as each other), down to ``SMS_FLOOR_CHARS`` each; the template's own words never do.
    Return the text and the values it was rendered with. Should the elastic values at their floor still
    not fit (a template too long: its test says so), the text itself is cut."""
    values = dict(elastic)
    text = render(values)
    while sms_length(text) > SMS_MAX_CHARS:
        by_length = sorted(values, key=lambda k: sms_length(values[k]), reverse=True)
        key = by_length[0]
        longest = sms_length(values[key])
        if longest <= SMS_FLOOR_CHARS:
            return shorten(text, SMS_MAX_CHARS), values
        runner_up = sms_length(values[by_length[1]]) if len(by_length) > 1 else 0
        overflow = sms_length(text) - SMS_MAX_CHARS
        target = max(SMS_FLOOR_CHARS, longest - overflow, runner_up)
        values[key] = shorten(values[key], target if target < longest else longest - 1)
        text = render(values)
    return text, values


# --- recipients --------------------------------------------------------------------------------------------


def phone_number(raw: str) -> str:
    """A phone number as a gateway takes it: digits, a leading + kept, spaces and dashes dropped."""
    stripped = raw.strip()
    digits = re.sub(r"\D", "", stripped)
    return ("+" + digits) if stripped.startswith("+") and digits else digits


def mask_email(address: str) -> str:
    """``owner@example.com`` → ``o***r@example.com``: enough to tell two owners apart, not to write to one."""
    local, at, domain = address.partition("@")
    if not at:
        return "***"
    shown = local[0] + "***" + local[-1] if len(local) > 2 else local[:1] + "***"
    return f"{shown}@{domain}"


def mask_phone(number: str) -> str:
    """``+8613800138000`` → ``+86138****8000``: the first digits (country, carrier) and the last four."""
    if len(number) < 8:
        return "***" + number[-2:]
    return number[:-8] + "****" + number[-4:] if len(number) > 11 else number[:3] + "****" + number[-4:]


def mask_recipient(channel: Channel | str, recipient: str) -> str:
    return mask_phone(recipient) if channel == Channel.SMS else mask_email(recipient)
