"""The simulator's pure rules: POP signatures (the protocol doc's worked example), metering, SPI answers."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from alibabacloud_tea_openapi.utils import Utils
from darabonba.request import DaraRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaitong_sim import domain
from kaitong_sim.domain import PopError, Record

METERING = (
    '[{"InstanceId":"100001","StartTime":"1748743200","EndTime":"1748746800",'
    '"Entities":[{"Key":"Frequency","Value":"10"}]}]'
)
WORKED = {
    "AccessKeyId": "testid",
    "Action": "PushMeteringData",
    "Format": "JSON",
    "Metering": METERING,
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "SignatureVersion": "1.0",
    "Timestamp": "2025-06-01T03:00:00Z",
    "Version": "2015-11-01",
}


class TestV1Signature:
    def test_worked_example_string_to_sign(self):
        expected = (
            "POST&%2F&AccessKeyId%3Dtestid%26Action%3DPushMeteringData%26Format%3DJSON%26Metering%3D%255B%257B%2522"
            "InstanceId%2522%253A%2522100001%2522%252C%2522StartTime%2522%253A%25221748743200%2522%252C%2522EndTime"
            "%2522%253A%25221748746800%2522%252C%2522Entities%2522%253A%255B%257B%2522Key%2522%253A%2522Frequency"
            "%2522%252C%2522Value%2522%253A%252210%2522%257D%255D%257D%255D%26SignatureMethod%3DHMAC-SHA1%26"
            "SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D"
            "2025-06-01T03%253A00%253A00Z%26Version%3D2015-11-01"
        )
        assert domain.v1_string_to_sign("POST", WORKED) == expected

    def test_worked_example_signature(self):
        assert domain.v1_signature(secret="testsecret", method="POST", params=WORKED) == "NVWmLc708DfaxZ7tVsEPWCUgw1M="

    def test_signature_parameter_itself_is_not_signed(self):
        with_signature = {**WORKED, "Signature": "whatever"}
        assert domain.v1_signature(secret="testsecret", method="POST", params=with_signature) == (
            "NVWmLc708DfaxZ7tVsEPWCUgw1M="
        )

    def test_percent_encoding_is_rfc3986(self):
        assert domain.percent_encode("a b*~+/") == "a%20b%2A~%2B%2F"

    def test_matches_the_sdk(self):
        params = {**WORKED, "Metering": '[{"k": "空 格+*~"}]'}
        assert domain.v1_signature(secret="s3cret", method="POST", params=params) == Utils.get_rpcsignature(
            params, "POST", "s3cret"
        )


class TestV3Signature:
    def test_matches_the_sdk_authorization_header(self):
        request = DaraRequest()
        request.method = "POST"
        request.pathname = "/"
        request.query = {"Metering": '[{"InstanceId": "1 +x"}]', "Other": "a~b*"}
        payload = hashlib.sha256(b"").hexdigest()
        request.headers = {
            "host": "127.0.0.1:8100",
            "x-acs-action": "PushMeteringData",
            "x-acs-version": "2015-11-01",
            "x-acs-date": "2025-06-01T03:00:00Z",
            "x-acs-signature-nonce": "abc",
            "x-acs-content-sha256": payload,
            "accept": "application/json",
        }
        header = Utils.get_authorization(request, "ACS3-HMAC-SHA256", payload, "testid", "testsecret")
        auth = domain.parse_v3_authorization(header)
        canonical, signed = domain.v3_canonical_request(
            method="POST", path="/", query=request.query, headers=request.headers, payload_hash=payload
        )
        assert auth.access_key_id == "testid" and ";".join(auth.signed_headers) == signed
        assert domain.v3_signature(secret="testsecret", canonical_request=canonical) == auth.signature

    @pytest.mark.parametrize("header", ["ACS3-HMAC-SHA256", "ACS3-HMAC-SHA256 Credential=x", "HMAC foo", ""])
    def test_malformed_authorization(self, header):
        with pytest.raises(PopError) as info:
            domain.parse_v3_authorization(header)
        assert info.value.code == "IncompleteSignature"


class TestTimestamp:
    NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)

    @pytest.mark.parametrize("value", ["2025-06-01T02:45:00Z", "2025-06-01T03:15:00Z"])
    def test_within_fifteen_minutes(self, value):
        domain.parse_pop_timestamp(value, now=self.NOW)

    @pytest.mark.parametrize("value", ["2025-06-01T02:44:59Z", "2025-06-01T03:15:01Z"])
    def test_expired(self, value):
        with pytest.raises(PopError) as info:
            domain.parse_pop_timestamp(value, now=self.NOW)
        assert info.value.code == "InvalidTimeStamp.Expired"

    @pytest.mark.parametrize("value", ["2025-06-01 03:00:00", "1748746800", "", "2025-13-01T03:00:00Z"])
    def test_format(self, value):
        with pytest.raises(PopError) as info:
            domain.parse_pop_timestamp(value, now=self.NOW)
        assert info.value.code == "InvalidTimeStamp.Format"


def bj(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=domain.BEIJING).timestamp())


class TestMetering:
    def test_parses_strings_and_numbers(self):
        raw = json.dumps(
            [{"InstanceId": 1, "StartTime": 10, "EndTime": "400", "Entities": [{"Key": "Storage", "Value": 5}]}]
        )
        [record] = domain.parse_metering(raw, required_assit=None)
        assert record == Record("1", 10, 400, (domain.Entity("Storage", 5, ""),))

    @pytest.mark.parametrize(
        "raw",
        [
            "{",
            "{}",
            "[]",
            "[1]",
            '[{"InstanceId":"1","StartTime":"a","EndTime":"2","Entities":[{"Key":"Frequency","Value":"1"}]}]',
            '[{"InstanceId":"1","StartTime":"1","EndTime":"2","Entities":[]}]',
            '[{"InstanceId":"1","StartTime":"1","EndTime":"2","Entities":[{"Key":"Beer","Value":"1"}]}]',
            '[{"InstanceId":"1","StartTime":"1","EndTime":"2","Entities":[{"Key":"Frequency","Value":"-1"}]}]',
            '[{"InstanceId":"1","StartTime":"1","EndTime":"2","Entities":[{"Key":"Frequency","Value":true}]}]',
        ],
    )
    def test_malformed(self, raw):
        with pytest.raises(PopError) as info:
            domain.parse_metering(raw, required_assit=None)
        assert info.value.code == "Invalid.Parameter.Metering"

    def test_meteringassit_required(self):
        raw = '[{"InstanceId":"1","StartTime":"1","EndTime":"2","Entities":[{"Key":"Frequency","Value":"1"}]}]'
        with pytest.raises(PopError, match="meteringAssit is empty"):
            domain.parse_metering(raw, required_assit="cmgj-Frequency-1")

    def test_more_than_100(self):
        raw = json.dumps([{"InstanceId": "1"}] * 101)
        with pytest.raises(PopError) as info:
            domain.parse_metering(raw, required_assit=None)
        assert info.value.code == "Metering.Data.Exceeded"

    @pytest.mark.parametrize(
        "start,end,deadline",
        [
            ("2025-06-01 08:10", "2025-06-01 08:20", "2025-06-01 09:59:59"),
            ("2025-06-01 08:00", "2025-06-01 09:00", "2025-06-01 09:59:59"),
            ("2025-06-01 00:00", "2025-06-02 00:00", "2025-06-02 01:59:59"),
        ],
    )
    def test_deadlines(self, start, end, deadline):
        record = Record("1", bj(start), bj(end))
        assert domain.deadline_for(record).strftime("%Y-%m-%d %H:%M:%S") == deadline

    def test_window_rules(self):
        now = datetime.fromtimestamp(bj("2025-06-01 09:30"), tz=UTC)
        domain.check_window(
            Record("1", bj("2025-06-01 08:10"), bj("2025-06-01 08:15") + 1), now=now, enforce_deadline=True
        )
        for start, end in [("08:10", "08:15"), ("08:20", "08:10"), ("09:00", "10:00")]:
            with pytest.raises(PopError):
                domain.check_window(
                    Record("1", bj(f"2025-06-01 {start}"), bj(f"2025-06-01 {end}")), now=now, enforce_deadline=True
                )
        late = datetime.fromtimestamp(bj("2025-06-01 10:00"), tz=UTC)
        with pytest.raises(PopError, match="deadline"):
            domain.check_window(
                Record("1", bj("2025-06-01 08:10"), bj("2025-06-01 08:20")), now=late, enforce_deadline=True
            )
        domain.check_window(
            Record("1", bj("2025-06-01 08:10"), bj("2025-06-01 08:20")), now=late, enforce_deadline=False
        )

    def test_cost_truncates_to_cents(self):
        record = Record("1", 0, 1, (domain.Entity("Frequency", 7, ""),))
        assert domain.record_cost(record, unit_price=Decimal("0.0015")) == Decimal("0.01")
        assert domain.record_cost(record, unit_price=Decimal("0.001")) == Decimal("0.00")


class TestReadAnswer:
    @pytest.mark.parametrize(
        "action,status,body,ok",
        [
            ("createInstance", 200, '{"instanceId":"100001","appInfo":{"authUrl":"http://v/sso"}}', True),
            ("createInstance", 200, '{"instanceId":"0"}', False),
            ("createInstance", 200, '{"instanceId":0}', False),
            ("createInstance", 200, "{}", False),
            ("renewInstance", 200, '{"success":true}', True),
            ("renewInstance", 200, '{"success":"true"}', True),
            ("renewInstance", 200, '{"success":false,"message":"no"}', False),
            ("renewInstance", 200, '{"success":"TRUE"}', False),
            ("renewInstance", 500, '{"success":true}', False),
            ("renewInstance", 200, "<html>oops</html>", False),
            ("renewInstance", 200, "[true]", False),
        ],
    )
    def test_answers(self, action, status, body, ok):
        assert domain.read_answer(action=action, status=status, body=body).ok is ok

    def test_create_answer_carries_auth_url(self):
        answer = domain.read_answer(
            action="createInstance", status=200, body='{"instanceId":7,"appInfo":{"authUrl":"http://v/sso"}}'
        )
        assert answer.instance_id == "7" and answer.app_info == {"authUrl": "http://v/sso"}


values = st.text(max_size=40)
# "Signature" is the one name the vendor never signs: it is the signature's own parameter, added after
# signing, and the marketplace leaves it out when it checks (protocol §3.1; the SDK, given it, would sign it).
names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12).filter(
    lambda name: name != "Signature"
)


class TestAgainstTheSdkForAnyInput:
    """Whatever the vendor puts in a parameter, the simulator computes the signature the SDK computed."""

    @given(params=st.dictionaries(names, values, max_size=6))
    @settings(max_examples=200, deadline=None)
    def test_v1(self, params):
        assert domain.v1_signature(secret="sk", method="POST", params=params) == Utils.get_rpcsignature(
            params, "POST", "sk"
        )

    @given(query=st.dictionaries(names, values, max_size=4), nonce=st.text(min_size=1, max_size=20).map(str.strip))
    @settings(max_examples=200, deadline=None)
    def test_v3(self, query, nonce):
        request = DaraRequest()
        request.method = "POST"
        request.pathname = "/"
        request.query = query
        payload = hashlib.sha256(b"").hexdigest()
        request.headers = {"host": "h:1", "x-acs-date": "2025-06-01T03:00:00Z", "x-acs-signature-nonce": nonce}
        auth = domain.parse_v3_authorization(Utils.get_authorization(request, domain.V3_ALGORITHM, payload, "ak", "sk"))
        canonical, _ = domain.v3_canonical_request(
            method="POST", path="/", query=query, headers=request.headers, payload_hash=payload
        )
        assert domain.v3_signature(secret="sk", canonical_request=canonical) == auth.signature
