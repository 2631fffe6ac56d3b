"""``kaitong rotate-data-key`` (and ``kaitong admin rotate_data_key``): the interface of the rotation."""

from __future__ import annotations

import sys
from typing import Protocol

from kaitong.sealing import actions
from kaitong.sealing.domain import SealBroken
from kaitong.sealing.keyring import keyring


class Writable(Protocol):
    def write(self, text: str, /) -> object: ...


class RotationFailed(Exception):
    """The rotation stopped; the message says why and what to do (what it re-sealed before stays)."""


def rotate_data_key(*, batch_size: int = actions.BATCH, out: Writable | None = None) -> int:
    """Re-seal every registered sealed value under the current data key, printing counts; returns how
    many were re-sealed. Raises RotationFailed."""
    out = out or sys.stdout
    current = keyring().current.key_id
    try:
        results = actions.do_rotate_data_key(batch_size=batch_size)
    except (SealBroken, actions.NotRegistrable) as exc:
        raise RotationFailed(f"rotation stopped: {exc}") from None
    if not results:
        out.write("no sealed fields are registered: nothing to re-seal\n")
    for result in results:
        out.write(f"{result.name}: {result.resealed} re-sealed, {result.current} already under {current}\n")
    total = sum(result.resealed for result in results)
    out.write(f"done: {total} re-sealed under data key {current}\n")
    return total
