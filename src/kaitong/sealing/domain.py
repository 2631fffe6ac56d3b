"""Sealing secrets at rest, as pure rules: the data keys' format, and AES-GCM over one value.

A sealed value is two strings kept side by side: the id of the data key that sealed it, and a blob
(base64 of a random 12-byte nonce followed by the AES-256-GCM ciphertext and tag). The caller's
*context* (what the value is and whose, e.g. ``sls.grant:<aliUid>``) is the associated data: a blob
copied to another row, or to another kind of secret, does not open there.

``KAITONG_DATA_KEY`` is ``<id>:<base64 of 32 bytes>[,<id>:<base64 of 32 bytes>…]``: the first key seals,
every key opens, so a new key goes first and the old ones stay until ``kaitong rotate-data-key`` has
re-sealed what they sealed.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # GCM's native nonce; random, so one key may seal about 2**32 values before rotation
TAG_BYTES = 16
# A key id is stored beside every blob: short, and safe in a column, a log line and a shell.
KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class DataKeyError(ValueError):
    """``KAITONG_DATA_KEY`` does not have the documented form; the message says what is wrong (never the key)."""


class SealBroken(Exception):
    """A sealed value does not open: tampered with, under another context, or under a key we do not hold."""


class UnknownKeyId(SealBroken):
    """The value was sealed under a key id ``KAITONG_DATA_KEY`` does not hold (any more)."""

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"sealed under data key id {key_id!r}, which KAITONG_DATA_KEY does not hold: "
            f"add that key after the current one"
        )
        self.key_id = key_id


@dataclass(frozen=True)
class Sealed:
    """What to store: the key id and the blob, in two columns beside each other."""

    key_id: str
    blob: str


@dataclass(frozen=True)
class DataKey:
    key_id: str
    secret: bytes

    def __repr__(self) -> str:  # a traceback or a log line never shows the key
        return f"DataKey({self.key_id!r})"


@dataclass(frozen=True)
class Keyring:
    """The data keys: ``current`` seals, each of ``keys`` (current included) opens."""

    current: DataKey
    keys: Mapping[str, DataKey]


def parse_data_keys(text: str) -> Keyring:
    """The keyring ``text`` (``KAITONG_DATA_KEY``'s value) describes. Raises DataKeyError."""
    keys: dict[str, DataKey] = {}
    order: list[str] = []
    for position, entry in enumerate(text.split(","), start=1):
        entry = entry.strip()
        key_id, colon, encoded = entry.partition(":")
        if not colon:
            raise DataKeyError(f"key {position} must be <id>:<base64 of {KEY_BYTES} bytes>")
        if not KEY_ID.match(key_id):
            raise DataKeyError(f"key {position}: the id must be 1-32 of A-Z a-z 0-9 _ . -")
        if key_id in keys:
            raise DataKeyError(f"key id {key_id!r} is given twice")
        try:
            secret = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise DataKeyError(f"key {key_id!r} is not valid base64") from None
        if len(secret) != KEY_BYTES:
            raise DataKeyError(f"key {key_id!r} must be {KEY_BYTES} bytes (it is {len(secret)})")
        keys[key_id] = DataKey(key_id, secret)
        order.append(key_id)
    return Keyring(current=keys[order[0]], keys=keys)


def new_data_key(key_id: str) -> str:
    """A fresh ``<id>:<base64>`` entry for ``KAITONG_DATA_KEY`` (what the operator generates)."""
    if not KEY_ID.match(key_id):
        raise DataKeyError("the id must be 1-32 of A-Z a-z 0-9 _ . -")
    return f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


def _associated(context: str) -> bytes:
    if not context:
        # Every sealed value says what it is and whose: an empty context would let blobs be swapped.
        raise ValueError("a sealed value needs a context (e.g. 'sls.grant:<aliUid>')")
    return context.encode()


def seal_with(key: DataKey, plaintext: str, *, context: str) -> Sealed:
    """``plaintext`` sealed under ``key``, bound to ``context``."""
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key.secret).encrypt(nonce, plaintext.encode(), _associated(context))
    return Sealed(key_id=key.key_id, blob=base64.b64encode(nonce + ciphertext).decode())


def unseal_with(keyring: Keyring, key_id: str, blob: str, *, context: str) -> str:
    """The plaintext sealed in ``blob`` under ``key_id`` and ``context``.

    Raises UnknownKeyId (the keyring lacks ``key_id``) or SealBroken (tampered, or another context)."""
    key = keyring.keys.get(key_id)
    if key is None:
        raise UnknownKeyId(key_id)
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        raise SealBroken("the sealed value is not base64") from None
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise SealBroken("the sealed value is too short")
    try:
        opened = AESGCM(key.secret).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated(context))
    except InvalidTag:
        raise SealBroken("the sealed value does not open: altered, or sealed for another context") from None
    return opened.decode()


def reseal(keyring: Keyring, key_id: str, blob: str, *, context: str) -> Sealed | None:
    """The value re-sealed under the current key; None when it already is (rotation is idempotent)."""
    if key_id == keyring.current.key_id:
        return None
    return seal_with(keyring.current, unseal_with(keyring, key_id, blob, context=context), context=context)
