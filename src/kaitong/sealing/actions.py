"""Rotation: every registered sealed value re-sealed under the current data key."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import transaction

from kaitong.sealing.domain import SealBroken, UnknownKeyId, reseal
from kaitong.sealing.keyring import keyring
from kaitong.sealing.registry import SealedField, sealed_fields

logger = logging.getLogger(__name__)

BATCH = 500


class NotRegistrable(Exception):
    """A registration names a model or a field that does not exist."""


@dataclass(frozen=True)
class Rotated:
    """One registered field after a rotation: how many values were re-sealed, how many already were current."""

    name: str
    resealed: int
    current: int


def _model(field: SealedField) -> type:
    try:
        model = apps.get_model(field.model_label)
        model._meta.get_field(field.key_id_field)
        model._meta.get_field(field.blob_field)
    except (LookupError, ValueError, FieldDoesNotExist) as exc:
        raise NotRegistrable(f"sealed field {field.name} (key id in {field.key_id_field}): {exc}") from None
    return model


def _sealed_rows(model: type, field: SealedField):  # type: ignore[no-untyped-def]
    return model._default_manager.exclude(**{field.blob_field: ""})  # type: ignore[attr-defined]


def do_rotate_data_key(*, batch_size: int = BATCH, progress: Callable[[str, int], None] | None = None) -> list[Rotated]:
    """Re-seal every value in every registered field that is not under the current data key.

    Each batch of ``batch_size`` rows is one transaction, its rows locked (a concurrent writer of a new
    value waits, so nothing it writes is overwritten with the old one); an interrupted run keeps what
    it did, and running again re-seals only what is left. Before anything changes, every key id in use
    is checked: a value under a key KAITONG_DATA_KEY lacks raises UnknownKeyId naming it.
    ``progress(name, count)`` is told after each batch. Raises NotRegistrable, UnknownKeyId, SealBroken.
    """
    ring = keyring()
    fields = [(field, _model(field)) for field in sealed_fields()]
    for field, model in fields:
        in_use = _sealed_rows(model, field).values_list(field.key_id_field, flat=True).distinct()
        for key_id in sorted(set(in_use)):
            if key_id not in ring.keys:
                raise UnknownKeyId(key_id)

    results = []
    for field, model in fields:
        current = ring.current.key_id
        already = _sealed_rows(model, field).filter(**{field.key_id_field: current}).count()
        resealed, last_pk = 0, None
        while True:
            with transaction.atomic():
                batch = _sealed_rows(model, field).exclude(**{field.key_id_field: current}).order_by("pk")
                if last_pk is not None:
                    batch = batch.filter(pk__gt=last_pk)
                rows = list(batch.select_for_update()[:batch_size])
                if not rows:
                    break
                changed = []
                for row in rows:
                    try:
                        sealed = reseal(
                            ring,
                            getattr(row, field.key_id_field),
                            getattr(row, field.blob_field),
                            context=field.context_of(row),
                        )
                    except SealBroken as exc:
                        # Which row, so that the operator can look (this batch is rolled back, earlier ones kept).
                        raise SealBroken(f"{field.name} of row {row.pk}: {exc}") from None
                    if sealed is not None:
                        setattr(row, field.key_id_field, sealed.key_id)
                        setattr(row, field.blob_field, sealed.blob)
                        changed.append(row)
                model._default_manager.bulk_update(changed, [field.key_id_field, field.blob_field])  # type: ignore[attr-defined]
                last_pk = rows[-1].pk
            resealed += len(changed)
            if progress is not None:
                progress(field.name, resealed)
        logger.info("data key rotation: %s re-sealed %d, already under %s %d", field.name, resealed, current, already)
        results.append(Rotated(name=field.name, resealed=resealed, current=already))
    return results
