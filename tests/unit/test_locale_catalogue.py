"""The English catalogue is the source of the English (``./scripts/messages``): every string of the code
is in it, none is empty or fuzzy, and its compiled .mo matches it (no network, no DB)."""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import kaitong

PACKAGE = Path(kaitong.__file__).parent
LOCALE = PACKAGE / "locale" / "en" / "LC_MESSAGES"


@dataclass(frozen=True)
class Entry:
    msgid: str
    msgstr: str
    fuzzy: bool
    msgctxt: str | None = None  # pgettext's context: the same Chinese, another English (an SMS's terse one)

    @property
    def key(self) -> tuple[str | None, str]:
        return self.msgctxt, self.msgid


def _joined(block: str, key: str) -> str | None:
    found = re.search(rf'^{key} (".*"(?:\n".*")*)', block, re.M)
    if found is None:
        return None
    return "".join(ast.literal_eval(part) for part in found.group(1).split("\n"))


def po_entries(path: Path = LOCALE / "django.po") -> list[Entry]:
    """The entries of a .po file (the header left out); plural entries are read by their first form."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        msgid = _joined(block, "msgid")
        msgstr = _joined(block, "msgstr") if "msgid_plural" not in block else _joined(block, r"msgstr\[0\]")
        if not msgid or msgstr is None:
            continue
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in block.splitlines())
        entries.append(Entry(msgid, msgstr, fuzzy, _joined(block, "msgctxt")))
    return entries


def test_every_string_has_english_and_none_is_fuzzy():
    entries = po_entries()
    assert len(entries) > 250  # the whole catalogue was read
    assert [e.msgid for e in entries if not e.msgstr] == []
    assert [e.msgid for e in entries if e.fuzzy] == [], "check these translations, then remove their '#, fuzzy'"


def test_one_spelling_of_authorization():
    """The catalogue writes American English ("center", "authorize"): one spelling on the pages, in the
    notices and in an SMS, not both."""
    british = [entry.msgid for entry in po_entries() if re.search(r"(?i)authoris", entry.msgstr)]
    assert british == []


def test_compiled_catalogue_is_current():
    with LOCALE.joinpath("django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [
        e.key
        for e in po_entries()
        if (compiled.pgettext(e.msgctxt, e.msgid) if e.msgctxt else compiled.gettext(e.msgid)) != e.msgstr
    ]
    assert stale == [], "run ./scripts/messages compile"


def test_every_string_of_the_code_is_in_the_catalogue(tmp_path):
    """What ``./scripts/messages extract`` would find, extracted from a copy of the package, is exactly
    what the committed .po holds: a new string without English, or an English for a string the code no
    longer has, fails here rather than showing Chinese to an English reader."""
    copy = tmp_path / "kaitong"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    django_admin = Path(sys.executable).parent / "django-admin"
    env = {**os.environ, "KAITONG_ENV": "test", "DJANGO_SETTINGS_MODULE": "kaitong.config.settings_test"}
    # The same command as ./scripts/messages extract.
    extract = ["makemessages", "-l", "en", "--no-location", "--no-obsolete", "-i", "migrations/*", "-i", "locale/*"]
    subprocess.run(
        [str(django_admin), *extract],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
    )
    extracted = {e.key for e in po_entries(copy / "locale" / "en" / "LC_MESSAGES" / "django.po")}
    committed = {e.key for e in po_entries()}
    assert sorted(extracted - committed, key=str) == [], (
        "new strings: run ./scripts/messages extract and fill their English"
    )
    assert sorted(committed - extracted, key=str) == [], (
        "strings the code no longer has: run ./scripts/messages extract"
    )
