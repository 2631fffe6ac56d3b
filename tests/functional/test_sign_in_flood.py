"""A flood of anonymous sign-ins cannot take the SPI's capacity (issue 10, item 8).

Password hashing is capped (one Argon2 hash at a time per process and per machine; a hash that waits
too long is a 429 with Retry-After and a page saying to try again shortly), and in each server process
other pages may hold all but the SPI's reserved threads. Hashes here are held open on purpose (``HeldHashing``), so
nothing depends on how fast this machine hashes. The latency goal itself is measured by
``bench/spi.py flood``, not here.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, check_password, make_password
from django.core.handlers.wsgi import WSGIHandler

from kaitong.accounts import hashers
from kaitong.config import capacity
from kaitong.marketplace.models import MarketplaceInstance
from tests.support.activation import STRONG_PASSWORD, confirming, enter, existing_account, request_code, submit
from tests.support.marketplace import SPI_PATH, create_params, spi_query
from tests.support.pool_server import pool_server

BUSY = "我们暂时无法处理您的请求"  # unavailable.html: "… please reload in N seconds"


class HeldHashing:
    """Django's Argon2, except that while ``held`` every hash stops inside the hasher until released;
    it also records the most hashes ever in progress at once."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Semaphore(0)
        self.lock = threading.Lock()
        self.in_progress = 0
        self.most_at_once = 0

    def hold(self) -> None:
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def held(hasher: Any, *args: Any) -> Any:
            with self.lock:
                self.in_progress += 1
                self.most_at_once = max(self.most_at_once, self.in_progress)
            self.started.release()
            try:
                assert self.gate.wait(timeout=60), "a held hash was never released"
                return original(hasher, *args)
            finally:
                with self.lock:
                    self.in_progress -= 1

        return held

    def wait_started(self) -> None:
        assert self.started.acquire(timeout=30), "no hash started"


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldHashing]:
    hashing = HeldHashing()
    monkeypatch.setattr(Argon2PasswordHasher, "encode", hashing.wrap(Argon2PasswordHasher.encode))
    monkeypatch.setattr(Argon2PasswordHasher, "verify", hashing.wrap(Argon2PasswordHasher.verify))
    monkeypatch.setattr(hashers, "WAIT_SECONDS", 0.3)
    try:
        yield hashing
    finally:
        hashing.release()


def in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()
    return thread, result


