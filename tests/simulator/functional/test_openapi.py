"""The official Market SDK, unmodified, against the running simulator: answers and refusals."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from alibabacloud_market20151101 import models

from kaitong_sim.domain import v1_signature
from tests.support.simulator import (
    EXCLUSIVE_METERING_ASSIT,
    EXCLUSIVE_PRODUCT_CODE,
    METERING_ASSIT,
    RunningSimulator,
    market_client,
    start_simulator,
)

ALGORITHMS = [None, "v2"]  # ACS3-HMAC-SHA256 (the SDK's default) and v1 HMAC-SHA1


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory):
    # Lookups are not flow-controlled here: tests that look an instance up several times within a second
    # were refused by the default 10 a second on a fast run. The limit has its own test, with its own simulator.
    with start_simulator(
        Path(tmp_path_factory.mktemp("sim")), KAITONG_SIMULATOR_LOOKUPS_PER_SECOND="100000"
    ) as running:
        yield running


def last_hour() -> tuple[int, int]:
    end = int(time.time()) // 3600 * 3600
    return end - 3600, end


def record(instance_id: str, *, start: int | None = None, end: int | None = None, value: str = "1234", **entity):
    default_start, default_end = last_hour()
    return {
        "InstanceId": instance_id,
        "StartTime": str(start if start is not None else default_start),
        "EndTime": str(end if end is not None else default_end),
        "Entities": [{"Key": "Frequency", "Value": value, "meteringAssit": METERING_ASSIT, **entity}],
    }


def push(sim: RunningSimulator, records: list, *, algorithm: str | None = None, secret: str | None = None):
    client = market_client(sim, signature_algorithm=algorithm, secret=secret)
    return client.push_metering_data(models.PushMeteringDataRequest(metering=json.dumps(records)))


def refused(sim: RunningSimulator, records: list | str, *, algorithm: str | None = None, secret: str | None = None):
    client = market_client(sim, signature_algorithm=algorithm, secret=secret)
    metering = records if isinstance(records, str) else json.dumps(records)
    with pytest.raises(Exception) as info:
        client.push_metering_data(models.PushMeteringDataRequest(metering=metering))
    return info.value


@pytest.mark.parametrize("algorithm", ALGORITHMS)
class TestAccepted:
    def test_push_is_accepted_and_billed(self, sim, algorithm):
        instance = sim.create_instance()
        response = push(sim, [record(instance["instanceId"], value="1234")], algorithm=algorithm)
        assert response.status_code == 200
        assert response.body.success is True and response.body.request_id
        state = sim.state()
        mine = [r for r in state["metering"] if r["instance_id"] == instance["instanceId"]]
        assert len(mine) == 1 and mine[0]["cost"] == "12.34"
        assert state["api_calls"][0]["code"] == "OK"
        assert state["api_calls"][0]["signature_method"] == ("HMAC-SHA1" if algorithm else "ACS3-HMAC-SHA256")

    def test_describe_instance_and_order(self, sim, algorithm):
        instance = sim.create_instance(trial=True)
        client = market_client(sim, signature_algorithm=algorithm)
        body = client.describe_instance_for_isv(
            models.DescribeInstanceForIsvRequest(instance_id=int(instance["instanceId"]))
        ).body
        assert (body.instance_id, body.order_id) == (int(instance["instanceId"]), int(instance["orderId"]))
        assert body.product_code == "cmgj00053362" and body.is_trial is True and body.status == "OPENING"
        assert body.end_on > body.created_on
        order = client.describe_order_for_isv(models.DescribeOrderForIsvRequest(order_id=instance["orderId"])).body
        assert order.order_type == "TRIAL" and order.ali_uid == int(instance["aliUid"])
        assert order.instance_ids == [instance["instanceId"]]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
class TestSignatureRefusals:
    def test_wrong_secret(self, sim, algorithm):
        instance = sim.create_instance()
        error = refused(sim, [record(instance["instanceId"])], algorithm=algorithm, secret="not-the-secret")
        assert error.code == "SignatureDoesNotMatch" and error.status_code == 400
        assert not [r for r in sim.state()["metering"] if r["instance_id"] == instance["instanceId"]]

    def test_unknown_access_key(self, sim, algorithm):
        from alibabacloud_market20151101.client import Client
        from alibabacloud_tea_openapi.utils_models import Config

        client = Client(
            Config(
                access_key_id="someone-else",
                access_key_secret=sim.access_key_secret,
                endpoint=sim.endpoint,
                protocol="http",
                signature_algorithm=algorithm,
            )
        )
        with pytest.raises(Exception) as info:
            client.describe_order_for_isv(models.DescribeOrderForIsvRequest(order_id="1"))
        assert info.value.code == "InvalidAccessKeyId.NotFound"


class TestMeteringRules:
    def test_one_request_per_instance_per_60_seconds(self, sim):
        instance = sim.create_instance()
        push(sim, [record(instance["instanceId"])])
        error = refused(sim, [record(instance["instanceId"], value="1")])
        assert error.code == "Service.Flow.Control" and error.status_code == 500

    def test_more_than_100_records(self, sim):
        instance = sim.create_instance()
        error = refused(sim, [record(instance["instanceId"])] * 101)
        assert error.code == "Metering.Data.Exceeded"

    def test_exactly_100_records_in_one_request_are_accepted(self, sim):
        instances = [sim.create_instance()["instanceId"] for _ in range(100)]
        assert push(sim, [record(i, value="1") for i in instances]).body.success is True
        assert sim.state()["total"]

    def test_each_product_is_metered_with_its_own_billing_item(self, sim):
        exclusive = sim.create_instance(product_code=EXCLUSIVE_PRODUCT_CODE)["instanceId"]
        commercial = sim.create_instance()["instanceId"]
        assert push(sim, [record(exclusive, meteringAssit=EXCLUSIVE_METERING_ASSIT)]).body.success is True
        error = refused(sim, [record(exclusive)])  # the commercial edition's billing item
        assert error.code == "Invalid.Parameter.Metering" and "is not its product's" in error.message
        error = refused(sim, [record(commercial, meteringAssit=EXCLUSIVE_METERING_ASSIT)])
        assert error.code == "Invalid.Parameter.Metering"
        assert refused(sim, [record(commercial, meteringAssit="other-F")]).code == "Invalid.Parameter.Metering"

    def test_one_product_per_request(self, sim):
        a = sim.create_instance()["instanceId"]
        b = sim.create_instance(product_code="cmgj00060481")["instanceId"]
        error = refused(sim, [record(a), record(b)])
        assert error.code == "Invalid.Parameter"

    def test_window_must_exceed_five_minutes(self, sim):
        instance = sim.create_instance()["instanceId"]
        _, end = last_hour()
        assert refused(sim, [record(instance, start=end - 300, end=end)]).code == "Invalid.Parameter.Metering"
        assert refused(sim, [record(instance, start=end, end=end - 3600)]).code == "Invalid.Parameter.Metering"

    def test_metering_assit_is_required(self, sim):
        instance = sim.create_instance()["instanceId"]
        error = refused(sim, [record(instance, meteringAssit="")])
        assert error.code == "Invalid.Parameter.Metering" and "meteringAssit is empty" in error.message

    @pytest.mark.parametrize("metering", ["not json", '{"InstanceId": "1"}', "[]", '[{"InstanceId": "1"}]'])
    def test_malformed_metering(self, sim, metering):
        assert refused(sim, metering).code == "Invalid.Parameter.Metering"

    def test_unknown_instance(self, sim):
        assert refused(sim, [record("99999999999")]).code == "Invalid.Parameter.Instance"

    def test_deadline_has_passed(self, sim):
        instance = sim.create_instance()["instanceId"]
        start, _ = last_hour()
        error = refused(sim, [record(instance, start=start - 3 * 3600, end=start - 2 * 3600)])
        assert error.code == "Invalid.Parameter.Metering" and "deadline" in error.message

    def test_unknown_instance_in_describe(self, sim):
        client = market_client(sim)
        with pytest.raises(Exception) as info:
            client.describe_instance_for_isv(models.DescribeInstanceForIsvRequest(instance_id=1))
        assert info.value.code == "InvalidParameter.InstanceId"


def v1_request(sim: RunningSimulator, *, timestamp: str | None = None, nonce: str | None = None, **params: str):
    query = {
        "AccessKeyId": sim.access_key_id,
        "Action": "DescribeOrderForIsv",
        "Format": "JSON",
        "OrderId": "1",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "SignatureVersion": "1.0",
        "Timestamp": timestamp or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": "2015-11-01",
        **params,
    }
    query = {k: v for k, v in query.items() if v != "<drop>"}
    query["Signature"] = v1_signature(secret=sim.access_key_secret, method="POST", params=query)
    return httpx.post(sim.url + "/", params=query, timeout=10)


class TestGatewayRefusals:
    def test_a_signed_raw_request_is_answered(self, sim):
        response = v1_request(sim)
        # Signature fine; the order does not exist.
        assert response.json()["Code"] == "InvalidParameter.OrderId"

    def test_stale_timestamp(self, sim):
        stale = (datetime.now(UTC) - timedelta(minutes=16)).strftime("%Y-%m-%dT%H:%M:%SZ")
        response = v1_request(sim, timestamp=stale)
        assert response.status_code == 400 and response.json()["Code"] == "InvalidTimeStamp.Expired"
        body = response.json()
        assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}

    def test_malformed_timestamp(self, sim):
        assert v1_request(sim, timestamp="2025-06-01 03:00:00").json()["Code"] == "InvalidTimeStamp.Format"

    def test_reused_nonce(self, sim):
        nonce = uuid.uuid4().hex
        assert v1_request(sim, nonce=nonce).json()["Code"] == "InvalidParameter.OrderId"
        response = v1_request(sim, nonce=nonce)
        assert response.status_code == 400 and response.json()["Code"] == "SignatureNonceUsed"

    def test_missing_parameters(self, sim):
        assert v1_request(sim, Version="<drop>").json()["Code"] == "MissingVersion"
        assert v1_request(sim, OrderId="<drop>").json()["Code"] == "MissingOrderId"
        assert v1_request(sim, OrderId="12ab").json()["Code"] == "InvalidParameter"
        assert v1_request(sim, Action="DeleteEverything").json()["Code"] == "InvalidAction.NotFound"
        assert v1_request(sim, Version="2099-01-01").json()["Code"] == "InvalidVersion"

    def test_tampered_parameter(self, sim):
        query = {"Action": "DescribeOrderForIsv", "Version": "2015-11-01", "AccessKeyId": sim.access_key_id}
        query.update(SignatureNonce="n1", Timestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), OrderId="1")
        query["Signature"] = v1_signature(secret=sim.access_key_secret, method="POST", params=query)
        query["OrderId"] = "2"
        assert httpx.post(sim.url + "/", params=query).json()["Code"] == "SignatureDoesNotMatch"

    @pytest.mark.parametrize(
        "body,headers",
        [
            (b"\xff\xfe garbage", {"content-type": "application/x-www-form-urlencoded"}),
            (b"a=1&a=2", {"content-type": "application/x-www-form-urlencoded"}),
            (b"", {"authorization": "ACS3-HMAC-SHA256 nonsense"}),
            (b"", {"authorization": "Bearer x", "x-acs-action": "PushMeteringData"}),
            (b"", {"x-acs-action": "PushMeteringData"}),
        ],
    )
    def test_garbage_gets_a_pop_error_never_a_crash(self, sim, body, headers):
        response = httpx.post(sim.url + "/", content=body, headers=headers)
        assert 400 <= response.status_code < 500
        assert response.json()["Code"]
        assert "Traceback" not in response.text

    def test_browser_get_of_root_is_the_product_page(self, sim):
        response = httpx.get(sim.url + "/")
        assert response.status_code == 200 and "text/html" in response.headers["content-type"]
        assert "立即开通" in response.text and "模拟器" in response.text


def v3_request(sim: RunningSimulator, *, date: str | None = None, nonce: str | None = None, secret: str | None = None):
    """An ACS3-HMAC-SHA256 request built the way the SDK builds it, so it can be replayed or aged."""
    import hashlib
    from urllib.parse import urlencode

    from kaitong_sim.domain import v3_canonical_request, v3_signature

    query = {"OrderId": "1"}
    payload = hashlib.sha256(b"").hexdigest()
    headers = {
        "host": sim.endpoint,
        "x-acs-action": "DescribeOrderForIsv",
        "x-acs-version": "2015-11-01",
        "x-acs-date": date or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": payload,
    }
    canonical, signed = v3_canonical_request(
        method="POST", path="/", query=query, headers=headers, payload_hash=payload
    )
    signature = v3_signature(secret=secret or sim.access_key_secret, canonical_request=canonical)
    headers["authorization"] = (
        f"ACS3-HMAC-SHA256 Credential={sim.access_key_id},SignedHeaders={signed},Signature={signature}"
    )
    return httpx.post(f"{sim.url}/?{urlencode(query)}", headers=headers, timeout=10)


class TestGatewayRefusalsV3:
    def test_signed_request_reaches_the_action(self, sim):
        assert v3_request(sim).json()["Code"] == "InvalidParameter.OrderId"

    def test_replayed_nonce(self, sim):
        nonce = uuid.uuid4().hex
        v3_request(sim, nonce=nonce)
        assert v3_request(sim, nonce=nonce).json()["Code"] == "SignatureNonceUsed"

    def test_stale_date(self, sim):
        stale = (datetime.now(UTC) - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert v3_request(sim, date=stale).json()["Code"] == "InvalidTimeStamp.Expired"

    def test_wrong_secret(self, sim):
        assert v3_request(sim, secret="nope").json()["Code"] == "SignatureDoesNotMatch"

    def test_body_not_matching_its_hash(self, sim):
        request = v3_request(sim).request
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        headers["x-acs-signature-nonce"] = uuid.uuid4().hex
        response = httpx.post(str(request.url), headers=headers, content=b"Metering=[]")
        assert response.json()["Code"] == "SignatureDoesNotMatch"
        assert "x-acs-content-sha256" in response.json()["Message"]


class TestDescribeInstanceFollowsTheInstance:
    def test_status_and_end_after_each_event(self, sim):
        instance_id = sim.create_instance()["instanceId"]
        client = market_client(sim)

        def described():  # type: ignore[no-untyped-def]
            request = models.DescribeInstanceForIsvRequest(instance_id=instance_id)
            return client.describe_instance_for_isv(request).body

        opening = described()
        assert (opening.status, opening.end_on, opening.is_trial) == ("OPENING", None, False)
        sim.trigger(instance_id, "expire")
        assert described().status == "EXPIRED"
        sim.trigger(instance_id, "resume")
        assert (described().status, described().end_on) == ("OPENED", None)
        sim.trigger(instance_id, "renew")
        renewed = described()
        held = next(i for i in sim.state()["instances"] if i["instance_id"] == instance_id)
        expires = datetime.fromisoformat(held["expires_at"])
        assert renewed.status == "OPENED" and renewed.end_on == int(expires.timestamp() * 1000)
        sim.trigger(instance_id, "release")
        assert described().status == "CLOSED"


def test_lookups_beyond_the_callers_rate_are_flow_controlled(tmp_path):
    # One a second: the second lookup of a quick pair is refused, however loaded the machine.
    with start_simulator(tmp_path, KAITONG_SIMULATOR_LOOKUPS_PER_SECOND="1") as limited:
        instance_id = limited.create_instance()["instanceId"]
        client = market_client(limited)
        request = models.DescribeInstanceForIsvRequest(instance_id=instance_id)
        codes = []
        for _ in range(4):
            try:
                client.describe_instance_for_isv(request)
                codes.append("OK")
            except Exception as exc:  # the SDK raises the gateway's error
                codes.append(exc.code)
                assert exc.status_code == 400
        assert codes[0] == "OK" and "Throttling.User" in codes
        # No second of the simulator's log holds more than one answered lookup.
        answered = sorted(
            datetime.fromisoformat(c["at"])
            for c in limited.state()["api_calls"]
            if c["action"] == "DescribeInstanceForIsv" and c["code"] == "OK"
        )
        assert all(sum(1 for b in answered if a <= b < a + timedelta(seconds=1)) <= 1 for a in answered)
        time.sleep(1.1)
        assert client.describe_instance_for_isv(request).body.status == "OPENING"
