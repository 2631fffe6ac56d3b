"""Pure rules for usernames and email verification codes (DESIGN.md, reliability C.10–C.14).

No Django, no I/O, no clock: callers pass ``now`` and the values read from storage, and get back a
value or a named exception. The numbers here are the whole policy; tests read them from this module.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

USERNAME_MIN = 4
USERNAME_MAX = 32
_USERNAME = re.compile(r"^[a-z][a-z0-9_.\-]*$")

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=10)
CODE_MAX_TRIES = 5  # wrong tries on one code; the 5th burns it
RESEND_COOLDOWN = timedelta(seconds=60)
CODES_PER_EMAIL_PER_HOUR = 5
CODES_PER_IP_PER_HOUR = 20
# Wrong codes per (email, purpose) in a rolling hour, over every code issued: a new code does not
# reset this, so resending cannot buy more guesses than this ceiling.
FAILURES_PER_HOUR = 10
HOUR = timedelta(hours=1)

# A username-taken answer reveals that an account exists; it is unavoidable at registration, so each
# client address gets at most this many of them an hour (reliability C.13).
TAKEN_ANSWERS_PER_IP_PER_HOUR = 20

# Console passwords, single-factor, as NIST SP 800-63B-4 §3.1.1.2 says: at least 15 characters, at
# least 64 accepted (here 128), no composition rules; a blocklist of common, breached and guessable
# passwords (settings.AUTH_PASSWORD_VALIDATORS). Guessable: zxcvbn estimates fewer guesses than this,
# its "score 3" line; it reads at most the first GUESS_CHECK_MAX characters (its cost grows with length).
PASSWORD_MIN_LENGTH = 15
PASSWORD_MAX_LENGTH = 128
PASSWORD_MIN_GUESSES = 10**8
GUESS_CHECK_MAX = 72

# Failed console sign-ins an hour: per username (so a password cannot be guessed from many addresses)
# and per client address (so one address cannot sweep many usernames). Reliability C.18.
SIGN_IN_FAILURES_PER_USERNAME_PER_HOUR = 10
SIGN_IN_FAILURES_PER_IP_PER_HOUR = 30


class Purpose(StrEnum):
    """What a code proves; a code issued for one purpose fails for every other."""

    BIND_BILLING_ACCOUNT = "bind_billing_account"
    BIND_WORKSPACE = "bind_workspace"
    CREATE_WORKSPACE = "create_workspace"
    REGISTER = "register"


class UsernameRule(StrEnum):
    """The rule a username breaks."""

    LENGTH = "length"
    CHARSET = "charset"
    START = "start"


class UsernameError(ValueError):
    """The username breaks a rule; ``reason`` says which (UsernameRule)."""

    def __init__(self, reason: UsernameRule) -> None:
        super().__init__(reason.value)
        self.reason = reason


def canonical_username(raw: str) -> str:
    """Return the stored form of ``raw`` (NFKC, lower-case) or raise UsernameError.

    Compatibility mapping first, so look-alikes such as ``ᴮᴵᴳᴮᴵᴿᴰ`` collide with ``bigbird`` instead of
    becoming a second account; then an ASCII allowlist. Idempotent: canonical(canonical(x)) == canonical(x).
    """
    value = unicodedata.normalize("NFKC", raw.strip()).lower()
    value = unicodedata.normalize("NFKC", value)
    if not USERNAME_MIN <= len(value) <= USERNAME_MAX:
        raise UsernameError(UsernameRule.LENGTH)
    if not value.isascii() or not re.fullmatch(r"[a-z0-9_.\-]+", value):
        raise UsernameError(UsernameRule.CHARSET)
    if not _USERNAME.match(value):
        raise UsernameError(UsernameRule.START)
    return value


def new_code() -> str:
    """Six digits from the OS's CSPRNG (about 20 bits)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_digest(code: str, *, key: str, email: str, purpose: str) -> str:
    """Keyed HMAC-SHA256 of the code, bound to its email and purpose; the code itself is never stored."""
    message = f"{purpose}\x00{email.lower()}\x00{code}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def normalise_email(raw: str) -> str:
    """Emails compare case-insensitively here; the domain part always does, the local part in practice."""
    return raw.strip().lower()


class IssueLimit(StrEnum):
    """The limit that keeps a new code from being sent now."""

    COOLDOWN = "cooldown"
    EMAIL_CAP = "email_cap"
    IP_CAP = "ip_cap"


class IssueRefused(Exception):
    """A new code cannot be sent now; ``reason`` says why (IssueLimit), ``retry_after`` is whole seconds to wait."""

    def __init__(self, reason: IssueLimit, retry_after: int) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.retry_after = retry_after


