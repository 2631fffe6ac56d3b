"""Issue 11, item 9: the username warning in the seed's full words, with its two links, on every page that
registers a username; and a complete English translation."""

from __future__ import annotations

import html
import re

import pytest

from tests.support.activation import enter

pytestmark = pytest.mark.django_db

PAGES = pytest.mark.parametrize(
    "path",
    ["/activate/workspaces/register/", "/activate/bind/register/", "/activate/register/"],
    ids=["注册观测云账号", "注册企业账号", "注册商业版"],
)

SEED_WORDS = (
    "用户名：用于注册「观测云控制台账号」，同时会为您自动注册相同「用户名」的 「观测云费用中心账号」，"
    "从而进行后续的费用结算流程，费用中心的用户名账号会检查唯一性，一旦注册不能修改；"
    "支持绑定费用中心用户名账号，绑定完成后用户名不能再修改，请谨慎操作。"
)
ENGLISH = (
    'Username: used to register your "Guance console account"; a "Guance billing-center account" with the '
    "same username is registered for you automatically, for the settlement of your fees. Billing-center "
    "usernames are checked for uniqueness and can never be changed once registered; you may also bind an "
    "existing billing-center username, after which the username can no longer be changed either. Please "
    "choose carefully."
)


def warning_of(page: str) -> str:
    """The warning as a reader sees it: its text, the links' words in place."""
    block = page.split('data-testid="username-rule">', 1)[1].split("</div>", 1)[0]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", block))).strip()


def links_of(page: str) -> list[tuple[str, str]]:
    block = page.split('data-testid="username-rule"', 1)[1].split("</div>", 1)[0]
    return re.findall(r'<a href="([^"]+)" target="_blank" rel="noopener">([^<]+)</a>', block)


@PAGES
def test_the_seeds_words_and_links(client, path):
    enter(client, "490001")
    page = client.get(path).content.decode()
    assert warning_of(page) == SEED_WORDS
    assert links_of(page) == [
        ("https://auth.guance.com/businessRegister", "观测云控制台账号"),
        ("https://boss.guance.com/", "观测云费用中心账号"),
    ]


@PAGES
def test_in_english(client, path):
    client.cookies["django_language"] = "en"
    enter(client, "490002")
    page = client.get(path).content.decode()
    assert warning_of(page) == ENGLISH
    assert links_of(page) == [
        ("https://auth.guance.com/businessRegister", "Guance console account"),
        ("https://boss.guance.com/", "Guance billing-center account"),
    ]
