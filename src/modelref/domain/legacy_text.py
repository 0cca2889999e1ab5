"""The text repository's models.csv and db.json ⇄ v2 text records (DATA.md §5.3, §6.3, §7.3, §8)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from modelref.domain.categories import Category
from modelref.domain.legacy import describe_validation_error
from modelref.domain.records import TextGenerationModelRecord, parse_record
from modelref.domain.textnames import base_name
from modelref.domain.vocab import TEXT_DEFAULTS, backend_of
from modelref.errors import InvalidRecord

CSV_HEADER = (
    "name",
    "parameters_bn",
    "display_name",
    "url",
    "baseline",
    "description",
    "style",
    "tags",
    "instruct_format",
    "settings",
)
_OPTIONAL_TAIL = ("display_name", "url", "tags", "instruct_format", "settings")


def model_name_of(name: str) -> str:
    """The legacy ``model_name``: the part after the organisation (``Org/Model`` → ``Model``)."""
    return name.split("/")[1] if "/" in name else name


def backend_variants(name: str) -> tuple[str, str]:
    """The two legacy-only names a base text model also appears under (DATA.md §8.2)."""
    return f"aphrodite/{name}", f"koboldcpp/{model_name_of(name)}"


def auto_display_name(model_name: str) -> str:
    return re.sub(r" +", " ", model_name.replace("-", " ").replace("_", " ")).strip()


def format_billions(parameters: int) -> str:
    billions = parameters / 1e9
    return str(int(billions)) if billions == int(billions) else repr(billions)


def size_tag(billions: float) -> str:
    return f"{round(billions)}B"


def _split_tags(text: str) -> list[str]:
    return [tag.strip() for tag in text.split(",") if tag.strip()]


def _make_record(doc: dict[str, Any], where: str) -> TextGenerationModelRecord:
    doc = {k: v for k, v in doc.items() if v not in ("", None)}
    doc.setdefault("text_model_group", base_name(doc["name"]))
    try:
        record = parse_record(Category.TEXT_GENERATION, doc)
    except ValidationError as error:
        raise InvalidRecord(f"{where}: {describe_validation_error(error)}") from None
    assert isinstance(record, TextGenerationModelRecord)
    return record


def _keep_first_position(records: Iterable[tuple[str, TextGenerationModelRecord]]) -> list[TextGenerationModelRecord]:
    by_name: dict[str, TextGenerationModelRecord] = {}
    for name, record in records:
        by_name[name] = record  # a later row wins; dict keeps the first position
    return list(by_name.values())


def csv_to_v2(text: str, file_name: str = "models.csv") -> tuple[list[TextGenerationModelRecord], list[str]]:
    """Read models.csv into v2 records (base models only); return them with the warnings."""
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    if header != CSV_HEADER:
        raise InvalidRecord(f"{file_name}: header must be {','.join(CSV_HEADER)!r}, got {','.join(header)!r}")
    warnings: list[str] = []
    rows: list[tuple[str, TextGenerationModelRecord]] = []
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        if None in row or any(v is None for v in row.values()):
            raise InvalidRecord(f"{file_name}: line {line}: expected {len(CSV_HEADER)} columns")
        name = row["name"].strip()
        where = f"{file_name}: line {line}: record {name!r}"
        if not name:
            continue
        if backend_of(name):
            warnings.append(f"{where}: backend-prefixed name skipped (variants are generated)")
            continue
        billions_text = row["parameters_bn"].strip()
        if not billions_text:
            warnings.append(f"{where}: field 'parameters_bn' is empty, using 0")
            billions = 0.0
        else:
            try:
                billions = float(billions_text)
            except ValueError:
                warnings.append(f"{where}: field 'parameters_bn' {billions_text!r} is not a number, row skipped")
                continue
        settings: Any = None
        if row["settings"].strip():
            try:
                settings = json.loads(row["settings"])
            except json.JSONDecodeError as error:
                warnings.append(f"{where}: field 'settings' is not JSON ({error.msg}), row skipped")
                continue
        if name in seen:
            warnings.append(f"{where}: duplicate name, the later row wins")
        seen.add(name)
        doc = {
            "name": name,
            "parameters": int(billions * 1_000_000_000),
            "display_name": row["display_name"],
            "url": row["url"],
            "baseline": row["baseline"],
            "description": row["description"],
            "style": row["style"],
            "tags": _split_tags(row["tags"]),
            "instruct_format": row["instruct_format"],
            "settings": settings,
        }
        try:
            rows.append((name, _make_record(doc, where)))
        except InvalidRecord as error:
            warnings.append(f"{error.detail}, row skipped")
    return _keep_first_position(rows), warnings


def db_json_to_v2(db: Any, file_name: str = "db.json") -> tuple[list[TextGenerationModelRecord], list[str]]:
    """Recover v2 base records from a db.json (the backend variants are dropped)."""
    if not isinstance(db, dict):
        raise InvalidRecord(f"{file_name}: must be a JSON object of records")
    rows: list[tuple[str, TextGenerationModelRecord]] = []
    for key, entry in db.items():
        if backend_of(key):
            continue
        where = f"{file_name}: record {key!r}"
        if not isinstance(entry, dict):
            raise InvalidRecord(f"{where}: must be a JSON object")
        parameters = entry.get("parameters") or 0
        if not isinstance(parameters, int):
            raise InvalidRecord(f"{where}: field 'parameters' must be an integer")
        tags = entry.get("tags") or []
        if not isinstance(tags, list):
            raise InvalidRecord(f"{where}: field 'tags' must be a list")
        style = entry.get("style") if entry.get("style") in tags else None
        dropped = {style, size_tag(parameters / 1e9)}
        display_name = entry.get("display_name")
        if display_name == auto_display_name(model_name_of(key)):
            display_name = None
        doc = {
            "name": key,
            "parameters": parameters,
            "description": entry.get("description"),
            "baseline": entry.get("baseline"),
            "url": entry.get("url"),
            "instruct_format": entry.get("instruct_format"),
            "settings": entry.get("settings") or None,
            "nsfw": entry.get("nsfw", False),
            "style": style,
            "display_name": display_name,
            "tags": [t for t in tags if t not in dropped],
        }
        rows.append((key, _make_record(doc, where)))
    return _keep_first_position(rows), []


def _csv_row(record: TextGenerationModelRecord) -> dict[str, str]:
    return {
        "name": record.name,
        "parameters_bn": format_billions(record.parameters_count),
        "display_name": record.display_name or "",
        "url": record.url or "",
        "baseline": record.baseline or "",
        "description": record.description or "",
        "style": record.style or "",
        "tags": ",".join(record.tags or ()),
        "instruct_format": record.instruct_format or "",
        "settings": json.dumps(record.settings) if record.settings else "",
    }


def v2_to_csv(records: Iterable[TextGenerationModelRecord]) -> str:
    """Render models.csv from v2 records, in stored order."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_HEADER, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow(_csv_row(record))
    return out.getvalue()


