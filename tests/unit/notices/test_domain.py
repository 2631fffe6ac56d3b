"""The notices' pure rules: what each notice must be given, fitting an SMS into one segment, masking."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kaitong.notices import domain
from kaitong.notices.domain import Notice


class TestContext:
    def test_the_agreed_contexts_are_fine(self):
        assert (
            domain.context_problems(
                Notice.LOCKED, {"locks_on": "2026-12-14", "cause": "unpaid_bill", "instance_id": ""}
            )
            == []
        )
        assert domain.context_problems(Notice.UNLOCKED, {"reason": "bill_paid", "extra": "ignored"}) == []
        assert (
            domain.context_problems(
                Notice.HIGH_SPEND, {"day": "2026-11-29", "item": "logs", "amount": "12.30", "threshold": "10"}
            )
            == []
        )

    def test_every_problem_is_named(self):
        problems = domain.context_problems(
            Notice.COUNTDOWN_STARTED, {"locks_on": "2026-02-30", "cause": "closed", "instance_id": 7}
        )
        assert problems == [
            "locks_on: '2026-02-30' is not a day (YYYY-MM-DD)",
            "cause: 'closed' is not one of instance_expired, instance_released, unpaid_bill",
            "instance_id: must be a string, not int",
        ]
        assert domain.context_problems(Notice.HIGH_SPEND, {"amount": "-1", "threshold": "Infinity"}) == [
            "day: missing",
            "item: missing",
            "amount: '-1' is not an amount",
            "threshold: 'Infinity' is not an amount",
        ]

    def test_a_day_must_be_written_in_full(self):
        assert domain.context_problems(
            Notice.HIGH_SPEND, {"day": "20261129", "item": "x", "amount": "1", "threshold": "1"}
        )


def letters(text: str):
    return lambda values: text.format(**values)


class TestFitSms:
    def test_a_text_that_fits_is_left_alone(self):
        text, values = domain.fit_sms(letters("【观测云】工作空间「{name}」已锁定。"), {"name": "prod"})
        assert text == "【观测云】工作空间「prod」已锁定。" and values == {"name": "prod"}

    def test_the_name_gives_way_to_exactly_seventy(self):
        text, values = domain.fit_sms(letters("[Guance] {name} is locked."), {"name": "x" * 100})
        assert domain.sms_length(text) == 70 and values["name"] == "x" * 49 + "…"

    def test_two_long_values_end_up_about_as_long(self):
        # 40 characters of the template's own leave 30 for both: neither is cut to the floor for the other.
        text, values = domain.fit_sms(letters("t" * 37 + "{name} / {item}"), {"name": "n" * 64, "item": "i" * 31})
        assert domain.sms_length(text) == 70
        assert abs(len(values["name"]) - len(values["item"])) <= 1 and len(values["name"]) >= 14

    def test_a_short_value_is_not_cut_for_a_long_one(self):
        _text, values = domain.fit_sms(letters("{name} / {item}"), {"name": "n" * 90, "item": "logs"})
        assert values["item"] == "logs"

    def test_a_template_too_long_for_any_name_is_cut_itself(self):
        text, values = domain.fit_sms(letters("{name}" + "字" * 80), {"name": "abcdefghij"})
        assert domain.sms_length(text) == 70 and text.endswith("…") and values["name"] == "abcde…"

    @given(st.text(min_size=0, max_size=64), st.text(min_size=0, max_size=40))
    def test_never_more_than_seventy(self, name, item):
        text, _values = domain.fit_sms(
            letters("[Guance] High spend: {item} in {name} cost ¥9,999.00."), {"name": name, "item": item}
        )
        assert domain.sms_length(text) <= domain.SMS_MAX_CHARS

    def test_characters_are_counted_as_a_carrier_counts_them(self):
        assert domain.sms_length("观测云") == 3 and domain.sms_length("🚀") == 2
        assert domain.shorten("ab🚀cd", 4) == "ab…"


class TestRecipients:
    def test_phone_numbers_as_a_gateway_takes_them(self):
        assert domain.phone_number("+86 138-0013-8000") == "+8613800138000"
        assert domain.phone_number(" 138 0013 8000 ") == "13800138000"
        assert domain.phone_number("n/a") == ""

    def test_masks(self):
        assert domain.mask_email("owner@example.com") == "o***r@example.com"
        assert domain.mask_email("ab@x.cn") == "a***@x.cn"
        assert domain.mask_phone("+8613800138000") == "+86138****8000"
        assert domain.mask_phone("13800138000") == "138****8000"
        assert domain.mask_phone("12345") == "***45"
        assert domain.mask_recipient("sms", "13800138000") == "138****8000"
        assert domain.mask_recipient("email", "owner@example.com") == "o***r@example.com"

    def test_the_workspaces_language_decides(self):
        assert domain.mail_language("en") == "en" and domain.mail_language("zh") == "zh-hans"
