"""The settings of the test session (and of the type checker): the vendor's test settings plus the
simulator's app and configuration, so that the simulator's in-process tests (``tests/simulator/``)
drive it and the vendor's real SPI endpoint on one test database.

Only here do the two meet: the vendor's own settings never name the simulator, and the simulator
process runs on ``kaitong_sim.settings`` alone.
"""

from kaitong.config.settings_test import *  # noqa: F403
from kaitong_sim.config import load_config

INSTALLED_APPS = [*INSTALLED_APPS, "kaitong_sim"]  # noqa: F405
SIMULATOR = load_config()
