"""Activation state in one place: one module owns the buyer's session keys, one table answers every
refusal the activation pages and the login-free entry can meet."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

import pytest
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.utils import translation

from kaitong.accounts import actions as account_actions
from kaitong.accounts import domain as account_rules
from kaitong.activation import refusals
from kaitong.activation.session import BuyerSession, RegistrationDraft
from kaitong.jobs.retries import GiveUp
from kaitong.marketplace import sso
from kaitong.sls import domain as sls_rules
from kaitong.workspaces import domain as workspace_rules

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "kaitong"
SESSION_MODULE = SRC / "activation" / "session.py"

# Modules whose failures reach the activation pages or the login-free entry: the actions and rules the
# views call, and what those call in turn.
REACHABLE = [
    "kaitong.accounts.actions",
    "kaitong.accounts.domain",
    "kaitong.workspaces.actions",
    "kaitong.workspaces.domain",
    "kaitong.workspaces.settlement",
    "kaitong.marketplace.sso",
    "kaitong.marketplace.queries",
    "kaitong.activation.session",
    "kaitong.activation.views",
    "kaitong.activation.forms",
    "kaitong.sls.actions",
]
CJK = re.compile(r"[\u4e00-\u9fff]")


# -- the session --------------------------------------------------------------------------------------


def _python_files(*roots: Path) -> list[Path]:
    return [path for root in roots for path in root.rglob("*.py") if "simulator" not in path.parts]


def test_only_the_session_module_names_the_buyers_keys():
    """No other module (tests included) spells a key of the buyer's session or indexes a session."""
    key = re.compile(r"""["']mp_\w*["']""")
    raw_access = re.compile(r"\.session(\[|\.(get|pop|setdefault|keys|items|values|clear|flush|cycle_key)\b)")
    offenders = []
    for path in _python_files(SRC, ROOT / "tests"):
        if path == SESSION_MODULE or path == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8")
        if key.search(text) or (path.is_relative_to(SRC) and raw_access.search(text)):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
    assert key.search(SESSION_MODULE.read_text(encoding="utf-8"))  # the check above looks for the right thing


def test_typed_accessors_round_trip_and_json_serialise():
    store = SessionStore()
    buyer = BuyerSession(store)
    assert not buyer.entered and buyer.billing_account_id is None and buyer.registration is None
    buyer.billing_account_id = 7
    buyer.registration = RegistrationDraft(username="initech", password_hash="argon2$x", email="a@b.c", phone="")
    buyer.mark_hint_seen()
    buyer.mark_opened()
    buyer.remember_bound(3)
    buyer.remember_bound(5)
    buyer.remember_bound(3)
    store.save()  # the signed-cookie store serialises to JSON: every value must survive it
    again = BuyerSession(SessionStore(session_key=store.session_key))
    assert again.billing_account_id == 7 and again.hint_seen and again.opened
    assert again.registration == RegistrationDraft("initech", "argon2$x", "a@b.c", "")
    assert again.bound_workspace_ids == [3, 5]
    again.registration = None
    assert again.registration is None


# -- the refusal table ------------------------------------------------------------------------------


def _raised_classes() -> set[type[Exception]]:
    """Every exception class a ``raise`` statement in the reachable modules names (its own or imported)."""
    found: set[type[Exception]] = set()
    for name in REACHABLE:
        module = importlib.import_module(name)
        tree = ast.parse(inspect.getsource(module))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            value = _resolve(module, target)
            if isinstance(value, type) and issubclass(value, Exception):
                found.add(value)
    # kaitong.sls.actions raises the refusal a cloud error's classification names (``_refused``).
    return found | set(sls_rules.REFUSAL_OF.values())


def _resolve(module, node):  # type: ignore[no-untyped-def]
    if isinstance(node, ast.Name):
        return getattr(module, node.id, None) or getattr(__builtins__, node.id, None)
    if isinstance(node, ast.Attribute):
        owner = _resolve(module, node.value)
        return getattr(owner, node.attr, None) if owner is not None else None
    return None


def _is_refusal(cls: type[Exception]) -> bool:
    # Built-in errors (ValueError, RuntimeError…) are bugs, never answered as refusals; a private class
    # is turned into a public one before it leaves its module. A repeat of a form submitted before
    # (AlreadySubmitted) is no refusal either: every view answers it as the first submission. Nor is a
    # job's verdict on itself (retries.GiveUp, raised by the SLS provisioning job, never on a page).
    return (
        cls.__module__.startswith("kaitong.")
        and cls is not GiveUp
        and not cls.__name__.startswith("_")
        and cls is not account_actions.AlreadySubmitted
    )


VARIANTS: dict[type[Exception], list[Enum]] = {
    account_actions.CodeRefused: [v for v in account_rules.Verdict if v is not account_rules.Verdict.OK],
    account_rules.IssueRefused: list(account_rules.IssueLimit),
    account_rules.UsernameError: list(account_rules.UsernameRule),
    sso.EntryRefused: list(sso.Refusal),
    workspace_rules.MoveRefused: list(workspace_rules.MoveRule),
}


def _example(cls: type[Exception], variant: Enum | None) -> Exception:
    if cls is account_actions.CodeRefused:
        return cls(variant, 3)  # type: ignore[call-arg]
    if cls is account_rules.IssueRefused:
        return cls(variant, 75)  # type: ignore[call-arg]
    if cls is sso.EntryRefused:
        return cls(variant, "100001")  # type: ignore[call-arg]
    if cls is workspace_rules.MoveRefused:
        return cls(variant, datetime(2026, 12, 1, tzinfo=UTC))  # type: ignore[call-arg]
    if cls is account_actions.TooManyAttempts:
        return cls(1800)  # type: ignore[call-arg]
    return cls(variant) if variant is not None else cls()  # type: ignore[call-arg]


def _every_refusal() -> list[Exception]:
    raised = {cls for cls in _raised_classes() if _is_refusal(cls)}
    raised |= {key for key, _ in refusals.TABLE}  # and every row, so each row is checked below
    return [_example(cls, variant) for cls in sorted(raised, key=str) for variant in VARIANTS.get(cls, [None])]


def test_the_search_for_raised_exceptions_finds_them():
    raised = _raised_classes()
    assert {account_actions.InstanceNotActive, sso.EntryRefused, account_rules.IssueRefused} <= raised


@pytest.mark.parametrize("exc", _every_refusal(), ids=lambda exc: f"{type(exc).__name__}:{exc}")
def test_every_refusal_is_in_the_table_in_both_languages(exc):
    refusal = refusals.refusal_for(exc)  # KeyError: a refusal nobody decided how to answer
    assert 200 <= refusal.status < 500
    assert not (refusal.page and refusal.field)  # a page answers instead of the form, or a field holds it
    with translation.override("zh-hans"):
        chinese = refusals.answer(exc)
    with translation.override("en"):
        english = refusals.answer(exc)
    assert CJK.search(chinese.message), chinese
    for text in (english.message, english.title, english.hint):
        assert not CJK.search(text), f"no English for {text!r}"
    if refusal.page:
        assert chinese.title and english.title


def test_every_row_of_the_table_is_a_refusal_something_raises():
    raised = {cls for cls in _raised_classes() if _is_refusal(cls)}
    assert {cls for cls, _variant in refusals.TABLE} <= raised  # no row for a refusal nothing raises any more
