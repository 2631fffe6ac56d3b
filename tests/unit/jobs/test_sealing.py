"""Sealed task arguments open only with this deployment's key, and are dropped from finished tasks."""

import pytest

from kaitong.jobs.sealing import DROPPED, SealBroken, seal, unseal, without_sealed


def test_a_sealed_value_opens_and_does_not_show_in_the_token():
    token = seal({"code": "123456"})
    assert "123456" not in token
    assert unseal(token) == {"code": "123456"}
    assert unseal("") == {}


def test_a_seal_from_another_key_does_not_open(settings):
    token = seal({"code": "123456"})
    settings.SECRET_KEY = "another-deployment-secret-key-0123456789"
    with pytest.raises(SealBroken, match="secret key"):
        unseal(token)
    settings.SECRET_KEY_FALLBACKS = ["another-deployment-secret-key-0123456789"]
    assert unseal(seal({"x": 1})) == {"x": 1}


def test_an_old_key_in_the_fallbacks_still_opens_old_seals(settings):
    token = seal({"code": "654321"})
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-rotated-secret-key-0123456789-abcdef"
    assert unseal(token) == {"code": "654321"}


def test_a_dropped_seal_says_so():
    with pytest.raises(SealBroken, match="dropped"):
        unseal(DROPPED)


def test_finished_tasks_keep_no_sealed_keyword():
    stored = {"args": [1], "kwargs": {"to": "a@b.c", "sealed_context": "gAAAA…", "sealed_other": ""}}
    assert without_sealed(stored) == {
        "args": [1],
        "kwargs": {"to": "a@b.c", "sealed_context": DROPPED, "sealed_other": ""},
    }
    plain = {"args": [], "kwargs": {"to": "a@b.c"}}
    assert without_sealed(plain) is plain
