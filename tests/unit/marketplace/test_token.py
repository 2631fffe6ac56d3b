"""The marketplace's md5 token, against the worked examples and the peer test vector (protocol §1.2)."""

from hypothesis import given
from hypothesis import strategies as st

from kaitong.marketplace.aliyun.token import signed, spi_token, token_is_valid

KEY = "test-isv-key-123"


class TestWorkedExamples:
    def test_create_with_extra_billing_item_and_package_version(self):
        params = {
            "action": "createInstance",
            "aliUid": "1234567890123456",
            "orderBizId": "100001",
            "orderId": "200001000000001",
            "productCode": "cmapi00012345",
            "skuId": "yuncode1234500001",
            "trial": "false",
            "expiredOn": "2025-12-31 23:59:59",
            "package_version": "yuncode1234500001",
            "Count": "2",
        }
        assert spi_token(params, KEY) == "54e9e363b550a6ca949794908863efec"

    def test_renew(self):
        params = {
            "action": "renewInstance",
            "expiredOn": "2026-12-31 23:59:59",
            "instanceId": "100001",
            "orderId": "200001000000002",
        }
        assert spi_token(params, KEY) == "3a580de5f930a262c54683b7c25b8347"

    def test_verify(self):
        params = {"action": "verify", "instanceId": "100001", "timeStamp": "2025-06-01 10:00:00"}
        assert spi_token(params, KEY) == "9fb1725ca9fedb191dc840cb396e1eb1"

    def test_doc_example(self):
        import hashlib

        assert (
            spi_token({"p1": "1", "p2": "2", "p3": "3"}, "isvkey")
            == hashlib.md5(  # noqa: S324
                b"p1=1&p2=2&p3=3&key=isvkey"
            ).hexdigest()
        )

    def test_jd_cloud_peer_vector_keeps_empty_values_and_literal_spaces(self):
        params = {
            "accountNum": "1",
            "action": "createInstance",
            "email": "bujiaban@jd.com",
            "expiredOn": "2018-06-30 23:59:59",
            "jdPin": "bujiaban",
            "mobile": "",
            "orderBizId": "444181",
            "orderId": "556596",
            "serviceCode": "FW_GOODS-500232",
            "skuId": "FW_GOODS-500232-1",
            "template": "",
        }
        assert spi_token(params, "qweqeqeqe123123123131") == "9512df22a941f172a9f28068b758ee3e"

    def test_token_parameter_is_not_signed(self):
        params = {"action": "verify", "instanceId": "1", "timeStamp": "2025-06-01 10:00:00"}
        assert spi_token({**params, "token": "anything"}, KEY) == spi_token(params, KEY)


names = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="&="), min_size=1, max_size=12
)
values = st.text(max_size=20)


class TestVerification:
    @given(st.dictionaries(names, values, min_size=1, max_size=8))
    def test_signed_parameters_verify(self, params):
        assert token_is_valid(signed(params, KEY), KEY)

    @given(st.dictionaries(names, values, min_size=1, max_size=8), st.data())
    def test_changing_any_value_breaks_the_token(self, params, data):
        sent = signed(params, KEY)
        name = data.draw(st.sampled_from(sorted(params)))
        sent[name] = sent[name] + "x"
        assert not token_is_valid(sent, KEY)

    @given(st.dictionaries(names, values, min_size=1, max_size=8), st.data())
    def test_renaming_a_parameter_breaks_the_token(self, params, data):
        sent = signed(params, KEY)
        name = data.draw(st.sampled_from(sorted(params)))
        renamed = name + "_"
        if renamed in sent:
            return
        sent[renamed] = sent.pop(name)
        assert not token_is_valid(sent, KEY)

    def test_wrong_key_missing_token_and_upper_case_token_fail(self):
        params = {"action": "expiredInstance", "instanceId": "100001"}
        assert not token_is_valid(signed(params, "other-key"), KEY)
        assert not token_is_valid(params, KEY)
        upper = signed(params, KEY)
        upper["token"] = upper["token"].upper()
        assert not token_is_valid(upper, KEY)


class TestSpiMatchesInFull:
    """Identifiers and times are matched in full and in ASCII (``$`` accepts a final newline, ``\\d``
    full-width digits): checked on the pure parser, past the control-character check."""

    def test_identifier_with_a_final_newline_is_not_an_identifier(self):
        from kaitong.marketplace.aliyun import spi

        assert spi._ID.fullmatch("abc\n") is None and spi._ID.fullmatch("abc") is not None
        assert spi._ID.fullmatch("１２３") is None

    def test_times_are_ascii_and_plausible(self):
        import pytest

        from kaitong.marketplace.aliyun import spi

        assert spi.parse_time("2026-11-30 10:00:00", name="t").year == 2026
        for bad in ("2026-11-30 10:00:00\n", "２０２６-11-30 10:00:00", "1999-12-31 23:59:59", "2101-01-01 00:00:00"):
            with pytest.raises(spi.BadCall):
                spi.parse_time(bad, name="t")
