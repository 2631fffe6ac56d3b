"""``seal`` and ``unseal`` under this deployment's data keys (``KAITONG_DATA_KEY``, read from settings.ENV)."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from kaitong.sealing.domain import Keyring, Sealed, parse_data_keys, seal_with, unseal_with


@lru_cache(maxsize=4)  # parsed once per value (tests swap settings.ENV)
def _parsed(text: str) -> Keyring:
    return parse_data_keys(text)


def keyring() -> Keyring:
    """The data keys: the first of KAITONG_DATA_KEY seals, all of them open (config/env.py checked them)."""
    return _parsed(settings.ENV.data_key)


def seal(plaintext: str, *, context: str) -> Sealed:
    """``plaintext`` sealed under the current data key, bound to ``context`` (e.g. ``sls.grant:<aliUid>``).

    Store both ``key_id`` and ``blob``; register the columns with ``register_sealed`` so that
    ``kaitong rotate-data-key`` re-seals them."""
    return seal_with(keyring().current, plaintext, context=context)


def unseal(key_id: str, blob: str, *, context: str) -> str:
    """The plaintext of a value ``seal`` sealed with the same ``context``.

    Raises SealBroken (tampered, another context), or its subclass UnknownKeyId (a key no longer held)."""
    return unseal_with(keyring(), key_id, blob, context=context)
