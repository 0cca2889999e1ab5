"""Turn the files of an import source into v2 records per category (pure: bytes in, records out)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from modelref.domain.categories import CATEGORY_INFO, IMAGE_REPO_CATEGORIES, Category
from modelref.domain.inputs import shown
from modelref.domain.legacy import describe_validation_error, legacy_to_v2
from modelref.domain.legacy_text import csv_to_v2, db_json_to_v2
from modelref.domain.records import RecordBase, parse_record, storable
from modelref.domain.vocab import known_value_problems
from modelref.domain.writes import check_name
from modelref.errors import InvalidRecord, InvalidSource

TEXT_REPO_FILES = ("models.csv", "db.json", "defaults.json", "generation_params.json")


def source_file_names() -> list[str]:
    """Every file name an import source may hold (v2 and legacy)."""
    names = {info.v2_file for info in CATEGORY_INFO.values()}
    names |= {info.legacy_file for info in CATEGORY_INFO.values() if info.legacy_file}
    return sorted(names | set(TEXT_REPO_FILES))


@dataclass(slots=True)
class Bundle:
    """What an import source holds: per category its (key, record) pairs in file order."""

    categories: dict[Category, list[tuple[str, RecordBase]]] = field(default_factory=dict)
    formats: dict[Category, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def record_count(self) -> int:
        return sum(len(pairs) for pairs in self.categories.values())


def _no_duplicate_keys(file_name: str) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise InvalidRecord(f"{file_name}: duplicate key {key!r}")
            result[key] = value
        return result

    return hook


def load_json(file_name: str, data: bytes) -> Any:
    """Parse JSON, refusing duplicate keys; errors name the file, line and column."""
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicate_keys(file_name))
    except UnicodeDecodeError as error:
        raise InvalidSource(f"{file_name}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise InvalidSource(
            f"{file_name}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None


def _looks_legacy(document: dict[str, Any]) -> bool:
    for record in document.values():
        if isinstance(record, dict) and ("type" in record or "files" in (record.get("config") or {})):
            return True
    return False


def _v2_records(category: Category, file_name: str, document: Any) -> list[tuple[str, RecordBase]]:
    if not isinstance(document, dict):
        raise InvalidRecord(f"{file_name}: must be a JSON object of records, got {type(document).__name__}")
    pairs: list[tuple[str, RecordBase]] = []
    for key, raw in document.items():
        if not isinstance(raw, dict):
            raise InvalidRecord(f"{file_name}: record {key!r}: must be a JSON object")
        try:
            pairs.append((key, parse_record(category, raw)))
        except ValidationError as error:
            raise InvalidRecord(f"{file_name}: record {key!r}: {describe_validation_error(error)}") from None
    return pairs


def _image_repo_file(category: Category, file_name: str, document: Any, bundle: Bundle) -> None:
    if isinstance(document, list) and not document:
        return  # the legacy repository's lora.json is `[]`: nothing to import
    if not isinstance(document, dict):
        raise InvalidRecord(f"{file_name}: must be a JSON object of records, got {type(document).__name__}")
    if document and _looks_legacy(document):
        pairs = []
        for key, raw in document.items():
            record, warnings = legacy_to_v2(category, key, raw, file_name)
            pairs.append((key, record))
            bundle.warnings.extend(warnings)
        bundle.formats[category] = "legacy"
    else:
        pairs = _v2_records(category, file_name, document)
        bundle.formats[category] = "v2"
    bundle.categories[category] = pairs


def read_bundle(files: Mapping[str, bytes]) -> Bundle:
    """Convert the files of a source (file name → bytes) into records.

    Legacy and v2 files are told apart by content. For text_generation, ``text_generation.json`` (v2)
    wins over ``models.csv``, which wins over ``db.json``. Raises InvalidSource or InvalidRecord naming
    the file, the record and the field; nothing is partially returned.
    """
    bundle = Bundle()
    for category, info in CATEGORY_INFO.items():
        if category is Category.TEXT_GENERATION:
            continue
        for file_name in dict.fromkeys((info.legacy_file, info.v2_file)):
            if file_name and file_name in files and category not in bundle.formats:
                document = load_json(file_name, files[file_name])
                if category in IMAGE_REPO_CATEGORIES or category is Category.LORA:
                    _image_repo_file(category, file_name, document, bundle)
                else:
                    bundle.categories[category] = _v2_records(category, file_name, document)
                    bundle.formats[category] = "v2"

    text: list[tuple[str, RecordBase]] | None = None
    if "text_generation.json" in files:
        text = _v2_records(
            Category.TEXT_GENERATION,
            "text_generation.json",
            load_json("text_generation.json", files["text_generation.json"]),
        )
        bundle.formats[Category.TEXT_GENERATION] = "v2"
    elif "models.csv" in files:
        try:
            csv_text = files["models.csv"].decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidSource(f"models.csv: not UTF-8 text ({error.reason} at byte {error.start})") from None
        records, warnings = csv_to_v2(csv_text)
        text = [(r.name, r) for r in records]
        bundle.warnings.extend(warnings)
        bundle.formats[Category.TEXT_GENERATION] = "legacy"
    elif "db.json" in files:
        records, warnings = db_json_to_v2(load_json("db.json", files["db.json"]))
        text = [(r.name, r) for r in records]
        bundle.warnings.extend(warnings)
        bundle.formats[Category.TEXT_GENERATION] = "legacy"
    if text is not None:
        bundle.categories[Category.TEXT_GENERATION] = text

    for category, pairs in bundle.categories.items():
        file_name = CATEGORY_INFO[category].v2_file
        for key, record in pairs:
            try:
                check_name(key)
                storable(record)
            except InvalidRecord as error:
                raise InvalidRecord(f"{file_name}: key {shown(key)!r}: {error.detail}") from None
            except ValueError as error:
                raise InvalidRecord(f"{file_name}: record {key!r}: {error}") from None
            for problem in known_value_problems(record):
                if problem.field != "parameters" or category is not Category.TEXT_GENERATION:
                    bundle.warnings.append(f"{file_name}: record {key!r}: field {problem.field!r}: {problem.message}")
    return bundle