class TestTheHashingCap:
    def test_concurrent_hashes_take_turns(self, held: HeldHashing, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(hashers, "WAIT_SECONDS", 30)
        held.hold()
        first, first_hash = in_thread(lambda: make_password("first password of the queue"))
        held.wait_started()
        waiting = [in_thread(lambda n=n: make_password(f"password number {n} in the queue")) for n in range(4)]
        time.sleep(0.3)
        assert held.in_progress == 1  # the other four wait their turn instead of hashing beside it
        held.release()
        for thread, _ in [(first, first_hash), *waiting]:
            thread.join(timeout=60)
        assert held.most_at_once == 1
        assert check_password("first password of the queue", first_hash[0])
        assert all(check_password(f"password number {n} in the queue", r[0]) for n, (_, r) in enumerate(waiting))

    def test_a_hash_in_another_process_is_waited_for(self, monkeypatch: pytest.MonkeyPatch, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
        # Another gunicorn worker of this machine in the middle of a hash holds the machine's turn.
        settings.PASSWORD_HASHING_LOCK_FILE = tmp_path / "password-hashing.lock"
        hold = (
            "import fcntl, sys; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('holding', flush=True); sys.stdin.read()"
        )
        other = subprocess.Popen(
            [sys.executable, "-c", hold, str(settings.PASSWORD_HASHING_LOCK_FILE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert other.stdin and other.stdout and other.stdout.readline() == "holding\n"
        monkeypatch.setattr(hashers, "WAIT_SECONDS", 0.3)
        with pytest.raises(hashers.HashingBusy):
            make_password("a password that found the machine busy")
        monkeypatch.setattr(hashers, "WAIT_SECONDS", 30)
        waiting, result = in_thread(lambda: make_password("a password that waits its turn"))
        time.sleep(0.3)
        assert waiting.is_alive()  # still waiting for the other process
        other.stdin.close()
        other.wait(timeout=30)
        waiting.join(timeout=60)
        assert check_password("a password that waits its turn", result[0])

    @pytest.mark.django_db
    def test_a_sign_in_that_cannot_get_its_turn_is_told_to_retry(self, client, held: HeldHashing) -> None:  # type: ignore[no-untyped-def]
        existing_account("acme", "ops@acme.example")
        held.hold()
        blocker, _ = in_thread(lambda: make_password("someone else's password"))
        held.wait_started()
        # A known username with a wrong password and a username nobody has (Django hashes a dummy
        # password for it) wait in the same line: both answers are the same 429.
        for username in ("acme", "nobody-here"):
            response = client.post("/console/login/", {"username": username, "password": "wrong password 12345"})
            assert response.status_code == 429
            assert response["Retry-After"] == str(hashers.RETRY_AFTER_SECONDS)
            assert BUSY in response.content.decode()
            assert "_auth_user_id" not in client.session
        held.release()
        blocker.join(timeout=60)
        response = client.post("/console/login/", {"username": "acme", "password": STRONG_PASSWORD})
        assert response.status_code == 302 and "_auth_user_id" in client.session

    @pytest.mark.django_db
    def test_the_busy_page_speaks_english_too(self, client, held: HeldHashing) -> None:  # type: ignore[no-untyped-def]
        held.hold()
        blocker, _ = in_thread(lambda: make_password("someone else's password"))
        held.wait_started()
        response = client.post(
            "/console/login/", {"username": "acme", "password": "wrong password 12345"}, HTTP_ACCEPT_LANGUAGE="en"
        )
        held.release()
        blocker.join(timeout=60)
        assert response.status_code == 429
        assert "We cannot handle your request right now. Please reload the page in 2" in response.content.decode()

    @pytest.mark.django_db
    def test_a_registration_refused_for_lack_of_turn_keeps_its_code(self, client, held: HeldHashing) -> None:  # type: ignore[no-untyped-def]
        enter(client, "710001", ali_uid="5000000000000071")
        basic = "/activate/register/"
        code = request_code(client, basic, "boss@initech.example")
        form = confirming(
            {
                "username": "initech",
                "password1": STRONG_PASSWORD,
                "password2": STRONG_PASSWORD,
                "email": "boss@initech.example",
                "code": code,
                "phone": "",
            }
        )
        held.hold()
        blocker, _ = in_thread(lambda: make_password("someone else's password"))
        held.wait_started()
        refused = submit(client, basic, form)
        held.release()
        blocker.join(timeout=60)
        assert refused.status_code == 429 and BUSY in refused.content.decode()
        # The same code still works, from the page loaded afresh: the password is hashed before the code
        # is spent.
        response = submit(client, basic, form)
        assert response.status_code == 302 and response["Location"] == "/activate/register/enterprise/"


def csrf_pair(base: str) -> tuple[str, str]:
    conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=30)
    conn.request("GET", "/console/login/")
    response = conn.getresponse()
    page = response.read().decode()
    cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie") or "")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert cookie and token, page
    return cookie.group(1), token.group(1)


def request(base: str, method: str, path: str, body: str | None = None, cookie: str = "") -> tuple[int, Any, str]:
    conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=15)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={cookie}"}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    return response.status, response.headers, text


@pytest.mark.django_db(transaction=True)
def test_while_other_pages_hold_every_shared_thread_the_spi_is_still_served(held: HeldHashing, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # A worker of four threads: other pages may hold three, the fourth is kept for the SPI.
    threads = 4
    app = capacity.keep_threads_for_spi(WSGIHandler(), threads=threads)
    monkeypatch.setattr(hashers, "WAIT_SECONDS", 60)  # sign-ins wait for their turn as long as this test
    with pool_server(app, threads=threads) as base:
        cookie, token = csrf_pair(base)

        def sign_in(n: int) -> tuple[int, Any, str]:
            form = urlencode({"csrfmiddlewaretoken": token, "username": f"nobody{n}", "password": "wrong 123456789"})
            return request(base, "POST", "/console/login/", form, cookie)

        held.hold()
        slow = [in_thread(lambda n=n: sign_in(n)) for n in range(threads - capacity.reserved_threads(threads))]
        held.wait_started()
        deadline = time.monotonic() + 30
        while (answer := request(base, "GET", "/console/login/"))[0] != 503:  # until every shared thread is held
            assert time.monotonic() < deadline, "the sign-ins never held every shared thread"
            time.sleep(0.05)
        status, headers, page = answer
        assert headers["Retry-After"] == str(capacity.RETRY_AFTER_SECONDS) and BUSY in page
        status, headers, body = request(base, "POST", "/api/v1/usage/samples", "[]")
        assert status == 503 and headers["Content-Type"] == "application/json" and json.loads(body)["message"]

        # More sign-ins are refused at once instead of waiting for a thread (and taking the SPI's) …
        flood = [in_thread(lambda n=n: sign_in(100 + n)) for n in range(8)]
        for thread, _ in flood:
            thread.join(timeout=30)
        assert [result[0][0] for _, result in flood] == [503] * 8
        # … so the marketplace's call and the liveness probe are answered.
        status, _, body = request(base, "GET", SPI_PATH + "?" + spi_query(create_params("720001")))
        assert status == 200 and json.loads(body)["instanceId"] == "720001"
        assert MarketplaceInstance.objects.filter(instance_id="720001").exists()
        assert request(base, "GET", "/healthz")[0] == 200

        held.release()
        for thread, _ in slow:
            thread.join(timeout=60)
        assert [result[0][0] for _, result in slow] == [200] * len(slow)  # "用户名或密码错误", in the end
        assert request(base, "GET", "/console/login/")[0] == 200
