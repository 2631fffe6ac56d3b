"""POST /api/v1/usage/samples: bearer token, whole-batch validation, upsert by (workspace, item, hour)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings

from kaitong.billing import closing, domain, queries
from kaitong.billing.models import UsageSample
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
