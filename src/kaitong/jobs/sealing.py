"""Sealed task arguments: what a task needs but must not keep in clear (a verification code).

``seal`` encrypts a JSON object with Fernet (AES-CBC + HMAC) under a key derived from
``KAITONG_SECRET_KEY`` (older keys in ``SECRET_KEY_FALLBACKS`` still open old seals). A task takes the
token in a keyword argument named ``sealed_…``; when the task is finished, successfully or for good,
the engine replaces every such argument with ``DROPPED``, so no finished task keeps even the sealed form.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from kaitong.jobs.retries import GiveUp

SEALED_PREFIX = "sealed_"
DROPPED = "dropped"
_PURPOSE = b"kaitong: sealed task arguments"


class SealBroken(GiveUp):
    """The sealed value cannot be opened: it was dropped (its task finished), or the key changed."""


@lru_cache(maxsize=8)  # one derivation per key, not per seal
def _fernet(secret_key: str | bytes) -> Fernet:
    material = secret_key.encode() if isinstance(secret_key, str) else secret_key
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(material)
    return Fernet(base64.urlsafe_b64encode(key))


def _keys() -> MultiFernet:
    return MultiFernet([_fernet(key) for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]])


def seal(values: dict[str, Any]) -> str:
    """``values`` encrypted into a token that only this deployment's secret key opens."""
    return _keys().encrypt(json.dumps(values).encode()).decode()


def unseal(token: str) -> dict[str, Any]:
    """The values ``seal`` sealed in ``token`` ("" seals nothing); SealBroken if they cannot be read."""
    if not token:
        return {}
    if token == DROPPED:
        raise SealBroken("the sealed arguments were dropped when this task first finished")
    try:
        opened = json.loads(_keys().decrypt(token.encode()))
    except InvalidToken:
        raise SealBroken("the sealed arguments do not open with this deployment's secret key") from None
    if not isinstance(opened, dict):
        raise SealBroken("the sealed arguments are not an object")
    return opened


def is_sealed(name: str) -> bool:
    return name.startswith(SEALED_PREFIX)


def without_sealed(args_kwargs: dict[str, Any]) -> dict[str, Any]:
    """A task row's arguments with every non-empty ``sealed_…`` keyword replaced by ``DROPPED``."""
    kwargs = args_kwargs.get("kwargs") or {}
    if not any(is_sealed(name) and value for name, value in kwargs.items()):
        return args_kwargs
    dropped = {name: DROPPED if is_sealed(name) and value else value for name, value in kwargs.items()}
    return {**args_kwargs, "kwargs": dropped}
