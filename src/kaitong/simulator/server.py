"""``kaitong simulator``: migrate the simulator's own database, then serve it with gunicorn.

One gunicorn worker with threads serves the pages and the OpenAPI; the SPI delivery loop runs as a
thread inside that worker (started by gunicorn's ``post_worker_init`` hook), so exactly one loop
delivers, and it stops with the worker.
"""

from __future__ import annotations

import os
import sys
from typing import Any

# The vendor's own gunicorn set-up, reused: same options, plus a hook to start the delivery loop.
from kaitong.config.server import gunicorn_options, run_gunicorn


def _start_delivery(worker: Any) -> None:
    from kaitong.simulator.delivery import start_in_thread

    start_in_thread()


def setup() -> None:
    """Configure Django for the simulator (never the vendor's settings) and migrate its database."""
    # The simulator never runs in production; without KAITONG_ENV it uses the demo's well-known secrets.
    os.environ.setdefault("KAITONG_ENV", "demo")
    os.environ["DJANGO_SETTINGS_MODULE"] = "kaitong.simulator.settings"
    from kaitong.config.env import ConfigError, load_env

    try:
        load_env()
    except ConfigError as exc:
        sys.exit(str(exc))
    import django
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    connections.close_all()


def run_simulator(*, host: str, port: int) -> None:
    setup()
    from django.conf import settings

    from kaitong.simulator.wsgi import application

    env = settings.ENV
    print(
        f"kaitong simulator (Alibaba Cloud Marketplace, simulated) on http://{host}:{port}/\n"
        f"  Market OpenAPI endpoint: {host}:{port} (protocol http)\n"
        f"  SPI calls go to: {env.simulator_spi_url}",
        flush=True,
    )
    options = {
        **gunicorn_options(host=host, port=port, workers=1, threads=8),
        "graceful_timeout": 5,
        # PushMeteringData puts up to 100 records in the query string, as the SDK sends it.
        "limit_request_line": 0,
        "post_worker_init": _start_delivery,
    }
    run_gunicorn(application, options)
