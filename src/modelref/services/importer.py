"""Import a source into the store: one transaction, every change audited, re-imports are no-ops."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelref.domain.audit import EventSpec, Operation, delta
from modelref.domain.bundle import Bundle
from modelref.domain.categories import Category
from modelref.domain.formats import Format
from modelref.domain.stamping import same_content, stamp
from modelref.storage.store import Store

IMPORT_USER = "modelref-import"


@dataclass(slots=True)
class CategoryReport:
    category: Category
    source_format: str
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass(slots=True)
class ImportReport:
    categories: list[CategoryReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(r.created or r.updated or r.deleted for r in self.categories)


def import_bundle(
    store: Store,
    bundle: Bundle,
    *,
    user: str = IMPORT_USER,
    now: int | None = None,
    on_category: Callable[[Category, int], None] | None = None,
) -> ImportReport:
    """Make each category in *bundle* hold exactly the bundle's records.

    Records keep their place in the stored order; unchanged records are left alone; every create, update
    and delete is an audit event. All categories commit together or not at all.
    """
    now = int(time.time()) if now is None else now
    report = ImportReport(warnings=list(bundle.warnings))
    with store.write() as tx:
        for category, pairs in bundle.categories.items():
            result = CategoryReport(category, bundle.formats.get(category, "v2"))
            stored = {r.name: r.document for r in tx.records.load(category)}
            events: list[EventSpec] = []
            created: list[tuple[str, dict[str, object]]] = []
            for key, record in pairs:
                document = record.to_document()
                old = stored.pop(key, None)
                if old is None:
                    document = stamp(document, None, now)
                    created.append((key, document))
                    events.append(_event(category, key, Operation.CREATE, user, {"after": document}))
                    result.created += 1
                elif same_content(document, old):
                    result.unchanged += 1
                else:
                    document = stamp(document, old, now)
                    tx.records.put(category, key, document)
                    events.append(_event(category, key, Operation.UPDATE, user, {"delta": delta(old, document)}))
                    result.updated += 1
            tx.records.put_many(category, created)
            for key, old in stored.items():
                tx.records.delete(category, key)
                events.append(_event(category, key, Operation.DELETE, user, {"before": old}))
                result.deleted += 1
            if events:
                tx.audit.append(events)
                counts = {
                    Operation.CREATE: result.created,
                    Operation.UPDATE: result.updated,
                    Operation.DELETE: result.deleted,
                }
                last = events[-1]
                tx.records.touch(category, now, counts, (last.operation, last.model_name))
            report.categories.append(result)
            if on_category:
                on_category(category, len(pairs))
    return report


def _event(category: Category, key: str, operation: Operation, user: str, payload: dict[str, Any]) -> EventSpec:
    return EventSpec(
        domain=Format.V2, category=category.value, model_name=key, operation=operation, user=user, payload=payload
    )
