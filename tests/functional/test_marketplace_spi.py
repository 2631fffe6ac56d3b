"""The SPI endpoint, driven as the marketplace drives it: signed GETs on one URL."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client

from kaitong.marketplace.aliyun.spi import BEIJING
from kaitong.marketplace.aliyun.token import signed
from kaitong.marketplace.models import InstanceEvent, MarketplaceInstance, SpiCall
from tests.support.marketplace import SPI_PATH, call_spi, create_params, isv_key, spi_query

pytestmark = pytest.mark.django_db


def renew(instance_id="100001", expired_on="2030-12-31 23:59:59", order="300001"):
    return {"action": "renewInstance", "instanceId": instance_id, "orderId": order, "expiredOn": expired_on}


class TestCreateInstance:
    def test_create_answers_instance_id_and_auth_url(self, client):
        body = call_spi(client, create_params("100001", Count="2", package_version="yuncode1"))
        assert body == {"instanceId": "100001", "appInfo": {"authUrl": "http://testserver/marketplace/aliyun/sso"}}
        instance = MarketplaceInstance.objects.get(instance_id="100001")
        assert (instance.state, instance.ali_uid, instance.trial) == ("active", "1234567890123456", False)
        assert instance.extra == {"Count": "2", "package_version": "yuncode1"}
        assert InstanceEvent.objects.filter(instance=instance, action="createInstance").count() == 1

    def test_repeated_create_gives_the_same_answer_and_one_instance(self, client):
        first = call_spi(client, create_params("100002"))
        second = call_spi(client, create_params("100002"))
        assert first == second
        assert MarketplaceInstance.objects.filter(instance_id="100002").count() == 1
        assert InstanceEvent.objects.filter(instance__instance_id="100002").count() == 1

    def test_post_form_is_accepted(self, client):
        body = urlencode(signed(create_params("100003"), isv_key()))
        response = client.post(SPI_PATH, data=body, content_type="application/x-www-form-urlencoded")
        assert response.json()["instanceId"] == "100003"

    def test_trial_with_expiry_in_beijing_time(self, client):
        call_spi(client, create_params("100004", trial="true", expiredOn="2026-12-31 23:59:59"))
        instance = MarketplaceInstance.objects.get(instance_id="100004")
        assert instance.trial is True
        assert instance.expires_at.isoformat() == "2026-12-31T15:59:59+00:00"


class TestLifecycleThroughTheEndpoint:
    def test_whole_life(self, client):
        call_spi(client, create_params("200001"))
        assert call_spi(client, {"action": "expiredInstance", "instanceId": "200001"}) == {"success": True}
        assert MarketplaceInstance.objects.get(instance_id="200001").state == "expired"
        assert call_spi(client, renew("200001")) == {"success": True}
        instance = MarketplaceInstance.objects.get(instance_id="200001")
        assert instance.state == "active" and instance.expires_at.year == 2030
        # A stale expiredInstance after the renew is acknowledged and changes nothing.
        assert call_spi(client, {"action": "expiredInstance", "instanceId": "200001"}) == {"success": True}
        assert MarketplaceInstance.objects.get(instance_id="200001").state == "active"
        assert call_spi(
            client, {"action": "upgradeInstance", "instanceId": "200001", "skuId": "pro", "orderId": "300002"}
        ) == {"success": True}
        assert MarketplaceInstance.objects.get(instance_id="200001").sku_id == "pro"
        assert call_spi(client, {"action": "releaseInstance", "instanceId": "200001", "isRefund": "false"}) == {
            "success": True
        }
        assert MarketplaceInstance.objects.get(instance_id="200001").state == "released"
        refused = call_spi(client, renew("200001", order="300003"))
        assert refused["success"] is False and "released" in refused["message"]
        assert MarketplaceInstance.objects.get(instance_id="200001").state == "released"
        assert [e.action for e in InstanceEvent.objects.filter(instance__instance_id="200001")] == [
            "createInstance",
            "expiredInstance",
            "renewInstance",
            "upgradeInstance",
            "releaseInstance",
        ]

    def test_expiry_never_moves_backwards(self, client):
        call_spi(client, create_params("200002"))
        call_spi(client, renew("200002", "2031-01-01 00:00:00", order="a"))
        call_spi(client, renew("200002", "2030-01-01 00:00:00", order="b"))
        assert MarketplaceInstance.objects.get(instance_id="200002").expires_at == datetime(2031, 1, 1, tzinfo=BEIJING)

    def test_unknown_instance_expire_and_release_are_acknowledged(self, client):
        assert call_spi(client, {"action": "expiredInstance", "instanceId": "404"}) == {"success": True}
        assert call_spi(client, {"action": "releaseInstance", "instanceId": "404", "isRefund": "true"}) == {
            "success": True
        }
        assert not MarketplaceInstance.objects.exists()

    def test_replaying_every_recorded_call_changes_nothing(self, client):
        queries = [
            spi_query(create_params("200003")),
            spi_query(renew("200003")),
            spi_query({"action": "upgradeInstance", "instanceId": "200003", "skuId": "pro", "orderId": "9"}),
        ]
        for query in queries:
            client.get(SPI_PATH + "?" + query)
        snapshot = list(MarketplaceInstance.objects.values())
        for query in queries:
            client.get(SPI_PATH + "?" + query)
        assert list(MarketplaceInstance.objects.values()) == snapshot


class TestBadInput:
    @pytest.mark.parametrize(
        ("query", "message"),
        [
            (lambda: spi_query(create_params("1"), key="wrong-key"), "invalid token"),
            (lambda: urlencode(create_params("1")), "missing token"),
            (lambda: spi_query(create_params("1", trial="yes")), "trial must be true or false"),
            (lambda: spi_query(create_params("1", expiredOn="2026/01/01")), "expiredOn must be"),
            (lambda: spi_query(create_params("1", expiredOn="2026-02-30 00:00:00")), "not a real date"),
            (lambda: spi_query({"action": "createInstance", "orderBizId": "1"}), "missing parameter"),
            (lambda: spi_query(create_params("1")) + "&orderBizId=1", "duplicate parameter"),
            (lambda: spi_query(create_params("1", junk="x" * 9000)), "too"),
            (lambda: spi_query(create_params("1; DROP TABLE"), key=None), "not a valid identifier"),
            # Identifiers and times are matched in full and in ASCII only (issue 10, item 3).
            (lambda: spi_query(create_params("abc\n")), "control characters"),
            (lambda: spi_query(create_params("１２３")), "not a valid identifier"),
            (lambda: spi_query(create_params("1", expiredOn="２０２６-01-01 00:00:00")), "expiredOn must be"),
            # A time no real subscription has is refused, not stored (item 1).
            (lambda: spi_query(create_params("1", expiredOn="0001-01-01 00:00:00")), "between 2000 and 2100"),
            (lambda: spi_query(create_params("1", expiredOn="2101-01-01 00:00:00")), "between 2000 and 2100"),
            # Control characters, NUL above all, are bad input, never "temporarily unavailable" (item 2).
            (lambda: spi_query(create_params("1", note="a\x00b")), "control characters"),
            (lambda: "action=createInstance&orderBizId=%00", "control characters"),
        ],
    )
    def test_create_failures_answer_zero_and_change_nothing(self, client, query, message):
        response = client.get(SPI_PATH + "?" + query())
        assert response.status_code == 200
        body = response.json()
        assert body["instanceId"] == "0" and body["success"] is False and message in body["message"]
        assert not MarketplaceInstance.objects.exists()

    def test_unknown_action(self, client):
        body = call_spi(client, {"action": "dance", "instanceId": "1"})
        assert body == {"success": False, "message": "unknown action: dance"}

    @pytest.mark.parametrize(
        ("params", "message"),
        [
            (
                {"action": "renewInstance", "instanceId": "1", "orderId": "o2", "expiredOn": "0001-01-01 00:00:00"},
                "2000",
            ),
            ({"action": "expiredInstance", "instanceId": "%00"}, "control characters"),
            ({"action": "releaseInstance", "instanceId": "1\n"}, "control characters"),
            ({"action": "releaseInstance", "instanceId": "１"}, "not a valid identifier"),
        ],
    )
    def test_bad_lifecycle_input_is_refused_and_the_instance_keeps_working(self, client, params, message):
        assert call_spi(client, create_params("1"))["instanceId"] == "1"
        query = "action=expiredInstance&instanceId=%00" if params["instanceId"] == "%00" else spi_query(params)
        response = client.get(SPI_PATH + "?" + query)
        assert response.status_code == 200
        assert response.json()["success"] is False and message in response.json()["message"]
        # Nothing changed: the instance answers the next real call as before.
        assert MarketplaceInstance.objects.get(instance_id="1").state == "active"
        assert call_spi(client, {"action": "expiredInstance", "instanceId": "1"})["success"] is True

    def test_lifecycle_failures_answer_success_false(self, client):
        body = call_spi(client, {"action": "renewInstance", "instanceId": "1", "orderId": "2", "expiredOn": "tomorrow"})
        assert body["success"] is False and "expiredOn" in body["message"]

    @pytest.mark.parametrize("method", ["put", "options", "delete", "patch", "head"])
    def test_other_methods_are_refused_in_the_protocols_json(self, client, method):
        response = getattr(client, method)(SPI_PATH + "?" + spi_query(create_params("1")))
        assert response.status_code == 405 and response["Allow"] == "GET, POST"
        assert response["Content-Type"] == "application/json"
        if method != "head":  # a HEAD answer has no body
            assert response.json() == {
                "instanceId": "0",
                "success": False,
                "message": f"method not allowed: {method.upper()}; use GET",
            }
        assert not MarketplaceInstance.objects.exists()

    def test_inbox_records_every_call_without_the_token(self, client):
        call_spi(client, create_params("300001"))
        client.get(SPI_PATH + "?" + spi_query(create_params("300002"), key="wrong-key"))
        calls = list(SpiCall.objects.order_by("id"))
        assert [c.verdict for c in calls] == ["applied", "rejected"]
        assert all(c.params["token"] == "<redacted>" for c in calls)
        assert calls[1].answer["instanceId"] == "0"

    def test_neither_key_nor_token_reaches_the_log(self, client, caplog):
        caplog.set_level(logging.DEBUG)
        query = spi_query(create_params("300003"), key="wrong-key")
        client.get(SPI_PATH + "?" + query)
        token = query.rsplit("token=", 1)[1]
        assert token not in caplog.text and isv_key() not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_creates_make_one_instance():
    if connection.vendor == "sqlite":
        pytest.skip("concurrency of the unique insert is checked on PostgreSQL")
    answers: list[dict] = []
    barrier = threading.Barrier(20)
    query = spi_query(create_params("400001"))

    def call() -> None:
        barrier.wait()
        answers.append(Client().get(SPI_PATH + "?" + query).json())
        connection.close()

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 20 and all(answer == answers[0] for answer in answers)
    assert answers[0]["instanceId"] == "400001"
    assert MarketplaceInstance.objects.filter(instance_id="400001").count() == 1


def test_repeated_create_with_another_uid_keeps_the_first(client):
    call_spi(client, create_params("600001", ali_uid="1111111111111111"))
    body = call_spi(client, create_params("600001", ali_uid="2222222222222222"))
    assert body["instanceId"] == "600001"
    assert MarketplaceInstance.objects.get(instance_id="600001").ali_uid == "1111111111111111"
    assert SpiCall.objects.order_by("-id").first().message.startswith("duplicate create with a different aliUid")


def test_a_database_failure_answers_retry_and_leaves_no_partial_rows(client, monkeypatch):
    from django.db import DatabaseError

    from kaitong.marketplace import actions

    def broken(call):  # type: ignore[no-untyped-def]
        raise DatabaseError("connection lost")

    # Fails after the instance row is written on SQLite (inside the transaction), before the single
    # statement on PostgreSQL: either way nothing may remain and the marketplace must call again.
    monkeypatch.setattr(actions, "_create_event_detail", broken)
    response = client.get(SPI_PATH + "?" + spi_query(create_params("700001")))
    assert response.status_code == 503
    assert response.json() == {"success": False, "instanceId": "0", "message": "temporarily unavailable"}
    assert not MarketplaceInstance.objects.filter(instance_id="700001").exists()
    assert not InstanceEvent.objects.exists()
    monkeypatch.undo()
    assert call_spi(client, create_params("700001"))["instanceId"] == "700001"


def test_postgresql_plans_the_create_once_per_connection(client):
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    for n in range(3):
        call_spi(client, create_params(f"71000{n}"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%new_instance AS%"])
        assert cursor.fetchone() == (1,)
    assert MarketplaceInstance.objects.filter(instance_id__startswith="71000").count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_postgresql_error_in_the_create_answers_retry_and_leaves_nothing(client, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the single-statement create is PostgreSQL's")
    from kaitong.marketplace import actions

    # A failure raised by the server inside the real statement, after its three inserts have run: the
    # division by zero is only known once the event row exists. Nothing may remain, and the view must
    # still see a DatabaseError (not a psycopg one) and ask the marketplace to call again.
    real = actions._create_statement_sql("postgresql")
    failing = real.replace(
        "SELECT verdict, message FROM outcome",
        "SELECT verdict, (1 / ((SELECT count(*) FROM event) - 1))::text FROM outcome",
    )
    assert failing != real
    monkeypatch.setattr(actions, "_create_statement_sql", lambda vendor: failing)
    response = client.get(SPI_PATH + "?" + spi_query(create_params("720001")))
    assert response.status_code == 503
    assert response.json()["instanceId"] == "0"
    assert not MarketplaceInstance.objects.filter(instance_id="720001").exists()
    assert not SpiCall.objects.filter(instance_id="720001").exists()
    assert not InstanceEvent.objects.exists()
    monkeypatch.undo()
    assert call_spi(client, create_params("720001"))["instanceId"] == "720001"
