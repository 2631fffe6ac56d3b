"""Price lists as data: one JSON file per version, loaded by a data migration (or by tests).

A file names its version, the Beijing day it takes effect, and per item: names, unit size, daily rule
(max|sum of the 24 hourly samples), the default retention, and the price per retention in days
("0" when the price does not depend on retention). Old versions stay: a day is billed by the version
in effect on that day.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent


def read(name: str) -> dict[str, Any]:
    return json.loads((FOLDER / f"{name}.json").read_text(encoding="utf-8"))


def load(data: dict[str, Any], *, price_list_model: Any, price_item_model: Any) -> Any:
    """Create the version described by ``data`` (idempotent by version); works with historical models."""
    price_list, created = price_list_model.objects.get_or_create(
        version=data["version"],
        defaults={
            "effective_from": date.fromisoformat(data["effective_from"]),
            "currency": data.get("currency", "CNY"),
            "note": data.get("note", ""),
        },
    )
    if not created:
        return price_list
    rows = []
    for item in data["items"]:
        default = int(item.get("default_retention_days", 0))
        for retention, price in item["prices"].items():
            rows.append(
                price_item_model(
                    price_list=price_list,
                    item=item["item"],
                    name_zh=item["name_zh"],
                    name_en=item["name_en"],
                    unit_size=Decimal(item["unit_size"]),
                    unit_zh=item["unit_zh"],
                    unit_en=item["unit_en"],
                    daily_rule=item["daily_rule"],
                    retention_days=int(retention),
                    default_retention=int(retention) == default,
                    price=Decimal(price),
                )
            )
    price_item_model.objects.bulk_create(rows)
    return price_list
