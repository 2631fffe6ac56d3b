"""The simulator as a process: started as its own program, its delivery loop calling a real HTTP vendor
stub (retries, leases shared by two processes on one database), and its start-up checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from kaitong.marketplace.aliyun.token import token_is_valid
from tests.support.simulator import ISV_KEY, VendorStub, serving, start_simulator

ANSWERS = [(200, b"<html>I am not JSON</html>"), (500, b"oops"), (200, b'{"instanceId":"0"}')]


def opened(params: dict[str, str]) -> bytes:
    return json.dumps({"instanceId": params.get("orderBizId", "x"), "appInfo": {}}).encode()


class Vendor(VendorStub):
    """Checks the token, then answers badly three times (not JSON, HTTP 500, not ready) before success."""

    calls: list[dict[str, str]] = []

    def answer(self, params: dict[str, str]) -> tuple[int, bytes]:
        Vendor.calls.append(params)
        n = len(Vendor.calls)
        if not token_is_valid(params, ISV_KEY):
            return 200, b'{"success":false,"message":"bad token"}'
        if n <= len(ANSWERS):
            return ANSWERS[n - 1]
        return 200, opened(params)


def delivered(state: dict) -> bool:
    return all(delivery["state"] == "delivered" for delivery in state["deliveries"])


def test_loop_retries_garbage_until_the_vendor_answers(tmp_path: Path):
    Vendor.calls = []
    with serving(Vendor) as spi_url, start_simulator(tmp_path, spi_url=spi_url) as sim:
        instance = sim.create_instance()
        [delivery] = sim.wait_for(delivered)["deliveries"]
        reasons = [a["reason"] for a in delivery["attempt_rows"]]
        assert reasons[:3] == ["the answer is not JSON", "HTTP 500", "instanceId is 0: the vendor is not ready yet"]
        assert reasons[3] == "ok" and delivery["attempts"] == 4
        assert all(call["action"] == "createInstance" for call in Vendor.calls)
        assert Vendor.calls[0]["orderBizId"] == instance["instanceId"]
        assert sim.state()["instances"][0]["status"] == "opened"


def test_vendor_down_keeps_retrying_and_says_why(tmp_path: Path):
    with start_simulator(tmp_path, spi_url="http://127.0.0.1:9/spi") as sim:
        sim.create_instance()
        [delivery] = sim.wait_for(lambda state: state["deliveries"][0]["attempts"] >= 2)["deliveries"]
        assert delivery["state"] == "pending"
        assert "cannot reach the vendor" in delivery["last_error"]
        assert "cannot reach the vendor" in httpx.get(sim.url + "/ops/").text


def test_no_token_reaches_the_log(tmp_path: Path):
    """The SPI URL carries the token; the simulator's log (INFO in the demo) must never show it."""
    Vendor.calls = []
    with serving(Vendor) as spi_url, start_simulator(tmp_path, spi_url=spi_url, KAITONG_ENV="demo") as sim:
        sim.create_instance()
        sim.wait_for(delivered)
        assert Vendor.calls, "the vendor stub was never called"
        log = sim.log()
    assert "token=" not in log and Vendor.calls[0]["token"] not in log


class SlowVendor(VendorStub):
    """Answers createInstance with success after a pause, counting calls per purchase (orderBizId)."""

    calls: Counter[str] = Counter()

    def answer(self, params: dict[str, str]) -> tuple[int, bytes]:
        SlowVendor.calls[params["orderBizId"]] += 1
        time.sleep(0.3)
        return 200, opened(params)


def test_two_simulators_on_one_database_send_each_delivery_once(tmp_path: Path):
    """Each delivery is leased to the loop sending it: the other loop never sends it at the same time."""
    SlowVendor.calls = Counter()
    shared = {"KAITONG_SIMULATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        serving(SlowVendor) as spi_url,
        start_simulator(tmp_path / "a", spi_url=spi_url, **shared) as one,
        start_simulator(tmp_path / "b", spi_url=spi_url, **shared),
    ):
        bought = [one.create_instance()["instanceId"] for _ in range(8)]
        deliveries = one.wait_for(delivered, seconds=30)["deliveries"]
    assert all(d["state"] == "delivered" and d["attempts"] == 1 for d in deliveries), deliveries
    assert SlowVendor.calls == Counter(bought)  # every purchase called exactly once


def test_kaitong_simulator_runs_the_simulator_program(tmp_path: Path):
    """``kaitong simulator`` becomes the simulator's own program: same process, no vendor code loaded."""
    with start_simulator(tmp_path, command=(sys.executable, "-m", "kaitong.cli", "simulator")) as sim:
        assert httpx.get(sim.url + "/healthz").text == "ok"
        command_line = Path(f"/proc/{sim.process.pid}/cmdline").read_bytes().split(b"\0")
        assert command_line[1:3] == [b"-m", b"kaitong_sim"]


def test_a_bad_variable_stops_it_at_once_naming_the_variable(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        KAITONG_SIMULATOR_DATABASE_URL=f"sqlite:///{tmp_path / 'sim.sqlite3'}", KAITONG_SIMULATOR_MAX_ATTEMPTS="0"
    )
    result = subprocess.run(
        [sys.executable, "-m", "kaitong_sim", "--port", "9"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "KAITONG_SIMULATOR_MAX_ATTEMPTS" in result.stderr


def test_pages_are_served_with_a_csp_and_their_own_script_and_stylesheet(tmp_path: Path):
    """The simulator's pages allow scripts and styles from its own origin only (nothing inline), and it
    serves those files itself (there is no collectstatic step in a simulator)."""
    with start_simulator(tmp_path) as sim:
        page = httpx.get(sim.url + "/")
        policy = {
            directive.split()[0]: directive.split()[1:]
            for directive in page.headers["Content-Security-Policy"].split(";")
            if directive.strip()
        }
        assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
        assert policy["default-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]
        assert "form-action" not in policy  # 免登 posts here and is redirected on to the vendor
        assert '<link rel="stylesheet" href="/static/simulator/sim.css">' in page.text
        for path, kind in (("/static/simulator/console.js", "javascript"), ("/static/simulator/sim.css", "css")):
            served = httpx.get(sim.url + path)
            assert served.status_code == 200 and kind in served.headers["Content-Type"]
