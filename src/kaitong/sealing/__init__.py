"""Secrets at rest, sealed with AES-GCM under ``KAITONG_DATA_KEY``; why a key of its own, apart from the
task arguments' Fernet under the secret key (``kaitong.jobs.sealing``): docs/decisions/2026-11-30-data-key.md.

    sealed = seal(secret, context=f"sls.grant:{ali_uid}")        # store sealed.key_id and sealed.blob
    secret = unseal(row.key_id, row.blob, context=f"sls.grant:{ali_uid}")   # or SealBroken
    register_sealed("sls.AliyunGrant", "secret_key_id", "secret_sealed", lambda g: f"sls.grant:{g.ali_uid}")
"""

from kaitong.sealing.domain import SealBroken, Sealed, UnknownKeyId
from kaitong.sealing.keyring import seal, unseal
from kaitong.sealing.registry import register_sealed

__all__ = ["SealBroken", "Sealed", "UnknownKeyId", "register_sealed", "seal", "unseal"]
