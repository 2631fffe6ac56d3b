"""Rebuild the English catalogue: extract msgids, fill msgstr from en_translations.EN, compile.

Run from the repository root:  KAITONG_ENV=test .venv/bin/python src/kaitong/locale/build_en.py
It fails (exit 1) listing any Chinese msgid that has no English yet.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent
PO = HERE / "en" / "LC_MESSAGES" / "django.po"
HEADER = (
    "# English catalogue of kaitong. Source strings are Chinese (zh-hans is the default language).\n"
    "# msgstr values come from src/kaitong/locale/en_translations.py; rebuild with build_en.py.\n"
)


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _strings(block: str, key: str) -> str | None:
    found = re.search(rf'^{key} (".*"(?:\n".*")*)', block, re.M)
    if not found:
        return None
    return "".join(ast.literal_eval(part) for part in found.group(1).split("\n"))


def fill(text: str, english: dict[str, str]) -> tuple[str, list[str]]:
    out, missing = [HEADER], []
    for block in text.strip().split("\n\n"):
        msgid = _strings(block, "msgid")
        if msgid is None or "msgid_plural" in block:
            continue
        comments = [line for line in block.splitlines() if line.startswith("#") and "fuzzy" not in line]
        comments = [line for line in comments if line.startswith("#,") or line.startswith("#.")]
        if msgid == "":
            header = (_strings(block, "msgstr") or "").replace("Language: \n", "Language: en\n")
            out.append('msgid ""\nmsgstr ' + _quote(header) + "\n")
            continue
        if msgid not in english:
            missing.append(msgid)
        out.append("\n".join([*comments, "msgid " + _quote(msgid), "msgstr " + _quote(english.get(msgid, ""))]) + "\n")
    return "\n".join(out), missing


def main() -> int:
    sys.path.insert(0, str(HERE))
    from en_translations import EN  # type: ignore[import-not-found]

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaitong.config.settings_test")
    django_admin = Path(sys.executable).parent / "django-admin"
    # The simulator stands for Alibaba's console: its pages carry both languages side by side instead.
    ignore = ["-i", "migrations/*", "-i", "simulator/*", "-i", "locale/*"]
    subprocess.run(  # noqa: S603
        [str(django_admin), "makemessages", "-l", "en", "--no-location", "--no-obsolete", *ignore],
        cwd=PACKAGE,
        check=True,
    )
    text, missing = fill(PO.read_text(encoding="utf-8"), EN)
    PO.write_text(text, encoding="utf-8")
    subprocess.run(["msgfmt", "--check", "-o", str(PO.with_suffix(".mo")), str(PO)], check=True)  # noqa: S603, S607
    for msgid in missing:
        print("no English for:", msgid)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
