"""已购买的服务's demo clock: 推进时钟 moves the clock of the whole demo forward (the offset file every
demo process reads), never back; without the file (not a demo) there is no control and nothing moves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from kaitong_base import clock
from kaitong_sim import actions
from tests.support import html

pytestmark = [pytest.mark.django_db, pytest.mark.urls("kaitong_sim.site_urls")]


@pytest.fixture
def demo_clock(settings, tmp_path, monkeypatch):
    path = tmp_path / "demo-clock-offset"
    settings.SIMULATOR = settings.SIMULATOR.model_copy(update={"clock_offset_file": str(path)})
    monkeypatch.setattr(clock, "REREAD_SECONDS", 0)
    clock.install(path)
    yield path
    clock.uninstall()


@pytest.fixture
def buyer() -> Client:
    actions.do_create_account(name="张三", uid="1234567890123456", is_ram=False, main_uid="", now=timezone.now())
    client = Client()
    client.post("/signin/", {"uid": "1234567890123456", "next": "/console/"})
    return client


def test_advancing_moves_the_demos_time_and_the_page_says_so(buyer, demo_clock):
    before = timezone.now()
    page = buyer.get("/console/").content.decode()
    assert "比真实时间快" not in html.text(page, "demo-clock")

    response = buyer.post("/console/clock/", {"days": "14"})

    assert response.status_code == 302 and response["Location"] == "/console/?notice=clock"
    assert clock.read_offset(demo_clock) == timedelta(days=14)
    assert timezone.now() - before >= timedelta(days=14)
    # (The test settings keep sessions in the database, where 14 days end them: sign in again.)
    buyer.post("/signin/", {"uid": "1234567890123456", "next": "/console/"})
    page = buyer.get("/console/?notice=clock").content.decode()
    assert "比真实时间快 14 天" in html.text(page, "demo-clock-ahead")
    assert html.texts(page, "clock-moved")
    buyer.post("/console/clock/", {"days": "3"})
    assert clock.read_offset(demo_clock) == timedelta(days=17)


@pytest.mark.parametrize("days", ["0", "-1", "15", "1.5", "", "x"])
def test_only_the_offered_steps_forward(buyer, demo_clock, days):
    response = buyer.post("/console/clock/", {"days": days})
    assert response.status_code == 400 and "1–14" in response.content.decode()
    assert clock.read_offset(demo_clock) == timedelta(0)


def test_the_hook_for_tests(demo_clock):
    response = Client().post("/_sim/clock", data={"days": 7}, content_type="application/json")
    assert response.status_code == 200 and response.json()["offset_seconds"] == 7 * 86400


def test_outside_the_demo_there_is_no_clock(buyer, settings):
    assert not settings.SIMULATOR.clock_offset_file
    assert "demo-clock" not in buyer.get("/console/").content.decode()
    assert buyer.post("/console/clock/", {"days": "1"}).status_code == 409
    assert Client().post("/_sim/clock", data={"days": 1}, content_type="application/json").status_code == 409
