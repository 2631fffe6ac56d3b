"""A time that could not be read back never reaches a marketplace row, so no list page can fall over it
(issue 10, item 1).

Before the CHECK constraints, a year-1 expiry written on PostgreSQL (directly in SQL, or by the SPI
before it refused such times) turned the operator's instance list, the instance's page, the workspace
list, the instance's login-free entry and every later SPI call for it into 500s and 503s; on SQLite an
impossible date or a year-9999 time did the same. The database now refuses such a write from anyone.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from kaitong.accounts.models import ConsoleAccount
from kaitong.marketplace.domain import EARLIEST_TIME, END_OF_TIME
from kaitong.marketplace.models import MarketplaceInstance
from tests.support import accounts, billing
from tests.support.activation import verify_url
from tests.support.marketplace import call_spi, create_params

# Times each database would store but Python could not read back or show in Beijing time.
UNREADABLE = {
    "postgresql": [
        "0001-01-01 00:00:00+08",  # what expiredOn=0001-01-01 00:00:00 Beijing became: a year before year 1
        "infinity",
        "-infinity",
        "2026-01-01 00:00:00 BC",
        "9999-12-31 23:00:00+00",  # readable, but overflows when shown in Beijing time
    ],
    "sqlite": [
        "9999-12-31 23:00:00",
        "2026-02-30 00:00:00",
        "2026-13-01 00:00:00",
        "2026-11-30 24:00:00",
        "0001-01-01 00:00:00",
        "not a time",
    ],
}


def _write(table: str, column: str, value: str) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s", [value])  # noqa: S608 - our own table names


LAST_INSTANT = END_OF_TIME - timedelta(seconds=1)


def _operator_pages_work(client) -> None:  # type: ignore[no-untyped-def]
    """The operator's pages that read the instance row: the lists and the instance's own page."""
    client.force_login(ConsoleAccount.objects.filter(username="ops").first() or accounts.operator("ops"))
    instance = MarketplaceInstance.objects.get(instance_id="800001")
    for path in (
        "/ops/marketplace/marketplaceinstance/",
        f"/ops/marketplace/marketplaceinstance/{instance.pk}/change/",
        "/ops/marketplace/spicall/",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "800001" in page.text, path
    # The workspace list reads the instance of every cloud-settled workspace (list_select_related).
    assert client.get("/ops/workspaces/workspace/").status_code == 200
    client.logout()


def _every_page_works(client) -> None:  # type: ignore[no-untyped-def]
    """The operator's pages, then the buyer's way in and the SPI (which expires the instance)."""
    _operator_pages_work(client)
    assert client.get(verify_url("800001")).status_code == 302
    assert call_spi(client, {"action": "expiredInstance", "instanceId": "800001"}) == {"success": True}


@pytest.fixture
def settled_instance(db):  # type: ignore[no-untyped-def]
    """Instance 800001, settling a workspace (so the workspace list reads it too)."""
    billing.workspaces(1, instance_ids=["800001"])
    return MarketplaceInstance.objects.get(instance_id="800001")


@pytest.mark.parametrize("index", range(6))
def test_an_unreadable_expiry_is_refused_by_the_database(client, settled_instance, index):
    values = UNREADABLE[connection.vendor]
    if index >= len(values):
        pytest.skip(f"{len(values)} values on {connection.vendor}")
    with pytest.raises(DatabaseError):
        _write("marketplace_marketplaceinstance", "expires_at", values[index])
    _every_page_works(client)


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("marketplace_marketplaceinstance", "created_at"),
        ("marketplace_marketplaceinstance", "updated_at"),
        ("marketplace_marketplaceinstance", "reconciled_at"),
        ("marketplace_marketplaceinstance", "unreconciled_since"),
        ("marketplace_marketplaceinstance", "drift_alarm_at"),
        ("marketplace_spicall", "received_at"),
        ("marketplace_instanceevent", "at"),
    ],
)
def test_every_other_marketplace_time_is_kept_readable_too(client, settled_instance, table, column):
    with pytest.raises(DatabaseError):
        _write(table, column, UNREADABLE[connection.vendor][0])
    _every_page_works(client)


def test_the_window_edges_are_stored_and_read_back(client, settled_instance):
    for moment in (EARLIEST_TIME, LAST_INSTANT):
        MarketplaceInstance.objects.filter(pk=settled_instance.pk).update(expires_at=moment)
        assert MarketplaceInstance.objects.get(pk=settled_instance.pk).expires_at == moment
        _operator_pages_work(client)


@pytest.mark.django_db(transaction=True)
def test_times_stored_before_the_constraints_are_moved_into_the_window(client):
    """A database that took a year-1 expiry before this version (0006): the migration moves it to the window's
    first instant (for the lifecycle both have long passed) and a far-future one to its last, and the
    pages work again."""
    executor = MigrationExecutor(connection)
    executor.migrate([("marketplace", "0005_reconciliation")])
    try:
        for instance_id in ("800001", "800002"):
            call_spi(client, create_params(instance_id))
        year_one, far_future = (
            ("0001-01-01 00:00:00+08", "infinity")
            if connection.vendor == "postgresql"
            else ("0001-01-01 00:00:00", "9999-12-31 23:00:00")
        )
        with connection.cursor() as cursor:
            sql = "UPDATE marketplace_marketplaceinstance SET expires_at = %s WHERE instance_id = %s"
            cursor.execute(sql, [year_one, "800001"])
            cursor.execute(sql, [far_future, "800002"])
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    expiries = dict(MarketplaceInstance.objects.values_list("instance_id", "expires_at"))
    assert expiries["800001"] == EARLIEST_TIME
    assert expiries["800002"] == LAST_INSTANT
    _operator_pages_work(client)
    # The lifecycle reads the moved expiries as it read the old ones: long passed, far ahead.
    assert call_spi(client, {"action": "expiredInstance", "instanceId": "800001"}) == {"success": True}
    assert MarketplaceInstance.objects.get(instance_id="800001").state == "expired"
    assert call_spi(client, {"action": "expiredInstance", "instanceId": "800002"}) == {"success": True}
    assert MarketplaceInstance.objects.get(instance_id="800002").state == "active"
