"""The username preview (activation/static/activation/username.js) and accounts.domain.canonical_username
give the same answer: the same canonical name, or the same broken rule.

The file runs in node, the way the browser runs it (the same ICU-backed String.prototype.normalize and
toLowerCase as Chromium's V8), on the tricky inputs the issue names and on every character Python's
Unicode database assigns, placed where it matters (in the middle, at the start, at the edges). Characters
Python's database does not know yet are left out: node's newer Unicode may map them, Python leaves them
alone, and both then refuse the name anyway (the server decides; the preview only informs).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

import kaitong.activation
from kaitong.accounts import domain

SCRIPT = Path(kaitong.activation.__file__).parent / "static" / "activation" / "username.js"
NODE = shutil.which("node") or shutil.which("nodejs")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed: the preview's rule cannot be run")

TRICKY = [
    "Wu6893Upper",
    "ｇｅｎｇ6893",
    "ｇｅｎｇ６８９３",
    "ᴮᴵᴳᴮᴵᴿᴰ",
    "ⓐⓑⓒⓓ",
    "ﬁnance",  # ligature fi
    "\u212aelvin",  # KELVIN SIGN → k
    "ÅNGSTROM",
    "İstanbul",  # lower-cases to i + combining dot: not ASCII
    "Straße",
    "ΣΑΣ_ops",
    "①abc",
    "ａｂ．ｃ－ｄ＿ｅ",
    "  alice  ",
    "\u3000alice\u3000",
    "\ufeffalice",  # JavaScript's trim() would strip it, Python's strip() does not
    "\x1calice\x1f",  # Python strips these, JavaScript's trim() would not
    "alice\x85",
    "\u00a0alice",
    "ab😀",  # 3 code points but 4 UTF-16 units: too short for both
    "abc😀",
    "a" * 32,
    "a" * 33,
    "ａ" * 33,
    "abc",
    "1abc",
    "_abc",
    "-abc",
    "a.b-c_d",
    "ab cd",
    "用户名称",
    "",
    "   ",
    "A\u0308bcd",  # combining diaeresis composes to Ä
    "\u00a8abcd",  # DIAERESIS decomposes to space + combining mark
    "㎏abc",  # SQUARE KG → kg
    "ＡＢＣ＿１２３",
]


def python_answer(raw: str) -> dict[str, str]:
    try:
        return {"name": domain.canonical_username(raw)}
    except domain.UsernameError as exc:
        return {"error": exc.reason.value}


def node_answers(inputs: list[str]) -> list[dict[str, str]]:
    program = (
        f"const {{canonicalUsername}} = require({json.dumps(str(SCRIPT))});"
        "let text = '';"
        "process.stdin.setEncoding('utf8');"
        "process.stdin.on('data', chunk => { text += chunk; });"
        "process.stdin.on('end', () => {"
        "  process.stdout.write(JSON.stringify(JSON.parse(text).map(canonicalUsername)));"
        "});"
    )
    assert NODE is not None
    # JSON with \\u escapes both ways: lone surrogates and every code point survive the pipe.
    done = subprocess.run(
        [NODE, "-e", program],
        input=json.dumps(inputs, ensure_ascii=True),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return list(json.loads(done.stdout))


def disagreements(inputs: list[str]) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    expected = [python_answer(raw) for raw in inputs]
    return [(raw, py, js) for raw, py, js in zip(inputs, expected, node_answers(inputs), strict=True) if py != js]


def test_tricky_inputs_agree():
    assert disagreements(TRICKY) == []


def test_the_issues_examples():
    assert node_answers(["Wu6893Upper", "ｇｅｎｇ6893"]) == [{"name": "wu6893upper"}, {"name": "geng6893"}]


def test_every_assigned_character_agrees():
    known = [
        chr(point)
        for point in range(sys.maxunicode + 1)
        if unicodedata.category(chr(point)) not in ("Cn", "Cs", "Co")  # unassigned, surrogate, private use
    ]
    inputs = [f"ab{c}cd" for c in known] + [f"{c}abcd" for c in known] + [f"{c}abc{c}" for c in known]
    found = disagreements(inputs)
    assert found == [], f"{len(found)} disagreements, first: {found[:5]!r}"


def test_it_fails_when_the_rules_drift():
    """The comparison can fail: a rule that only lower-cases disagrees on full-width input."""
    assert python_answer("ｇｅｎｇ6893") != {"name": "ｇｅｎｇ6893".lower()}
