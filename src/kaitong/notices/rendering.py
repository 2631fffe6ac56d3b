"""Render a notice in a language: its email (subject, text, HTML) and its SMS, from the files in
``notices/templates/notices/<kind>/`` (``subject.txt``, ``body.txt``, ``body.html``, ``sms.txt``).

One template per text, its words through gettext (the English in the project's catalogue), rendered
inside ``translation.override`` of the workspace's language, as every mail of the project is
(why not a file per language: ``docs/decisions/2026-11-30-notice-templates.md``). The codes a notice is
given become words here, in that language; the links are built from ``KAITONG_PUBLIC_URL``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from kaitong.billing import formatting
from kaitong.billing import queries as billing_queries
from kaitong.notices import labels
from kaitong.notices.domain import Cause, Notice, Settlement, SlsProblem, UnlockReason, fit_sms, mail_language

# The values each SMS shows besides the names: with them, a template gateway's parameters.
SMS_PARAMS = {
    Notice.COUNTDOWN_STARTED: ("locks_on", "cause_short"),
    Notice.COUNTDOWN_ENDING: ("locks_on",),
    Notice.LOCKED: (),
    Notice.UNLOCKED: ("reason_short",),
    Notice.SETTLEMENT_CHANGED: ("to_short",),
    Notice.HIGH_SPEND: ("amount_text",),
    Notice.SLS_ACCESS_LOST: (),
}


@dataclass(frozen=True)
class RenderedNotice:
    subject: str
    text: str
    html: str
    sms: str
    # What the SMS was rendered with (names shortened to fit): a template gateway's parameters.
    sms_params: dict[str, str]


def _link(name: str, *args: Any) -> str:
    return settings.ENV.public_url + reverse(name, args=args)


def _item_name(item: str, language: str) -> str:
    names = billing_queries.item_names()
    if item not in names:
        raise LookupError(f"no price list names the item {item!r}")
    return names[item].en if language == "en" else names[item].zh


def _words(notice: Notice, context: dict[str, Any], language: str) -> dict[str, Any]:
    """The context's codes as words in the active language, and the links the notice carries."""
    workspace_id = context["workspace_id"]
    words: dict[str, Any] = {"console_url": _link("workspaces:workspace", workspace_id)}
    if "cause" in context:
        cause = Cause(context["cause"])
        words |= {
            "cause_text": labels.CAUSES[cause],
            "cause_short": labels.CAUSES_SHORT[cause],
            "remedy": labels.REMEDIES[cause],
        }
    if notice is Notice.LOCKED:
        # A one-time unlock link when the caller made one; otherwise the console, which shows 立即解锁.
        words["unlock_url"] = context.get("unlock_url") or words["console_url"]
    if notice is Notice.UNLOCKED:
        reason = UnlockReason(context["reason"])
        words |= {"reason_text": labels.UNLOCK_REASONS[reason], "reason_short": labels.UNLOCK_REASONS_SHORT[reason]}
    if notice is Notice.SETTLEMENT_CHANGED:
        before, after = Settlement(context["from_settlement"]), Settlement(context["to_settlement"])
        words |= {
            "from_text": labels.SETTLEMENTS[before],
            "to_text": labels.SETTLEMENTS[after],
            "to_short": labels.SETTLEMENTS_SHORT[after],
            "to_aliyun": after is Settlement.ALIYUN,
        }
    if notice is Notice.HIGH_SPEND:
        words |= {
            "item_name": _item_name(context["item"], language),
            "amount_text": formatting.money(Decimal(context["amount"])),
            "threshold_text": formatting.money(Decimal(context["threshold"])),
            "bill_url": _link("billing:bill_detail", workspace_id, context["day"]),
            "alerts_url": _link("notices:spend_alerts"),
        }
    if notice is Notice.SLS_ACCESS_LOST:
        words |= {"problem_text": labels.SLS_PROBLEMS[SlsProblem(context["problem"])]}
    return words


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render_notice(*, notice: Notice, workspace_language: str, context: dict[str, Any]) -> RenderedNotice:
    """The notice's texts in the workspace's language (zh/en), whatever language is active.

    ``context`` is what ``do_send_workspace_notice`` stored: the caller's codes plus ``workspace_id``
    and ``workspace_name``. Raises ValueError or KeyError for a context that lacks them (the action
    checked it before storing) and LookupError for an item no price list names."""
    notice = Notice(notice)
    language = "en" if workspace_language == "en" else "zh"
    folder = f"notices/{notice}"
    with translation.override(mail_language(workspace_language)):
        values = {**context, **_words(notice, context, language)}
        subject = _one_line(render_to_string(f"{folder}/subject.txt", values))
        text = render_to_string(f"{folder}/body.txt", values).strip() + "\n"
        html = render_to_string(f"{folder}/body.html", values)
        # The workspace's name (and an item's) gives way when the SMS would run over one segment.
        elastic = {"workspace_name": str(context["workspace_name"])}
        if "item_name" in values:
            elastic["item_name"] = str(values["item_name"])
        sms, fitted = fit_sms(
            lambda shorter: _one_line(render_to_string(f"{folder}/sms.txt", {**values, **shorter})), elastic
        )
        params = {key: str(values[key]) for key in SMS_PARAMS[notice]} | fitted
    return RenderedNotice(subject=subject, text=text, html=html, sms=sms, sms_params=params)
