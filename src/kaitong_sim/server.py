"""Run the simulator: migrate its own database, then serve it with gunicorn.

One gunicorn worker with threads serves the pages and the OpenAPI; the SPI delivery loop runs as a
thread inside that worker (started by gunicorn's ``post_worker_init`` hook) and stops with it. Several
simulator processes may share one database: each delivery is leased to the loop that sends it
(``kaitong_base.claims``), so no two loops send the same delivery at once.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from kaitong_base.server import gunicorn_options, run_gunicorn


def _start_delivery(worker: Any) -> None:
    from kaitong_sim.delivery import start_in_thread

    start_in_thread()


def setup() -> None:
    """Configure Django for the simulator (its own settings, whatever the environment names) and
    migrate its database; a bad configuration stops here with a message naming the variable."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "kaitong_sim.settings"
    from kaitong_sim.config import ConfigError, load_config

    try:
        load_config()
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

    from kaitong_sim.wsgi import application

    print(
        f"kaitong simulator (Alibaba Cloud Marketplace, simulated) on http://{host}:{port}/\n"
        f"  Market OpenAPI endpoint: {host}:{port} (protocol http)\n"
        f"  SPI calls go to: {settings.SIMULATOR.spi_url}",
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
