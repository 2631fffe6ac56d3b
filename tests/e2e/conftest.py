"""Browser tests drive Debian's chromium (never a downloaded browser)."""

from __future__ import annotations

import os
from typing import Any

import pytest

# Sync Playwright runs an event loop in the test thread; Django's ORM calls from it are safe here
# (microsoft/playwright-pytest#29).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}
