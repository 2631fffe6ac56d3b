"""Every answer of the SPI path is the protocol's JSON, even those gunicorn gives before Django sees the
request (issue 10, item 5): driven through a real ``kaitong serve``.

gunicorn reads at most 8,190 bytes of a request line (the hard bound on memory) and answered a longer
one with its own HTML 414; a malformed request line got its HTML 400.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from django.db import connection

from tests.support.billing_simulator import kaitong
from tests.support.marketplace import SPI_PATH, create_params, spi_query
from tests.support.vendor_process import RunningVendor, start_vendor, vendor_environment

STORES = ("marketplace_spicall", "marketplace_marketplaceinstance", "marketplace_unauthenticatedcalltally")


@dataclass
class Server:
    vendor: RunningVendor
    database: Path

    def raw_get(self, target: str) -> tuple[int, dict[str, str], bytes]:
        """Send ``GET target HTTP/1.1`` byte for byte (no client library checks or rewrites the target);
        return the status, the headers (names in lower case) and the body."""
        address = urlsplit(self.vendor.url)
        request = f"GET {target} HTTP/1.1\r\nHost: {address.netloc}\r\nConnection: close\r\n\r\n"
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            sock.sendall(request.encode("latin-1"))
            received = b""
            with contextlib.suppress(ConnectionResetError):  # the server may close before reading it all
                while chunk := sock.recv(65536):
                    received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in header_lines)
        return int(status_line.split()[1]), {name.lower(): value for name, value in headers.items()}, body

    def count(self, table: str) -> int:
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608 - our tables


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``kaitong serve`` (gunicorn, one worker) on a SQLite file of its own: what is tested happens before
    any database is asked, so it runs once, in the SQLite pass."""
    if connection.vendor != "sqlite":
        pytest.skip("runs once, in the SQLite pass (the server has its own SQLite file)")
    directory = Path(tmp_path_factory.mktemp("gunicorn"))
    env = vendor_environment(f"sqlite:///{directory / 'vendor.sqlite3'}")
    migrated = kaitong(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    with start_vendor(env, directory, threads=2) as vendor:
        yield Server(vendor, directory / "vendor.sqlite3")


def _stored(server: Server) -> dict[str, int]:
    return {table: server.count(table) for table in STORES}


@pytest.mark.parametrize("query_bytes", [8_200, 9_000, 64_000])
def test_a_query_longer_than_the_request_line_limit_is_refused_in_json(server, query_bytes):
    # A signed createInstance padded past the limit: refused, whatever its token, and nothing stored.
    params = create_params("900001", padding="")
    params["padding"] = "p" * (query_bytes - len(spi_query(params)))
    query = spi_query(params)
    assert len(query) >= query_bytes - 1
    before = _stored(server)
    status, headers, body = server.raw_get(f"{SPI_PATH}?{query}")
    assert status == 414
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {
        "instanceId": "0",
        "success": False,
        "message": "request line too long (over 8190 bytes)",
    }
    assert _stored(server) == before


def test_a_malformed_request_line_is_refused_in_json(server):
    before = _stored(server)
    status, headers, body = server.raw_get(f"{SPI_PATH}?action=createInstance&orderBizId=1 2")
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"instanceId": "0", "success": False, "message": "malformed request"}
    assert _stored(server) == before


def test_the_longest_query_gunicorn_reads_is_refused_by_the_endpoint_in_json(server):
    # Just under the request-line limit the endpoint itself answers (a value over 512 characters).
    params = create_params("900002", padding="")
    params["padding"] = "p" * (8_100 - len(urlencode(params)))
    before = server.count("marketplace_marketplaceinstance")
    status, headers, body = server.raw_get(f"{SPI_PATH}?{spi_query(params)}")
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"instanceId": "0", "success": False, "message": "parameter too long: padding"}
    assert server.count("marketplace_marketplaceinstance") == before


def test_the_same_server_serves_a_signed_create(server):
    # The control: this server and its database do store what they should.
    before = server.count("marketplace_marketplaceinstance")
    status, _, body = server.raw_get(f"{SPI_PATH}?{spi_query(create_params('900003'))}")
    assert status == 200 and json.loads(body)["instanceId"] == "900003"
    assert server.count("marketplace_marketplaceinstance") == before + 1
