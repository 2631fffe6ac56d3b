import pytest


@pytest.fixture(autouse=True)
def _isolated_settings(settings):  # type: ignore[no-untyped-def]
    """Every test sees the test configuration; tests that change settings get them restored."""
    yield settings
