"""PushMeteringData's wire format, and what an error code means for the records in the request."""

from __future__ import annotations

import pytest

from kaitong.marketplace.aliyun import metering
from kaitong.marketplace.aliyun.metering import Outcome


class TestAnswers:
    @pytest.mark.parametrize(
        ("code", "outcome"),
        [
            ("Service.Flow.Control", Outcome.RETRY),
            ("Throttling.User", Outcome.RETRY),
            ("Invalid.Parameter.Metering", Outcome.REJECTED),
            ("Metering.Data.Exceeded", Outcome.REJECTED),
            ("SignatureDoesNotMatch", Outcome.REJECTED),
            ("UnknownError", Outcome.UNKNOWN),
            ("", Outcome.UNKNOWN),
            (None, Outcome.UNKNOWN),
        ],
    )
    def test_classify(self, code, outcome):
        assert metering.classify_error(code) is outcome

    def test_metering_entry_is_amount_mode(self):
        entry = metering.metering_entry(
            instance_id="100001", start_time=1, end_time=86401, amount_cents=1234, metering_assit="cm-Frequency-1"
        )
        assert entry == {
            "InstanceId": "100001",
            "StartTime": "1",
            "EndTime": "86401",
            "Entities": [{"Key": "Frequency", "Value": "1234", "meteringAssit": "cm-Frequency-1"}],
        }
