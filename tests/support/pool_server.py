"""A WSGI server with a fixed pool of threads, as ``kaitong serve``'s gunicorn worker has (gthread).

Like gthread, it hands every accepted connection to a pool of ``threads`` threads; when all are busy,
connections wait in line. pytest-django's live server starts a thread per request instead, so no
page could ever take the SPI's thread there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.db import connections


class _PoolServer(WSGIServer):
    pool: ThreadPoolExecutor

    def process_request(self, request: Any, client_address: Any) -> None:
        self.pool.submit(self._serve_one, request, client_address)

    def _serve_one(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            connections.close_all()  # each pool thread has its own; none may outlive the test


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def pool_server(app: Callable[..., Any], *, threads: int) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 with ``threads`` threads; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, server_class=_PoolServer, handler_class=_Quiet)
    server.pool = ThreadPoolExecutor(threads, thread_name_prefix="pool-server")
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    loop.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.pool.shutdown(wait=True)
        server.server_close()
