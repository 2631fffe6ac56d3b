import pytest
from hypothesis import settings as hypothesis_settings

# No per-example deadline: timing is a benchmark's business (bench/), never a test's, and on this shared
# 2-core machine an example that takes 200 ms under load failed property tests that had nothing wrong.
hypothesis_settings.register_profile("kaitong", deadline=None)
hypothesis_settings.load_profile("kaitong")


@pytest.fixture(autouse=True)
def _isolated_settings(settings):  # type: ignore[no-untyped-def]
    """Every test sees the test configuration; tests that change settings get them restored."""
    yield settings
