"""The simulator as a process: its own delivery loop calling a real HTTP vendor stub, with retries."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx

from kaitong.marketplace.aliyun.token import token_is_valid
from tests.support.simulator import ISV_KEY, start_simulator

ANSWERS = [(200, b"<html>I am not JSON</html>"), (500, b"oops"), (200, b'{"instanceId":"0"}')]


class Vendor(BaseHTTPRequestHandler):
    calls: list[dict[str, str]] = []

    def do_GET(self) -> None:
        params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        Vendor.calls.append(params)
        n = len(Vendor.calls)
        if not token_is_valid(params, ISV_KEY):
            status, body = 200, b'{"success":false,"message":"bad token"}'
        elif n <= len(ANSWERS):
            status, body = ANSWERS[n - 1]
        else:
            status, body = 200, json.dumps({"instanceId": params.get("orderBizId", "x"), "appInfo": {}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_loop_retries_garbage_until_the_vendor_answers(tmp_path: Path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Vendor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Vendor.calls = []
    try:
        with start_simulator(tmp_path, spi_url=f"http://127.0.0.1:{server.server_port}/spi") as sim:
            instance = sim.create_instance()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                [delivery] = sim.state()["deliveries"]
                if delivery["state"] == "delivered":
                    break
                time.sleep(0.2)
            assert delivery["state"] == "delivered", delivery
            reasons = [a["reason"] for a in delivery["attempt_rows"]]
            assert reasons[:3] == ["the answer is not JSON", "HTTP 500", "instanceId is 0: the vendor is not ready yet"]
            assert reasons[3] == "ok" and delivery["attempts"] == 4
            assert all(call["action"] == "createInstance" for call in Vendor.calls)
            assert Vendor.calls[0]["orderBizId"] == instance["instanceId"]
            assert sim.state()["instances"][0]["status"] == "opened"
    finally:
        server.shutdown()


def test_vendor_down_keeps_retrying_and_says_why(tmp_path: Path):
    with start_simulator(tmp_path, spi_url="http://127.0.0.1:9/spi") as sim:
        sim.create_instance()
        time.sleep(1.5)
        [delivery] = sim.state()["deliveries"]
        assert delivery["state"] == "pending" and delivery["attempts"] >= 2
        assert "cannot reach the vendor" in delivery["last_error"]
        assert "cannot reach the vendor" in httpx.get(sim.url + "/ops/").text


def test_no_token_reaches_the_log(tmp_path: Path):
    """The SPI URL carries the token; the simulator's log (INFO in the demo) must never show it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Vendor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Vendor.calls = []
    try:
        spi_url = f"http://127.0.0.1:{server.server_port}/spi"
        with start_simulator(tmp_path, spi_url=spi_url, KAITONG_ENV="demo") as sim:
            sim.create_instance()
            time.sleep(1.5)
            assert Vendor.calls, "the vendor stub was never called"
            log = sim.log()
    finally:
        server.shutdown()
    assert "token=" not in log and Vendor.calls[0]["token"] not in log
