"""The one converter pair between v2 records and the legacy shape (DATA.md §6, §7).

``to_legacy`` and ``from_legacy`` dispatch through one table: the text repository's db.json entries for
text_generation, the image repository's records for the other legacy categories. Import, export, v1
reads and v1 writes all convert through here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from modelref.domain.categories import CATEGORY_INFO, Category
from modelref.domain.inputs import shown
from modelref.domain.legacy import describe_validation_error, legacy_to_v2, v2_to_legacy
from modelref.domain.legacy_text import db_entries, db_json_to_v2
from modelref.domain.records import RecordBase, TextGenerationModelRecord, parse_record
from modelref.errors import InvalidRecord, NotFound

LegacyEntries = dict[str, dict[str, Any]]
"""Legacy records by key: one for an image-repository record, three for a text record (itself and its
two backend variants, DATA.md §8.2)."""


@dataclass(frozen=True, slots=True)
class _Converter:
    to_legacy: Callable[[Category, str, RecordBase], LegacyEntries]
    from_legacy: Callable[[Category, str, Any], tuple[RecordBase, list[str]]]


def _image_to_legacy(category: Category, key: str, record: RecordBase) -> LegacyEntries:
    return {key: v2_to_legacy(category, record)}


def _text_to_legacy(_category: Category, _key: str, record: RecordBase) -> LegacyEntries:
    assert isinstance(record, TextGenerationModelRecord)
    return db_entries(record)


def _text_from_legacy(_category: Category, key: str, legacy: Any) -> tuple[RecordBase, list[str]]:
    records, warnings = db_json_to_v2({key: legacy})
    if not records:
        raise InvalidRecord(f"record {shown(key)!r} is not a base text model")
    return records[0], warnings


_IMAGE = _Converter(_image_to_legacy, legacy_to_v2)
_CONVERTERS: dict[Category, _Converter] = {
    category: _Converter(_text_to_legacy, _text_from_legacy) if category is Category.TEXT_GENERATION else _IMAGE
    for category, info in CATEGORY_INFO.items()
    if info.legacy_file is not None
}


def has_legacy_format(category: Category) -> bool:
    return category in _CONVERTERS


def _converter(category: Category) -> _Converter:
    converter = _CONVERTERS.get(category)
    if converter is None:
        raise NotFound(f"Model category '{category.value}' has no legacy format")
    return converter


def to_legacy(category: Category, key: str, record: RecordBase) -> LegacyEntries:
    """The legacy entries a stored record renders as (NotFound for a category without a legacy format)."""
    return _converter(category).to_legacy(category, key, record)


def from_legacy(category: Category, key: str, legacy: Any) -> tuple[RecordBase, list[str]]:
    """The v2 record a legacy entry stands for, with non-fatal warnings.

    Raises InvalidRecord (or pydantic's ValidationError) when it cannot be converted.
    """
    return _converter(category).from_legacy(category, key, legacy)


def legacy_document(category: Category, pairs: Sequence[tuple[str, RecordBase]]) -> dict[str, Any]:
    """The category's legacy document: every record's legacy entries, in stored order."""
    document: dict[str, Any] = {}
    for key, record in pairs:
        document.update(to_legacy(category, key, record))
    return document


def legacy_view(category: Category, key: str, document: dict[str, Any]) -> dict[str, Any]:
    """A stored v2 document as its legacy entry (what a v1 client sees under *key*).

    Raises InvalidRecord when the stored document is not a valid record of the category.
    """
    try:
        record = parse_record(category, document)
    except ValidationError as error:
        raise InvalidRecord(f"stored record {shown(key)!r}: {describe_validation_error(error)}") from None
    return to_legacy(category, key, record)[key]