def check_issue(
    *,
    now: datetime,
    last_sent_at: datetime | None,
    sent_to_email_last_hour: list[datetime],
    sent_from_ip_last_hour: list[datetime],
) -> None:
    """Raise IssueRefused unless a code may be sent at ``now``."""
    if last_sent_at is not None and now - last_sent_at < RESEND_COOLDOWN:
        raise IssueRefused(IssueLimit.COOLDOWN, _seconds(last_sent_at + RESEND_COOLDOWN - now))
    if len(sent_to_email_last_hour) >= CODES_PER_EMAIL_PER_HOUR:
        raise IssueRefused(IssueLimit.EMAIL_CAP, _seconds(min(sent_to_email_last_hour) + HOUR - now))
    if len(sent_from_ip_last_hour) >= CODES_PER_IP_PER_HOUR:
        raise IssueRefused(IssueLimit.IP_CAP, _seconds(min(sent_from_ip_last_hour) + HOUR - now))


def _seconds(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() + 0.999))


class Verdict(StrEnum):
    OK = "ok"
    MISSING = "missing"  # no code was ever sent for this email and purpose
    EXPIRED = "expired"
    USED = "used"
    BURNED = "burned"  # too many wrong tries on this code
    LOCKED = "locked"  # too many wrong tries on this email and purpose this hour
    WRONG = "wrong"


@dataclass(frozen=True)
class StoredCode:
    digest: str
    expires_at: datetime
    used_at: datetime | None
    failures: int


def judge_code(
    *, stored: StoredCode | None, given: str, key: str, email: str, purpose: str, now: datetime, failures_last_hour: int
) -> Verdict:
    """Decide what a submitted code is worth. Only the newest code for (email, purpose) is ever passed in."""
    if stored is None:
        return Verdict.MISSING
    if failures_last_hour >= FAILURES_PER_HOUR:
        return Verdict.LOCKED
    if stored.used_at is not None:
        return Verdict.USED
    if stored.failures >= CODE_MAX_TRIES:
        return Verdict.BURNED
    if now >= stored.expires_at:
        return Verdict.EXPIRED
    candidate = code_digest(given.strip(), key=key, email=email, purpose=purpose)
    if not hmac.compare_digest(candidate, stored.digest):
        return Verdict.WRONG
    return Verdict.OK


def tries_left(failures_after: int) -> int:
    return max(0, CODE_MAX_TRIES - failures_after)


def counting_since(now: datetime) -> datetime:
    """Codes created after this still count toward FAILURES_PER_HOUR: a code's wrong tries happen
    within its lifetime, so the hour is reckoned from its creation plus that lifetime."""
    return now - HOUR - CODE_LIFETIME


def locked_for(*, counting: list[tuple[datetime, int]], now: datetime) -> int:
    """Whole seconds until (email, purpose) takes codes again (0: it does now), given the codes that
    still count ((created_at, failures), created after ``counting_since``): the oldest age out first."""
    remaining = sum(failures for _, failures in counting)
    if remaining < FAILURES_PER_HOUR:
        return 0
    for created_at, failures in sorted(counting):
        remaining -= failures
        if remaining < FAILURES_PER_HOUR:
            return _seconds(created_at + HOUR + CODE_LIFETIME - now)
    raise AssertionError("unreachable: once every code aged out, nothing counts")


# -- forms submitted once ---------------------------------------------------------------------------

# A form's token is remembered this long: a repeat of the same submission (a double click, a browser
# retrying a request) within it gets the first one's outcome.
SUBMISSION_MEMORY = timedelta(days=1)


def submission_digest(form_token: str) -> str:
    """What is stored of a form token: its SHA-256 (fixed length; the token itself is not kept)."""
    return hashlib.sha256(form_token.encode()).hexdigest()


# -- cloud accounts as others see them ---------------------------------------------------------------

# Digits kept at each end of a masked Alibaba Cloud account ID: enough for its owner to recognise it
# (1673****0301), too few for anyone else to use it.
MASK_KEEP = 4
MASK = "****"


def masked_ali_uid(ali_uid: str) -> str:
    """An Alibaba Cloud account ID as shown to someone who may not own it: the first and last four
    characters around ``****`` (``1673000000000301`` → ``1673****0301``, as Alibaba's IDs are 16 digits).
    A shorter ID keeps only its last quarter: a mask never shows more than half of an ID."""
    if len(ali_uid) >= 4 * MASK_KEEP:
        return ali_uid[:MASK_KEEP] + MASK + ali_uid[-MASK_KEEP:]
    shown = len(ali_uid) // 4
    return MASK + (ali_uid[-shown:] if shown else "")
