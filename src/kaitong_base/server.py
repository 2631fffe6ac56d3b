"""Production serving for both web apps: gunicorn with threads, a Django WSGI app, and no access log.

The access log is off on purpose: the marketplace puts its token in the query string of every SPI
and login-free URL, and query strings must stay out of logs (reliability A.2).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def gunicorn_options(*, host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    """How the web apps are served; callers add or override keys."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "graceful_timeout": 20,
        "timeout": 60,
        "keepalive": 5,
        # The most gunicorn allows, and the bound on what it reads of a request line (0 would mean no
        # bound at all). Room for any query the SPI endpoint accepts; past it gunicorn answers 414, in
        # the application's JSON under client_errors.py's post_worker_init hook (kaitong serve sets it).
        "limit_request_line": 8190,
    }


def run_gunicorn(app: Any, options: dict[str, Any]) -> None:
    _Gunicorn(app, options).run()


def serve(
    *,
    wsgi: str,
    name: str,
    host: str,
    port: int,
    workers: int,
    threads: int,
    wrap: Callable[[Any], Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Serve the ``application`` of the WSGI module ``wsgi`` (a dotted path), announced as ``name``;
    ``wrap``, if given, wraps it (WSGI middleware that must know how the app is served); ``extra``
    gunicorn settings are added to (or override) ``gunicorn_options``."""
    app = importlib.import_module(wsgi).application
    if wrap is not None:
        app = wrap(app)
    print(f"{name} serving on http://{host}:{port}/", flush=True)
    options = gunicorn_options(host=host, port=port, workers=workers, threads=threads)
    run_gunicorn(app, {**options, **(extra or {})})
