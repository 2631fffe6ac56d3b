"""Sealing as pure rules: the data keys' form, AES-GCM bound to a context, re-sealing for rotation."""

from __future__ import annotations

import base64

import pytest

from kaitong.sealing import domain

K1 = "k1:" + base64.b64encode(b"1" * 32).decode()
K2 = "k2:" + base64.b64encode(b"2" * 32).decode()
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"  # an AccessKey secret's shape


class TestParseDataKeys:
    def test_the_first_key_seals_and_every_key_opens(self):
        ring = domain.parse_data_keys(f"{K2}, {K1}")
        assert ring.current.key_id == "k2"
        assert set(ring.keys) == {"k1", "k2"} and ring.keys["k1"].secret == b"1" * 32

    @pytest.mark.parametrize(
        ("text", "says"),
        [
            ("no-colon-here", "must be <id>:<base64 of 32 bytes>"),
            (":" + base64.b64encode(b"1" * 32).decode(), "the id must be"),
            ("k 1:" + base64.b64encode(b"1" * 32).decode(), "the id must be"),
            ("k1:not*base64", "'k1' is not valid base64"),
            ("k1:" + base64.b64encode(b"short").decode(), "'k1' must be 32 bytes (it is 5)"),
            ("k1:" + base64.b64encode(b"1" * 33).decode(), "must be 32 bytes (it is 33)"),
            (f"{K1},{K1}", "'k1' is given twice"),
            (f"{K1},", "key 2 must be"),
        ],
    )
    def test_a_malformed_value_says_what_is_wrong_never_the_key(self, text, says):
        with pytest.raises(domain.DataKeyError) as error:
            domain.parse_data_keys(text)
        assert says in str(error.value)
        assert base64.b64encode(b"1" * 32).decode() not in str(error.value)

    def test_a_key_never_shows_in_a_repr(self):
        ring = domain.parse_data_keys(K1)
        assert "111" not in repr(ring) and "MTEx" not in repr(ring)

    def test_a_new_key_is_a_valid_entry_of_its_own(self):
        entry = domain.new_data_key("2026-12")
        ring = domain.parse_data_keys(entry)
        assert ring.current.key_id == "2026-12" and entry != domain.new_data_key("2026-12")
        with pytest.raises(domain.DataKeyError):
            domain.new_data_key("no spaces")


class TestSealing:
    ring = domain.parse_data_keys(f"{K1},{K2}")

    def seal(self, plaintext=SECRET, context="sls.grant:1234"):
        return domain.seal_with(self.ring.current, plaintext, context=context)

    def test_roundtrip_under_the_current_key_id(self):
        sealed = self.seal()
        assert sealed.key_id == "k1" and SECRET not in sealed.blob
        assert domain.unseal_with(self.ring, sealed.key_id, sealed.blob, context="sls.grant:1234") == SECRET

    def test_each_seal_has_its_own_nonce(self):
        assert self.seal().blob != self.seal().blob

    def test_unicode_and_empty_values_roundtrip(self):
        for plaintext in ("", "密钥 🔑"):
            sealed = self.seal(plaintext)
            assert domain.unseal_with(self.ring, "k1", sealed.blob, context="sls.grant:1234") == plaintext

    def test_another_context_does_not_open_it(self):
        sealed = self.seal()
        with pytest.raises(domain.SealBroken, match="another context"):
            domain.unseal_with(self.ring, "k1", sealed.blob, context="sls.grant:9999")

    def test_a_context_is_required(self):
        with pytest.raises(ValueError, match="needs a context"):
            self.seal(context="")

    def test_a_tampered_blob_does_not_open(self):
        raw = bytearray(base64.b64decode(self.seal().blob))
        raw[-1] ^= 1
        with pytest.raises(domain.SealBroken):
            domain.unseal_with(self.ring, "k1", base64.b64encode(bytes(raw)).decode(), context="sls.grant:1234")
        for broken in ("not base64!", base64.b64encode(b"short").decode()):
            with pytest.raises(domain.SealBroken):
                domain.unseal_with(self.ring, "k1", broken, context="sls.grant:1234")

    def test_another_key_id_does_not_open_it(self):
        with pytest.raises(domain.SealBroken):
            domain.unseal_with(self.ring, "k2", self.seal().blob, context="sls.grant:1234")

    def test_an_unknown_key_id_is_named(self):
        with pytest.raises(domain.UnknownKeyId, match="'gone'") as error:
            domain.unseal_with(self.ring, "gone", self.seal().blob, context="sls.grant:1234")
        assert error.value.key_id == "gone" and isinstance(error.value, domain.SealBroken)


class TestReseal:
    def test_a_value_under_an_old_key_moves_to_the_current_one_and_opens_the_same(self):
        old = domain.seal_with(domain.parse_data_keys(K1).current, SECRET, context="c")
        ring = domain.parse_data_keys(f"{K2},{K1}")
        moved = domain.reseal(ring, old.key_id, old.blob, context="c")
        assert moved is not None and moved.key_id == "k2"
        assert domain.unseal_with(domain.parse_data_keys(K2), "k2", moved.blob, context="c") == SECRET

    def test_a_value_already_under_the_current_key_is_left_alone(self):
        ring = domain.parse_data_keys(f"{K2},{K1}")
        current = domain.seal_with(ring.current, SECRET, context="c")
        assert domain.reseal(ring, current.key_id, current.blob, context="c") is None
