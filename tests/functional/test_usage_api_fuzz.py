"""Schemathesis against the usage API's own OpenAPI (django-ninja serves it): no input is a server error.

Cases are generated from ``/api/v1/openapi.json`` — bodies that fit the documented schema and bodies that
break it — and sent through the real WSGI application in the test's transaction. Part of the positive
cases are grounded (a real workspace, a known item, an hour of an open day), so that they pass the
checks and reach the upsert instead of stopping at "no such workspace". Issue 10, "kept fixed".
"""

from __future__ import annotations

import pytest
import schemathesis
from django.conf import settings
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from kaitong.billing import queries
from kaitong.billing.models import UsageSample
from tests.support.billing import DAY, hour, workspaces

pytestmark = pytest.mark.django_db
OPERATION = ("/api/v1/usage/samples", "POST")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# A refused batch is 400, 401 or (too many samples, too large a body) 413.
CONFIG = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": [400, 401, 413]}}})
FUZZ = hypothesis_settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same cases on every run: CI fails on a real regression, not on luck
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture
def in_process_requests():
    """Requests through the WSGI app in the test's own transaction: as Django's test client does, the
    per-request connection housekeeping is off (it would close the connection the test holds open)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def operation(in_process_requests):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application(), config=CONFIG)
    path, method = OPERATION
    return schema[path][method]


def cases(operation, *, grounded: list[dict] | None = None) -> st.SearchStrategy:
    """Positive and negative cases of ``operation``; with ``grounded``, some samples of positive bodies
    are replaced by valid ones, so that the batch reaches the database."""
    generated = operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE)
    negative = operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE)
    positive = generated
    if grounded:

        @st.composite
        def ground(draw):
            case = draw(generated)
            if isinstance(case.body, list):
                # None, some or all of the samples made valid: only a wholly valid batch is written.
                share = draw(st.sampled_from([0.0, 0.5, 1.0]))
                case.body = [
                    draw(st.sampled_from(grounded)) if draw(st.floats(0, 1)) < share else sample for sample in case.body
                ]
            return case

        positive = ground()
    return st.one_of(positive, negative)


def valid_samples() -> list[dict]:
    items = sorted(queries.known_items())
    return [
        {"workspace": ref, "item": item, "hour": hour(DAY, h), "quantity": quantity}
        for ws in workspaces(2)
        for ref in (ws.pk, ws.token)
        for item in items[:3]
        for h, quantity in ((0, 0), (5, "12.5"), (23, 10**9))
    ]


def test_with_the_token_nothing_is_a_server_error(operation):
    grounded = valid_samples()
    statuses: list[int] = []
    headers = {"Authorization": f"Bearer {settings.ENV.usage_api_token}"}

    @FUZZ
    @given(case=cases(operation, grounded=grounded))
    def fuzz(case):
        # A negative case may have mangled the Authorization header; this test is about the body.
        case.headers = {**(case.headers or {}), **headers}
        response = case.call()
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    fuzz()
    assert len(statuses) >= 150
    # The fuzzing reached the business rules, and some batches were written.
    assert {200, 400} <= set(statuses), sorted(set(statuses))
    assert UsageSample.objects.exists()


def test_without_the_token_everything_is_refused(operation):
    statuses: list[int] = []

    @hypothesis_settings(FUZZ, max_examples=100)
    @given(case=cases(operation))
    def fuzz(case):
        case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        response = case.call()
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    fuzz()
    assert len(statuses) >= 50 and set(statuses) == {401}
    assert not UsageSample.objects.exists()
