"""The English catalogue is complete and its compiled .mo matches the .po (no network, no DB)."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import kaitong

LOCALE = Path(kaitong.__file__).parent / "locale" / "en" / "LC_MESSAGES"


def po_entries() -> dict[str, str]:
    entries: dict[str, str] = {}
    text = LOCALE.joinpath("django.po").read_text(encoding="utf-8")
    for block in text.split("\n\n"):
        msgid = re.search(r'^msgid (".*"(?:\n".*")*)', block, re.M)
        msgstr = re.search(r'^msgstr (".*"(?:\n".*")*)', block, re.M)
        if msgid and msgstr and "msgid_plural" not in block:
            key = "".join(ast.literal_eval(part) for part in msgid.group(1).split("\n"))
            entries[key] = "".join(ast.literal_eval(part) for part in msgstr.group(1).split("\n"))
    return entries


def test_every_string_has_english():
    missing = [msgid for msgid, msgstr in po_entries().items() if msgid and not msgstr]
    assert missing == []


def test_compiled_catalogue_is_current():
    with LOCALE.joinpath("django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [msgid for msgid, msgstr in po_entries().items() if msgid and compiled.gettext(msgid) != msgstr]
    assert stale == [], "run msgfmt -o django.mo django.po"
