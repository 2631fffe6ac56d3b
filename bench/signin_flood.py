"""A flood of anonymous console sign-ins, run by bench/spi.py beside its SPI calls (issue 10, item 8).

``--clients`` threads post ``/console/login/`` as fast as they are answered, each attempt on a new
connection from a new loopback source address (127.1.0.0 and up, ``--first-address`` apart between
runs), so the per-address limit on failed sign-ins (30 an hour) never stops it before the password is
hashed. Usernames alternate between the ``--accounts`` seeded ones (``flood0000``…, wrong password;
10 failures an hour each before the per-username limit answers without hashing) and names nobody has
(Django hashes a dummy password for those, so that the answer takes as long). A real attacker ignores
``Retry-After``, and so does this one.

Runs until stdin closes or ``--seconds`` pass, then prints one JSON line: attempts per status.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import re
import sys
import threading
import time
import uuid
from collections import Counter
from urllib.parse import urlencode

LOGIN = "/console/login/"


def loopback_address(n: int) -> str:
    """The n-th source address of the flood: 127.1.0.0 and up, never 127.0.x.x (the SPI caller's)."""
    n += 1 << 16
    return f"127.{(n >> 16) & 0xFF}.{(n >> 8) & 0xFF}.{n & 0xFF}"


def csrf_pair(port: int) -> tuple[str, str]:
    """A CSRF cookie and a form token for it, fetched once: Django accepts the pair on every post."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", LOGIN)
    response = conn.getresponse()
    body = response.read().decode()
    cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie") or "")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    conn.close()
    if not cookie or not token:
        raise SystemExit(f"no CSRF token on {LOGIN} (status {response.status})")
    return cookie.group(1), token.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--accounts", type=int, default=500, help="seeded usernames flood0000…")
    parser.add_argument("--first-address", type=int, default=0, help="index of the first source address")
    args = parser.parse_args()

    cookie, token = csrf_pair(args.port)
    addresses = itertools.count(args.first_address)
    attempts = itertools.count()
    lock = threading.Lock()
    statuses: Counter[str] = Counter()
    stop = threading.Event()

    def attempt() -> str:
        with lock:
            address, n = loopback_address(next(addresses)), next(attempts)
        username = f"flood{n // 2 % args.accounts:04d}" if n % 2 == 0 else f"nobody-{uuid.uuid4().hex[:12]}"
        body = urlencode({"csrfmiddlewaretoken": token, "username": username, "password": "wrong password 12345"})
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30, source_address=(address, 0))
        try:
            conn.request(
                "POST",
                LOGIN,
                body=body,
                headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={cookie}"},
            )
            response = conn.getresponse()
            response.read()
            return str(response.status)
        except OSError as exc:
            return type(exc).__name__
        finally:
            conn.close()

    def client() -> None:
        while not stop.is_set():
            status = attempt()
            with lock:
                statuses[status] += 1

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    print("flooding", flush=True)
    waiter = threading.Thread(target=sys.stdin.read, daemon=True)
    waiter.start()
    waiter.join(timeout=args.seconds)
    stop.set()
    deadline = time.monotonic() + 35
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    with lock:
        print(json.dumps({"attempts": dict(statuses), "addresses": next(addresses) - args.first_address}), flush=True)


if __name__ == "__main__":
    main()
