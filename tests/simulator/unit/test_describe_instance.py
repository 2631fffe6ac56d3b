"""The simulator's DescribeInstanceForIsv answer (protocol §3.3) and its lookup flow control, as pure rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from alibabacloud_market20151101.models import DescribeInstanceForIsvResponseBody

from kaitong_sim import domain
from kaitong_sim.domain import PopError

CREATED = datetime(2026, 11, 30, 8, 0, 0, 250_000, tzinfo=UTC)
ENDS = datetime(2027, 11, 30, 8, 0, 0, 500_000, tzinfo=UTC)


def held(**overrides: object) -> dict[str, object]:
    """An instance as ``queries._instance`` hands it over."""
    instance: dict[str, object] = {
        "instance_id": "12345678",
        "order_id": "204211111111111",
        "product_code": "cmgj00053362",
        "product_name": "观测云 商业版（按量付费）",
        "sku_id": "cmgj00053362-postpay",
        "trial": False,
        "status": "opened",
        "created_at": CREATED,
        "expires_at": None,
        "app_info": {"authUrl": "https://vendor.example/sso"},
    }
    instance.update(overrides)
    return instance


class TestAnswer:
    @pytest.mark.parametrize(
        ("status", "shown"),
        [("opening", "OPENING"), ("opened", "OPENED"), ("expired", "EXPIRED"), ("closed", "CLOSED")],
    )
    def test_status_is_the_app_type_value(self, status, shown):
        body = domain.describe_instance_body(held(status=status), request_id="R")
        assert body["Status"] == shown and body["ProductType"] == "APP"

    def test_ids_are_longs_and_times_milliseconds(self):
        body = domain.describe_instance_body(held(trial=True, expires_at=ENDS), request_id="R")
        assert body["InstanceId"] == 12345678 and body["OrderId"] == 204211111111111
        assert body["CreatedOn"] == body["BeganOn"] == 1_796_025_600_250
        assert body["EndOn"] == 1_827_561_600_500 and body["IsTrial"] is True

    def test_pay_as_you_go_has_no_end(self):
        assert domain.describe_instance_body(held(), request_id="R")["EndOn"] is None

    def test_json_fields_are_strings(self):
        body = domain.describe_instance_body(held(), request_id="R")
        assert json.loads(body["AppJson"]) == {"authUrl": "https://vendor.example/sso"}
        assert json.loads(body["ComponentJson"]) == {"package_version": "cmgj00053362-postpay"}
        assert body["HostJson"] == body["ExtendJson"] == body["ImageJson"] == "{}"

    def test_every_field_is_one_the_official_sdk_reads(self):
        # The SDK's model keeps the fields it knows and drops the rest: nothing of ours may be dropped.
        body = domain.describe_instance_body(held(expires_at=ENDS), request_id="R-1")
        read = DescribeInstanceForIsvResponseBody().from_map(body)
        assert read.to_map() == body
        assert (read.status, read.end_on, read.request_id) == ("OPENED", 1_827_561_600_500, "R-1")


class TestLookupFlowControl:
    def test_under_the_limit_passes(self):
        domain.check_lookup_rate(answered_last_second=9, per_second=10)

    def test_at_the_limit_the_gateway_refuses(self):
        with pytest.raises(PopError) as info:
            domain.check_lookup_rate(answered_last_second=10, per_second=10)
        assert (info.value.code, info.value.status) == ("Throttling.User", 400)
