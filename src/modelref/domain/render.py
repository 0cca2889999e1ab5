"""Render the reference files: v2 documents and the legacy repositories' files, as bytes."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from modelref.domain.categories import CATEGORY_INFO, IMAGE_REPO_CATEGORIES, Category
from modelref.domain.convert import legacy_document
from modelref.domain.legacy_text import dump_db_json, v2_to_csv
from modelref.domain.records import RecordBase, TextGenerationModelRecord
from modelref.domain.vocab import GENERATION_PARAMS, TEXT_DEFAULTS

Records = Mapping[Category, Sequence[tuple[str, RecordBase]]]
"""Per category, its (key, record) pairs in stored order."""


def v2_document(pairs: Sequence[tuple[str, RecordBase]]) -> dict[str, Any]:
    return {key: record.to_document() for key, record in pairs}


def v2_files(records: Records) -> dict[str, bytes]:
    """One v2 file per category (every category, empty ones as ``{}``)."""
    return {
        info.v2_file: orjson.dumps(v2_document(records.get(category, ())), option=orjson.OPT_INDENT_2) + b"\n"
        for category, info in CATEGORY_INFO.items()
    }


def legacy_file(category: Category, pairs: Sequence[tuple[str, RecordBase]]) -> bytes:
    """A category's legacy document as the legacy repositories' file holds it: ``db.json`` for text, the
    image repository's JSON file for the others (4-space indent, ASCII escapes, a final newline)."""
    document = legacy_document(category, pairs)
    if category is Category.TEXT_GENERATION:
        return dump_db_json(document).encode()
    return (json.dumps(document, indent=4) + "\n").encode()


def legacy_files(records: Records) -> dict[str, bytes]:
    """The legacy repositories' files: the image repository's JSON files and the text repository's four."""
    files: dict[str, bytes] = {}
    for category in IMAGE_REPO_CATEGORIES:
        file_name = CATEGORY_INFO[category].legacy_file
        assert file_name is not None
        files[file_name] = legacy_file(category, records.get(category, ()))
    files["lora.json"] = b"[]\n"  # the image repository keeps an empty list here; LoRAs live elsewhere
    text_pairs = records.get(Category.TEXT_GENERATION, ())
    text = [r for _, r in text_pairs if isinstance(r, TextGenerationModelRecord)]
    files["db.json"] = legacy_file(Category.TEXT_GENERATION, text_pairs)
    files["models.csv"] = v2_to_csv(text).encode()
    files["defaults.json"] = (json.dumps(TEXT_DEFAULTS, indent=2) + "\n").encode()
    files["generation_params.json"] = (json.dumps(GENERATION_PARAMS, indent=2) + "\n").encode()
    return files
