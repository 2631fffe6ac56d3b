"""The operator's per-instance timeline, as plain values: events from many sources, in time order. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple


class Event(NamedTuple):
    """One line of a timeline: when, what kind of thing (a source's stable code), what happened."""

    at: datetime
    kind: str
    text: str


def in_time_order(sources: Iterable[Iterable[Event]]) -> list[Event]:
    """Every source's events, oldest first; at the same instant, in the order the sources were given
    (an SPI call before the state change it made, before the settlement change that followed)."""
    numbered = [(event.at, rank, n, event) for rank, events in enumerate(sources) for n, event in enumerate(events)]
    return [event for *_, event in sorted(numbered, key=lambda item: item[:3])]
