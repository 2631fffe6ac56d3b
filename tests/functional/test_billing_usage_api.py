"""POST /api/v1/usage/samples: bearer token, whole-batch validation, upsert by (workspace, item, hour)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings

from kaitong.billing import closing, domain, queries
from kaitong.billing.models import DailyBill, UsageSample
from tests.support.billing import DAY, after_close, sample, workspaces

pytestmark = pytest.mark.django_db
URL = "/api/v1/usage/samples"


def post(client, body, *, token=None):
    token = settings.ENV.usage_api_token if token is None else token
    return client.post(
        URL,
        data=json.dumps(body, default=str),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )


class TestAuth:
    def test_missing_or_wrong_token_is_401(self, client):
        (ws,) = workspaces(1)
        assert post(client, [sample(ws, "logs", DAY, 0, 1)], token="").status_code == 401
        assert post(client, [sample(ws, "logs", DAY, 0, 1)], token="wrong-token-of-any-length").status_code == 401
        assert UsageSample.objects.count() == 0


class TestIngest:
    def test_batch_is_upserted_and_resending_is_harmless(self, client):
        (ws,) = workspaces(1)
        body = [sample(ws, "logs", DAY, h, 1000 * h) for h in range(24)] + [sample(ws.token, "time_series", DAY, 3, 7)]
        response = post(client, body)
        assert response.status_code == 200, response.content
        assert response.json() == {"accepted": 25}
        assert post(client, body).json() == {"accepted": 25}
        assert UsageSample.objects.count() == 25
        # A later value for the same hour replaces the earlier one.
        post(client, [sample(ws, "logs", DAY, 5, "12.5")])
        fifth = domain.day_window(DAY)[0] + timedelta(hours=5)
        assert UsageSample.objects.get(item="logs", hour=fifth).quantity == Decimal("12.5")

    def test_object_form(self, client):
        (ws,) = workspaces(1)
        assert post(client, {"samples": [sample(ws, "sms", DAY, 0, 3)]}).json() == {"accepted": 1}

    def test_bad_batch_lists_every_error_and_applies_nothing(self, client):
        (ws,) = workspaces(1)
        body = [
            sample(ws, "logs", DAY, 0, 1),
            sample(999999, "logs", DAY, 1, 1),
            sample(ws, "beer", DAY, 2, 1),
            {**sample(ws, "logs", DAY, 3, 1), "hour": "2026-11-20T03:15:00Z"},
            sample(ws, "logs", DAY, 4, -5),
            sample("tkn_" + "0" * 32, "logs", DAY, 5, 1),
        ]
        response = post(client, body)
        assert response.status_code == 400
        errors = response.json()["errors"]
        assert [(e["index"], e["field"]) for e in errors] == [
            (1, "workspace"),
            (2, "item"),
            (3, "hour"),
            (4, "quantity"),
            (5, "workspace"),
        ]
        assert UsageSample.objects.count() == 0

    def test_too_large_is_413(self, client):
        (ws,) = workspaces(1)
        response = post(client, [sample(ws, "logs", DAY, 0, 1)] * 10_001)
        assert response.status_code == 413
        assert UsageSample.objects.count() == 0

    def test_ten_thousand_in_one_batch(self, client):
        # 35 workspaces × 12 items × 24 hours = 10,080 distinct keys; the first 10,000 are one batch.
        items = sorted(queries.known_items())[:12]
        assert len(items) == 12
        body = [sample(w, item, DAY, h, h + 1) for w in workspaces(35) for item in items for h in range(24)]
        body = body[:10_000]
        assert post(client, body).status_code == 200
        assert UsageSample.objects.count() == 10_000

    def test_not_json(self, client):
        auth = {"Authorization": "Bearer " + settings.ENV.usage_api_token}
        response = client.post(URL, data="{", content_type="application/json", headers=auth)
        assert response.status_code == 400

    def test_samples_for_a_settled_day_are_refused(self, client):
        (ws,) = workspaces(1)
        closing.do_close_day(day=DAY, now=after_close())
        response = post(client, [sample(ws, "logs", DAY, 0, 1)])
        assert response.status_code == 400
        assert "settled" in response.json()["errors"][0]["message"]

    def test_openapi_documents_the_endpoint(self, client):
        schema = client.get("/api/v1/openapi.json").json()
        assert "/api/v1/usage/samples" in schema["paths"]


def post_raw(client, body: bytes | str):
    auth = {"Authorization": "Bearer " + settings.ENV.usage_api_token}
    return client.post(URL, data=body, content_type="application/json", headers=auth)


def refusal(response, index=0):
    """The problem of sample ``index`` in a 400 answer, as (field, message)."""
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    (error,) = [e for e in response.json()["errors"] if e["index"] == index]
    return error["field"], error["message"]


class TestHostileInput:
    """Issue 10, item 4: input that once gave a 500 or an HTML page is answered in JSON, changing nothing."""

    def test_five_thousand_nested_brackets_are_a_json_400(self, client):
        response = post_raw(client, "[" * 5000)
        assert response.status_code == 400
        assert response.json() == {"message": "the body is nested too deeply to be a batch of samples", "errors": []}
        assert post_raw(client, '{"samples": ' + "[" * 5000 + "]" * 5000 + "}").status_code == 400

    @pytest.mark.parametrize("workspace", [2**63, 2**64 + 1, -(2**63) - 1, 0, str(2**63), "9" * 5000])
    def test_workspace_id_outside_the_databases_range_is_refused(self, client, workspace):
        # 2**63 reached SQLite and raised OverflowError: a 500 (PostgreSQL answered "no such workspace").
        response = post(client, [sample(workspace, "logs", DAY, 0, 1)])
        assert refusal(response) == ("workspace", "must be a workspace id from 1 to 9223372036854775807")
        assert UsageSample.objects.count() == 0

    def test_the_largest_id_the_database_holds_is_looked_up(self, client):
        response = post(client, [sample(2**63 - 1, "logs", DAY, 0, 1), sample(str(2**63 - 1), "logs", DAY, 1, 1)])
        assert refusal(response, 0) == ("workspace", "no such workspace")
        assert refusal(response, 1) == ("workspace", "no such workspace")

    def test_a_token_with_a_final_newline_is_not_a_token(self, client):
        (ws,) = workspaces(1)
        response = post(client, [sample(ws.token + "\n", "logs", DAY, 0, 1)])
        assert refusal(response)[0] == "workspace"

    def test_body_over_the_limit_is_a_json_413(self, client, settings):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
        (ws,) = workspaces(1)
        response = post(client, [sample(ws, "logs", DAY, h, 1) for h in range(24)])
        assert response.status_code == 413
        assert response.json()["message"] == "the body is larger than 1024 bytes; send fewer samples per request"
        assert UsageSample.objects.count() == 0


class TestOnlyWhatCanStillBeBilled:
    """Issue 10, item 4: usage that no close will ever bill is refused with the reason, not accepted."""

    def test_an_hour_long_before_the_workspace_existed_is_refused(self, client):
        (ws,) = workspaces(1)
        response = post(client, [{"workspace": ws.pk, "item": "logs", "hour": "0001-01-01T00:00Z", "quantity": 1}])
        assert refusal(response) == (
            "hour",
            "the day 0001-01-01 (Beijing time) is before the workspace's billing starts (2026-01-01)",
        )
        assert UsageSample.objects.count() == 0

    def test_the_creation_day_is_billed_and_the_day_before_is_refused(self, client):
        # Created at 10:00 Beijing on DAY: the close of DAY bills it, hours before 10:00 included.
        created = domain.day_window(DAY)[0] + timedelta(hours=10)
        (ws,) = workspaces(1, created=created)
        before = DAY - timedelta(days=1)
        response = post(client, [sample(ws, "sms", DAY, 2, 30), sample(ws, "sms", before, 23, 30)])
        assert refusal(response, 1) == (
            "hour",
            f"the day {before} (Beijing time) is before the workspace's billing starts ({DAY})",
        )
        assert post(client, [sample(ws, "sms", DAY, 2, 30)]).json() == {"accepted": 1}
        closing.do_close_day(day=DAY, now=after_close())
        assert DailyBill.objects.get(workspace=ws, day=DAY).total > 0

    def test_a_day_before_the_last_settled_day_is_refused_even_if_it_never_closed(self, client):
        # The worker closes days in order from the latest closed one: a day it skipped is never billed.
        (ws,) = workspaces(1)
        later = DAY + timedelta(days=1)
        closing.do_close_day(day=later, now=after_close(later))
        response = post(client, [sample(ws, "logs", DAY, 0, 1)])
        assert refusal(response) == (
            "hour",
            f"the day {DAY} (Beijing time) is already settled: days up to {later} are final",
        )
        assert UsageSample.objects.count() == 0

    def test_the_future_is_refused(self, client):
        (ws,) = workspaces(1)
        response = post(client, [{"workspace": ws.pk, "item": "logs", "hour": "9999-12-31T23:00:00Z", "quantity": 1}])
        assert refusal(response) == ("hour", "is in the future")
