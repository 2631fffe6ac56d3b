"""Every notice's templates (email subject, text and HTML, and the SMS), rendered in both languages with
every code they can be given: no untranslated text, no raw code, the link the owner needs, and an SMS
that fits one segment even for the longest workspace name a workspace can have."""

from __future__ import annotations

import html
import itertools
import re

import pytest

from kaitong.billing import queries as billing_queries
from kaitong.notices.domain import (
    ELLIPSIS,
    REQUIRED,
    SMS_FLOOR_CHARS,
    SMS_MAX_CHARS,
    Cause,
    Notice,
    Settlement,
    UnlockReason,
    sms_length,
)
from kaitong.notices.rendering import RenderedNotice, render_notice
from kaitong.sls.domain import Problem
from kaitong.workspaces.domain import NAME_MAX

pytestmark = pytest.mark.django_db

WORKSPACE_ID = 4711
# A name with what HTML would mangle: the text shows it as written, the HTML escaped.
PLAIN_NAME = "Prod & <Core>"
# As long as a workspace name can be (64 characters), in each script.
LONGEST_NAMES = {
    "han": "华东区生产环境核心交易系统全链路可观测性监控工作空间"
    "（含日志、链路追踪、用户访问监测与告警）二零二六年度第四季度正式版（第一期）",
    "latin": "East China production core trading platform observability 2026Q4",
}
HAN = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")  # CJK characters and full-width punctuation
CODES = {c.value for c in itertools.chain(Cause, UnlockReason, Settlement, Problem)}
# Product names the Chinese texts keep in Latin letters, as Alibaba's own Chinese pages do.
LATIN_IN_CHINESE = {"ID", "SLS", "AccessKey", "Secret", "Project"}


def contexts(notice: Notice, name: str = PLAIN_NAME) -> list[dict[str, str | int]]:
    """The notice's context with each value its codes can take (every cause, reason, settlement, item)."""
    base: dict[str, str | int] = {"workspace_id": WORKSPACE_ID, "workspace_name": name}
    if notice in (Notice.COUNTDOWN_STARTED, Notice.COUNTDOWN_ENDING, Notice.LOCKED):
        return [
            {**base, "locks_on": "2026-12-14", "cause": cause.value, **instance}
            for cause in Cause
            for instance in ({"instance_id": "i-8f3a2c91d0"}, {"instance_id": ""}, {})  # {}: left out
        ]
    if notice is Notice.UNLOCKED:
        return [{**base, "reason": reason.value} for reason in UnlockReason]
    if notice is Notice.SLS_ACCESS_LOST:
        return [
            {**base, "ali_uid": "1999999999999999", "problem": problem.value, **project}
            for problem in Problem
            for project in ({"project": f"guance-wksp-{WORKSPACE_ID}"}, {})
        ]
    if notice is Notice.SETTLEMENT_CHANGED:
        return [
            {**base, "from_settlement": a.value, "to_settlement": b.value, "instance_id": "i-8f3a2c91d0"}
            for a in Settlement
            for b in Settlement
            if a is not b
        ]
    return [
        {**base, "day": "2026-11-29", "item": item, "amount": "1234.5", "threshold": "500"}
        for item in sorted(billing_queries.known_items())
    ]


def all_text(rendered: RenderedNotice) -> str:
    """What a reader sees of every channel: the HTML as text (tags gone, entities read)."""
    visible = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<title>.*?</title>", "", rendered.html, flags=re.S)))
    return "\n".join([rendered.subject, rendered.text, visible, rendered.sms])


def data_removed(text: str, context: dict[str, str | int], language: str) -> str:
    """``text`` without the data it shows (names, links, IDs, dates, amounts): what is left is words."""
    names = billing_queries.item_names()
    data = [str(context["workspace_name"]), str(context.get("instance_id", "") or "\0")]
    data.append(str(context.get("project", "") or "\0"))
    if "item" in context:
        item = names[str(context["item"])]
        data.append(item.en if language == "en" else item.zh)
    for value in data:
        text = text.replace(value, " ")
    text = re.sub(r"https?://\S+", " ", text)
    return re.sub(r"¥[\d,.]+|\d{4}-\d{2}-\d{2}|\d+", " ", text)


