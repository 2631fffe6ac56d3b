"""开始使用观测云 (issue 11, item 10): the onboarding's heading is the seed's, and its two video tiles open a
short introduction served from here — the architecture diagram and DataKit's steps, in both languages,
nothing from another origin."""

from __future__ import annotations

import re

import pytest

from kaitong.workspaces.models import Workspace
from tests.support.activation import STRONG_PASSWORD, existing_account

pytestmark = pytest.mark.django_db


def _signed_in(client) -> Workspace:  # type: ignore[no-untyped-def]
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod",))
    assert client.post("/console/login/", {"username": "acme", "password": STRONG_PASSWORD}).status_code == 302
    return Workspace.objects.get()


def test_the_onboarding_is_titled_as_the_seed_and_its_tiles_open_the_introduction(client):
    workspace = _signed_in(client)
    page = client.get(f"/console/workspaces/{workspace.pk}/").content.decode()
    assert re.search(r'data-testid="onboarding-title">开始使用观测云<', page) and "欢迎使用观测云" not in page
    tiles = re.findall(r'<a class="video" href="([^"]+)" data-testid="video-(\w+)"', page)
    assert tiles == [
        (f"/console/introduction/?workspace={workspace.pk}#product", "product"),
        (f"/console/introduction/?workspace={workspace.pk}#architecture", "architecture"),
    ]
    intro = client.get(tiles[0][0].split("#")[0])
    body = intro.content.decode()
    assert intro.status_code == 200
    for anchor in ('id="product"', 'id="architecture"', 'id="datakit-steps"', "<svg", "DataWay", "Install Success"):
        assert anchor in body, anchor
    assert f'href="/console/workspaces/{workspace.pk}/#datakit"' in body  # back to its commands
    # Self-hosted: no script, image, style or link from anywhere else.
    assert not re.search(r'(src|href)="(https?:)?//', body)


def test_the_introduction_in_english(client):
    _signed_in(client)
    body = client.get("/console/introduction/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    main = body[body.index("<main") : body.index("</main>")]
    assert "Guance Cloud in brief" in main and "Product architecture" in main and "Install DataKit" in main
    assert not re.findall(r"[\u4e00-\u9fff]+", main)


def test_the_tiles_are_honest_about_reading_and_its_length(client):
    workspace = _signed_in(client)
    page = client.get(f"/console/workspaces/{workspace.pk}/").content.decode()
    tiles = page[page.index('data-testid="video-product"') : page.index('data-testid="start-datakit"')]
    assert "▶" not in tiles and "一分钟" not in tiles  # they open a page to read, of about three minutes
    assert tiles.count("图文 · 约 3 分钟") == 2
