"""Issue 11, item 7: a username is stored normalised (NFKC, lower case) and never changes, so every form
that registers one shows the name it will be stored as and registers only once the buyer confirmed that
exact name: 注册 基本信息, 注册观测云账号, and 尚无企业账号 → 注册 (the enterprise account)."""

from __future__ import annotations

import re

import pytest

from kaitong.accounts.models import BillingAccount, ConsoleAccount, VerificationCode
from kaitong.workspaces.models import Workspace
from tests.support.activation import STRONG_PASSWORD, bind_account, enter, existing_account, request_code, submit
from tests.support.html import text

pytestmark = pytest.mark.django_db

BASIC = "/activate/register/"
REGISTER_TAB = "/activate/workspaces/register/"
ENTERPRISE_ACCOUNT = "/activate/bind/register/"
EMAIL = "wu@example.com"

FIELDS = {
    BASIC: {},
    REGISTER_TAB: {"name": "生产环境", "language": "zh", "agree": "on"},
    ENTERPRISE_ACCOUNT: {"enterprise_name": "吴氏科技", "agree": "on"},
}
NEXT = {
    BASIC: "/activate/register/enterprise/",
    REGISTER_TAB: "/activate/done/",
    ENTERPRISE_ACCOUNT: "/activate/workspaces/",
}
FORMS = pytest.mark.parametrize("path", list(FIELDS), ids=["register basic", "register tab", "enterprise account"])


def registration(path: str, code: str, username: str, **overrides: str) -> dict[str, str]:
    data = {
        "username": username,
        "password1": STRONG_PASSWORD,
        "password2": STRONG_PASSWORD,
        "email": EMAIL,
        "code": code,
        "phone": "",
        **FIELDS[path],
    }
    data.update(overrides)
    return data


def confirm_box(html: str) -> dict[str, str | bool]:
    """The confirmation checkbox as the browser gets it: its value, checked, disabled."""
    found = re.search(r'<input type="checkbox" name="confirm_username"[^>]*>', html)
    assert found, "no confirmation checkbox"
    tag = found.group(0)
    value = re.search(r'value="([^"]*)"', tag)
    return {"value": value.group(1) if value else "", "checked": " checked" in tag, "disabled": " disabled" in tag}


def sentence(words: str) -> str:
    """Text read from the page (elements joined by spaces), as a reader sees it: no space before a
    full-width comma."""
    return words.replace(" ，", "，")


def nothing_registered() -> bool:
    return not (ConsoleAccount.objects.exists() or BillingAccount.objects.exists() or Workspace.objects.exists())


@FORMS
def test_the_page_offers_the_preview_and_a_confirmation_to_tick(client, path):
    enter(client, "470001")
    page = client.get(path).content.decode()
    assert 'data-testid="username-preview"' in page
    assert '<script src="/static/activation/username.js" defer></script>' in page
    # Nothing typed yet: nothing to confirm, and the page says what to do.
    assert confirm_box(page) == {"value": "", "checked": False, "disabled": True}
    assert "填写用户名后，请在此确认注册的用户名（注册后不可修改）" in text(page, "confirm-username")


@FORMS
@pytest.mark.parametrize(("typed", "canonical"), [("Wu6893Upper", "wu6893upper"), ("ｇｅｎｇ6893", "geng6893")])
def test_unconfirmed_name_is_refused_naming_it_then_registers_as_confirmed(client, path, typed, canonical):
    enter(client, "470002")
    code = request_code(client, path, EMAIL)
    refused = submit(client, path, registration(path, code, typed))
    assert refused.status_code == 400
    page = refused.content.decode()
    assert f"请确认用户名：将注册为 {canonical}，注册后不可修改" in page
    # The refusal is the confirm step a browser without script gets: the name shown, the box to tick.
    assert text(page, "username-canonical").startswith(f"将注册为 {canonical}")
    assert "已按规则转为小写、半角字符" in text(page, "username-canonical")
    assert sentence(text(page, "confirm-canonical")) == f"用户名将注册为 {canonical}，注册后不可修改，我已确认"
    assert confirm_box(page) == {"value": canonical, "checked": False, "disabled": False}
    assert nothing_registered()
    assert VerificationCode.objects.get().used_at is None  # the code is still good

    response = submit(client, path, registration(path, code, typed, confirm_username=canonical))
    assert response.status_code == 302 and response["Location"] == NEXT[path]
    if path == BASIC:
        submit(client, "/activate/register/enterprise/", {"enterprise_name": "吴氏科技", "agree": "on"})
    console = ConsoleAccount.objects.get()
    assert console.username == BillingAccount.objects.get().username == canonical


@FORMS
def test_a_confirmation_of_another_spelling_is_no_confirmation(client, path):
    """The box confirms the stored name; what was typed (or a name typed before) confirms nothing."""
    enter(client, "470003")
    code = request_code(client, path, EMAIL)
    for confirmed in ("Wu6893Upper", "wu6893", "on"):
        response = submit(client, path, registration(path, code, "Wu6893Upper", confirm_username=confirmed))
        assert response.status_code == 400
        assert "请确认用户名：将注册为 wu6893upper" in response.content.decode()
    assert nothing_registered()


@FORMS
def test_a_confirmed_form_refused_for_something_else_keeps_the_box_ticked(client, path):
    enter(client, "470004")
    code = request_code(client, path, EMAIL)
    data = registration(path, code, "Wu6893Upper", confirm_username="wu6893upper", password2="something else entirely")
    response = submit(client, path, data)
    assert response.status_code == 400 and "两次输入的密码不一致" in response.content.decode()
    assert confirm_box(response.content.decode()) == {"value": "wu6893upper", "checked": True, "disabled": False}


@FORMS
def test_an_invalid_name_is_explained_beside_the_field_and_leaves_nothing_to_confirm(client, path):
    enter(client, "470005")
    code = request_code(client, path, EMAIL)
    response = submit(client, path, registration(path, code, "１abc", confirm_username="1abc"))
    page = response.content.decode()
    assert response.status_code == 400 and "用户名须以字母开头" in page
    assert "请确认用户名" not in page
    assert confirm_box(page) == {"value": "", "checked": False, "disabled": True}


def test_the_rules_for_the_script_come_in_the_readers_language(client):
    client.cookies["django_language"] = "en"
    enter(client, "470006")
    page = client.get(BASIC).content.decode()
    preview = re.search(r'<div class="username-preview"[^>]*>', page)
    assert preview
    assert 'data-error-start="The username must start with a letter"' in preview.group(0)
    assert 'data-error-length="The username must be 4–32 characters long"' in preview.group(0)


def test_english_confirmation(client):
    client.cookies["django_language"] = "en"
    enter(client, "470007")
    code = request_code(client, BASIC, EMAIL)
    page = submit(client, BASIC, registration(BASIC, code, "ｇｅｎｇ6893")).content.decode()
    assert "Please confirm the username: it will be registered as geng6893 and can never be changed afterwards" in page
    assert sentence(text(page, "confirm-canonical")) == (
        "I confirm the username will be registered as geng6893 and can never be changed afterwards"
    )
    assert text(page, "username-canonical").startswith("Will be registered as geng6893")


def test_binding_an_existing_account_asks_no_confirmation(client):
    """Binding registers no name: its form has neither preview nor confirmation."""
    existing_account("acme", "ops@acme.example")
    enter(client, "470008")
    page = client.get("/activate/bind/").content.decode()
    assert "confirm_username" not in page and "username-preview" not in page
    assert bind_account(client).status_code == 302
