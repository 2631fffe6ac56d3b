"""/favicon.ico, which every browser asks for, answers with the site's own icon on both servers (it
answered 404), and every page names the icon in its <head>."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

ICO_HEADER = b"\x00\x00\x01\x00"  # reserved 0, type 1 (icon)


def _icon_behind(client: Client) -> bytes:
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/static/") and location.endswith("/favicon.ico")
    found = finders.find(location.removeprefix("/static/"))
    assert found, f"{location} is not a static file"
    with open(found, "rb") as icon:
        return icon.read()


@pytest.mark.django_db
def test_the_vendor_site_has_an_icon(client):
    assert _icon_behind(client).startswith(ICO_HEADER)
    page = client.get("/").content.decode()
    assert '<link rel="icon" href="/static/kaitong/favicon.svg" type="image/svg+xml">' in page
    assert client.get("/static/kaitong/favicon.svg").status_code == 200


@pytest.mark.django_db
@pytest.mark.urls("kaitong_sim.site_urls")
def test_the_simulator_has_an_icon_of_its_own(client):
    icon = _icon_behind(client)
    assert icon.startswith(ICO_HEADER)
    with open(finders.find("kaitong/favicon.ico"), "rb") as vendors:  # type: ignore[arg-type]
        assert icon != vendors.read()  # two sites in two tabs: told apart at a glance
    assert '<link rel="icon" href="/static/simulator/favicon.svg"' in client.get("/").content.decode()
