import pytest
import pytest_django.plugin
from hypothesis import settings as hypothesis_settings

from kaitong.sms.backends import LocmemSmsBackend

# No per-example deadline: timing is a benchmark's business (bench/), never a test's, and on this shared
# 2-core machine an example that takes 200 ms under load failed property tests that had nothing wrong.
hypothesis_settings.register_profile("kaitong", deadline=None)
hypothesis_settings.load_profile("kaitong")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Transactional tests run after all others, as pytest-django orders them. pytest-django sorts first,
    then pytest regroups tests by session-scoped parameters (playwright's ``browser_name``), which put the
    browser tests in the middle: their flush at the end emptied the price lists that later tests read.
    The sort is stable, so sorting again keeps pytest's grouping inside each kind."""
    pytest_django.plugin.pytest_collection_modifyitems(items)


@pytest.fixture(autouse=True)
def _isolated_settings(settings):  # type: ignore[no-untyped-def]
    """Every test sees the test configuration; tests that change settings get them restored."""
    yield settings


@pytest.fixture(autouse=True)
def _empty_sms_outbox() -> None:
    """Like ``mail.outbox``: every test starts with no SMS sent."""
    LocmemSmsBackend.outbox.clear()
