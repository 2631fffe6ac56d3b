"""Username and code rules, as tables and properties (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaitong.accounts import domain

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
KEY = "k" * 32


class TestCanonicalUsername:
    @pytest.mark.parametrize(
        ("raw", "canonical"),
        [("Acme", "acme"), ("  ACME_ops.1-x ", "acme_ops.1-x"), ("ᴮᴵᴳᴮᴵᴿᴰ", "bigbird"), ("ａｃｍｅ", "acme")],
    )
    def test_canonical_forms(self, raw, canonical):
        assert domain.canonical_username(raw) == canonical

    @pytest.mark.parametrize(
        ("raw", "reason"),
        [
            ("abc", "length"),
            ("a" * 33, "length"),
            ("1abc", "start"),
            ("_abc", "start"),
            ("ab cd", "charset"),
            ("用户名称", "charset"),
        ],
    )
    def test_refusals(self, raw, reason):
        with pytest.raises(domain.UsernameError) as caught:
            domain.canonical_username(raw)
        assert caught.value.reason == reason

    # Mostly names that canonicalise (ASCII of any case, or full-width and small-capital look-alikes),
    # so the property is checked on many inputs rather than returning early on invalid ones.
    @given(
        st.from_regex(r"[A-Za-z][A-Za-z0-9_.\-]{3,31}", fullmatch=True)
        | st.text(alphabet="ᴬᴮᴰᴱᴳᴵᴿＡＢＣａｂｃ１２３", min_size=4, max_size=32)
        | st.text(max_size=40)
    )
    def test_idempotent(self, raw):
        try:
            once = domain.canonical_username(raw)
        except domain.UsernameError:
            return
        assert domain.canonical_username(once) == once


class TestCodes:
    def test_code_is_six_digits_and_digest_is_bound_to_email_and_purpose(self):
        code = domain.new_code()
        assert len(code) == 6 and code.isdigit()
        digest = domain.code_digest(code, key=KEY, email="a@b.example", purpose="register")
        assert digest != domain.code_digest(code, key=KEY, email="a@b.example", purpose="bind_workspace")
        assert digest != domain.code_digest(code, key=KEY, email="c@b.example", purpose="register")
        assert code not in digest

    def stored(self, code="123456", *, age=timedelta(0), failures=0, used=False):
        created = NOW - age
        return domain.StoredCode(
            domain.code_digest(code, key=KEY, email="a@b.example", purpose="register"),
            created + domain.CODE_LIFETIME,
            created if used else None,
            failures,
        )

    def judge(self, stored, given="123456", failures_last_hour=0):
        return domain.judge_code(
            stored=stored,
            given=given,
            key=KEY,
            email="a@b.example",
            purpose="register",
            now=NOW,
            failures_last_hour=failures_last_hour,
        )

    def test_lifetime(self):
        assert self.judge(self.stored(age=timedelta(minutes=9, seconds=59))) is domain.Verdict.OK
        assert self.judge(self.stored(age=timedelta(minutes=10, seconds=1))) is domain.Verdict.EXPIRED

    def test_verdicts(self):
        assert self.judge(None) is domain.Verdict.MISSING
        assert self.judge(self.stored(), given="654321") is domain.Verdict.WRONG
        assert self.judge(self.stored(used=True)) is domain.Verdict.USED
        assert self.judge(self.stored(failures=5)) is domain.Verdict.BURNED  # even with the right code
        assert self.judge(self.stored(), failures_last_hour=domain.FAILURES_PER_HOUR) is domain.Verdict.LOCKED

    def test_issue_limits(self):
        domain.check_issue(now=NOW, last_sent_at=None, sent_to_email_last_hour=[], sent_from_ip_last_hour=[])
        with pytest.raises(domain.IssueRefused) as caught:
            domain.check_issue(
                now=NOW, last_sent_at=NOW - timedelta(seconds=20), sent_to_email_last_hour=[], sent_from_ip_last_hour=[]
            )
        assert (caught.value.reason, caught.value.retry_after) == ("cooldown", 40)
        five = [NOW - timedelta(minutes=m) for m in (50, 40, 30, 20, 10)]
        with pytest.raises(domain.IssueRefused) as caught:
            domain.check_issue(now=NOW, last_sent_at=five[-1], sent_to_email_last_hour=five, sent_from_ip_last_hour=[])
        assert (caught.value.reason, caught.value.retry_after) == ("email_cap", 600)
        many = [NOW - timedelta(minutes=2)] * domain.CODES_PER_IP_PER_HOUR
        with pytest.raises(domain.IssueRefused) as caught:
            domain.check_issue(now=NOW, last_sent_at=None, sent_to_email_last_hour=[], sent_from_ip_last_hour=many)
        assert caught.value.reason == "ip_cap"


class TestMaskedAliUid:
    @pytest.mark.parametrize(
        ("uid", "shown"),
        [
            ("1673000000000301", "1673****0301"),
            ("12345678901234567", "1234****4567"),
            ("12345678", "****78"),
            ("", "****"),
        ],
    )
    def test_masks(self, uid, shown):
        assert domain.masked_ali_uid(uid) == shown

    @given(st.text(alphabet="0123456789", max_size=40))
    def test_never_shows_most_of_an_id(self, uid):
        shown = domain.masked_ali_uid(uid).replace(domain.MASK, "")
        assert len(shown) <= 2 * domain.MASK_KEEP and len(shown) <= len(uid) / 2