@pytest.mark.parametrize("notice", list(Notice))
class TestEveryNoticeInBothLanguages:
    def test_english_has_no_chinese_left(self, notice):
        for context in contexts(notice):
            rendered = render_notice(notice=notice, workspace_language="en", context=context)
            words = data_removed(all_text(rendered), context, "en")
            assert not HAN.findall(words), (context, HAN.findall(words), all_text(rendered))
            assert rendered.text.startswith("Hello,") and "Guance" in rendered.sms

    def test_chinese_has_no_english_left(self, notice):
        for context in contexts(notice):
            rendered = render_notice(notice=notice, workspace_language="zh", context=context)
            words = data_removed(all_text(rendered), context, "zh")
            english = [word for word in re.findall(r"[A-Za-z]{2,}", words) if word not in LATIN_IN_CHINESE]
            assert not english, (context, english, all_text(rendered))
            assert rendered.text.startswith("您好，") and rendered.sms.startswith("【观测云】")

    @pytest.mark.parametrize("language", ["zh", "en"])
    def test_codes_become_words(self, notice, language):
        for context in contexts(notice):
            rendered = render_notice(notice=notice, workspace_language=language, context=context)
            shown = all_text(rendered)
            raw = [code for code in [*CODES, str(context.get("item", "\0"))] if re.search(rf"\b{code}\b", shown)]
            assert not raw, (context, raw)

    @pytest.mark.parametrize("language", ["zh", "en"])
    def test_the_email_carries_the_link_the_owner_needs(self, notice, language):
        context = contexts(notice)[0]
        rendered = render_notice(notice=notice, workspace_language=language, context=context)
        wanted = {
            Notice.HIGH_SPEND: f"http://testserver/billing/bills/{WORKSPACE_ID}/2026-11-29/",
        }.get(notice, f"http://testserver/console/workspaces/{WORKSPACE_ID}/")
        assert wanted in rendered.text and f'href="{wanted}"' in rendered.html
        assert "\n" not in rendered.subject and rendered.subject

    @pytest.mark.parametrize("language", ["zh", "en"])
    def test_the_workspace_name_is_shown_as_written(self, notice, language):
        rendered = render_notice(notice=notice, workspace_language=language, context=contexts(notice)[0])
        assert PLAIN_NAME in rendered.subject and PLAIN_NAME in rendered.text and PLAIN_NAME in rendered.sms
        assert "Prod &amp; &lt;Core&gt;" in rendered.html and "<Core>" not in rendered.html

    @pytest.mark.parametrize("language", ["zh", "en"])
    @pytest.mark.parametrize("script", list(LONGEST_NAMES))
    def test_the_sms_fits_one_segment_with_the_longest_name(self, notice, language, script):
        name = LONGEST_NAMES[script]
        assert len(name) == NAME_MAX
        for context in contexts(notice, name):
            rendered = render_notice(notice=notice, workspace_language=language, context=context)
            assert sms_length(rendered.sms) <= SMS_MAX_CHARS, rendered.sms
            # The name gave way (an ellipsis), yet what is left still says which workspace it is.
            shown = rendered.sms_params["workspace_name"]
            assert shown.endswith(ELLIPSIS) and name.startswith(shown[:-1]) and len(shown) >= SMS_FLOOR_CHARS
            assert shown in rendered.sms
            # The email keeps the whole name.
            assert name in rendered.subject + rendered.text

    @pytest.mark.parametrize("language", ["zh", "en"])
    def test_a_short_name_is_never_cut(self, notice, language):
        rendered = render_notice(notice=notice, workspace_language=language, context=contexts(notice, "prod")[0])
        assert '"prod"' in rendered.sms or "「prod」" in rendered.sms
        assert ELLIPSIS not in rendered.sms


def test_every_notice_has_its_context_agreed():
    """The test above walks every notice; this keeps the list of kinds and of contexts in step."""
    assert set(REQUIRED) == set(Notice)


def test_the_lock_notice_carries_a_one_time_unlock_link_when_given_one():
    context = {**contexts(Notice.LOCKED)[0], "unlock_url": "https://kaitong.example/unlock/abc123"}
    rendered = render_notice(notice=Notice.LOCKED, workspace_language="en", context=context)
    assert "Unlock now: https://kaitong.example/unlock/abc123" in rendered.text
    assert 'href="https://kaitong.example/unlock/abc123"' in rendered.html


def test_high_spend_names_the_item_in_the_workspaces_language():
    context = contexts(Notice.HIGH_SPEND)[0] | {"item": "logs"}
    zh = render_notice(notice=Notice.HIGH_SPEND, workspace_language="zh", context=context)
    en = render_notice(notice=Notice.HIGH_SPEND, workspace_language="en", context=context)
    assert "「日志类数据」的费用为 ¥1,234.50，超过了您设置的预警阈值 ¥500.00" in zh.text
    assert 'the "Log data" charge of workspace "Prod & <Core>" (ID 4711) was ¥1,234.50' in en.text
    assert "above your alert threshold of ¥500.00" in en.text
