"""What a source of records holds per category: the stored documents and the category's state.

The read model (services/catalog.py) is built from these; a database on a PRIMARY and, later, a PRIMARY
read over HTTP both produce them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One record as stored: its key and its JSON document."""

    name: str
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CategoryState:
    """A category's version, timestamps and write counters, with its current record count."""

    version: int
    last_updated: float
    initialized_at: float
    count: int
    last_operation_type: str | None = None
    last_operation_model: str | None = None
    total_creates: int = 0
    total_updates: int = 0
    total_deletes: int = 0
    error_count: int = 0


@dataclass(frozen=True, slots=True)
class CategoryData:
    """A category read in one consistent snapshot (``state`` None: the category was never written).

    ``received`` False: a REPLICA has not received the category from any source yet (it is not empty,
    it is unknown)."""

    state: CategoryState | None
    records: list[StoredRecord] = field(default_factory=list)
    received: bool = True
