"""The settings of the test session (and of the type checker): the vendor's test settings plus the
simulator's app and configuration, so that the simulator's in-process tests (``tests/simulator/``)
drive it and the vendor's real SPI endpoint on one test database.

Only here do the two meet: the vendor's own settings never name the simulator, and the simulator
process runs on ``kaitong_sim.settings`` alone.
"""

from pathlib import Path

from kaitong.config.settings_test import *  # noqa: F403
from kaitong_sim.config import load_config

INSTALLED_APPS = [*INSTALLED_APPS, "kaitong_sim"]  # noqa: F405
SIMULATOR = load_config()


# SQLite tests use a file beside the configured one (not Django's shared in-memory database), so that
# tests of racing requests run on separate connections with the production options: WAL, IMMEDIATE
# transactions, busy_timeout (shared-cache memory databases answer "table is locked" instead of waiting).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    _configured = Path(DATABASES["default"]["NAME"])  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(_configured.with_name(f"test-{_configured.name}"))}  # noqa: F405
