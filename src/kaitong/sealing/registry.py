"""Which columns hold sealed values, so that ``kaitong rotate-data-key`` finds every one of them.

A capability that stores a sealed value registers it from its ``AppConfig.ready``::

    register_sealed("sls.AliyunGrant", "secret_key_id", "secret_sealed", lambda g: f"sls.grant:{g.ali_uid}")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SealedField:
    model_label: str  # "app_label.ModelName"
    key_id_field: str
    blob_field: str  # "" in a row means "nothing sealed here"
    context_of: Callable[[Any], str]  # the row (a model instance) → the context it was sealed with

    @property
    def name(self) -> str:
        return f"{self.model_label}.{self.blob_field}"


_REGISTRY: dict[tuple[str, str], SealedField] = {}


def register_sealed(model_label: str, key_id_field: str, blob_field: str, context_of: Callable[[Any], str]) -> None:
    """Declare that ``model_label``'s ``blob_field`` holds values sealed under the key in ``key_id_field``,
    each with the context ``context_of(row)``. Registering the same field again replaces it (``ready``
    may run more than once)."""
    _REGISTRY[(model_label, blob_field)] = SealedField(model_label, key_id_field, blob_field, context_of)


def sealed_fields() -> list[SealedField]:
    return sorted(_REGISTRY.values(), key=lambda field: field.name)
