"""Typed records from the store."""

from __future__ import annotations

from pydantic import ValidationError

from modelref.domain.categories import Category
from modelref.domain.legacy import describe_validation_error
from modelref.domain.records import RecordBase, parse_record
from modelref.domain.render import Records
from modelref.errors import InvalidRecord
from modelref.storage.store import Store


def load_category(store: Store, category: Category) -> list[tuple[str, RecordBase]]:
    """The category's (key, record) pairs in stored order; InvalidRecord if a stored document is broken."""
    pairs = []
    for stored in store.load(category).records:
        try:
            pairs.append((stored.name, parse_record(category, stored.document)))
        except ValidationError as error:
            raise InvalidRecord(
                f"stored record {category.value}/{stored.name!r}: {describe_validation_error(error)}"
            ) from None
    return pairs


def load_all(store: Store) -> Records:
    return {category: load_category(store, category) for category in Category}