def db_entries(record: TextGenerationModelRecord) -> dict[str, dict[str, Any]]:
    """The three db.json entries of one base record: itself and its two backend variants."""
    row = _csv_row(record)
    model_name = model_name_of(record.name)
    billions = float(row["parameters_bn"])
    tags = set(_split_tags(row["tags"])) | {size_tag(billions)}
    if row["style"]:
        tags.add(row["style"])
    values: dict[str, Any] = {
        "display_name": row["display_name"] or auto_display_name(model_name),
        "url": row["url"],
        "baseline": row["baseline"],
        "description": row["description"],
        "style": row["style"],
        "tags": sorted(tags),
        "instruct_format": row["instruct_format"],
        "settings": record.settings or {},
        "parameters": int(billions * 1_000_000_000),
    }
    kept = {k: v for k, v in values.items() if v}
    entry: dict[str, Any] = {"name": record.name, "model_name": model_name}
    for key, default in TEXT_DEFAULTS.items():
        entry[key] = kept.get(key, default)
    for key in _OPTIONAL_TAIL:
        if key in kept:
            entry[key] = kept[key]
    names = (record.name, *backend_variants(record.name))
    return {name: {**entry, "name": name} for name in names}


def v2_to_db(records: Iterable[TextGenerationModelRecord]) -> dict[str, dict[str, Any]]:
    """Build the legacy text document (db.json) from base records, in stored order."""
    db: dict[str, dict[str, Any]] = {}
    for record in records:
        db.update(db_entries(record))
    return db


def dump_db_json(db: dict[str, Any]) -> str:
    """Serialize db.json exactly as the text repository does."""
    return json.dumps(db, indent=4) + "\n"
