"""Write-time rules for proposed records (DATA.md §4.6, §3.1; API.md §9): stricter than import."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from modelref.domain.categories import Category
from modelref.domain.records import (
    MAX_NAME_LENGTH,
    ImageGenerationModelRecord,
    RecordBase,
    TextGenerationModelRecord,
    parse_record,
    storable,
)
from modelref.domain.textnames import base_name
from modelref.domain.vocab import BASELINE_ALIASES, backend_of, known_value_problems
from modelref.errors import InvalidName, InvalidRecord


def validate_write(category: Category, body: Any) -> RecordBase:
    """Validate a proposed record as *category*'s type and normalize it for storage.

    Raises pydantic's ValidationError (→ 422 with field locations) for shape and known-value errors,
    and InvalidName (→ 400) for a backend-prefixed text name.
    """
    if not isinstance(body, dict):
        raise _error("model_type", "Input should be a valid dictionary or object", (), body)
    if "record_type" in body and body["record_type"] != category.value:
        raise _error(
            "record_type",
            f"record_type must be '{category.value}' for this path, got {body['record_type']!r}",
            ("record_type",),
            body["record_type"],
        )
    record = parse_record(category, body)
    if isinstance(record, ImageGenerationModelRecord):
        record.baseline = BASELINE_ALIASES.get(record.baseline, record.baseline)
        record.tags = record.tags or []
        record.showcases = record.showcases or []
        record.trigger = record.trigger or []
    problems = [p for p in known_value_problems(record) if p.severity == "error"]
    if isinstance(record, TextGenerationModelRecord):
        check_text_name(record.name)
        if "://" in record.name or record.name.count("/") > 1:
            raise _error(
                "value_error", "Value error, a text model name is 'Org/Model' or 'Model'", ("name",), record.name
            )
        if record.text_model_group is None:
            record.text_model_group = base_name(record.name)
    if problems:
        first = problems[0]
        raise _error("value_error", f"Value error, {first.message}", (first.field,), getattr(record, first.field, None))
    try:
        storable(record)
    except ValueError as error:
        raise _error("value_error", f"Value error, {error}", (), None) from None
    return record


def check_name(name: str) -> None:
    """The name rules every write applies to a name from the path (InvalidRecord → 422)."""
    if not name.strip():
        raise InvalidRecord("Model name must not be empty or whitespace-only.")
    if "\\" in name or "\x00" in name:
        raise InvalidRecord(f"Model name must not contain invalid characters \\: '{name[:80]}'")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidRecord(f"Model name must be at most {MAX_NAME_LENGTH} characters")


def check_text_name(name: str) -> None:
    if backend_of(name):
        raise InvalidName(
            f"Model name '{name[:80]}' contains a backend prefix (aphrodite/, koboldcpp/). Submit only the base "
            "model name — backend duplicates are generated automatically."
        )


def _error(kind: str, message: str, loc: tuple[str | int, ...], value: Any) -> ValidationError:
    detail: InitErrorDetails = {
        "type": PydanticCustomError(kind, message),
        "loc": loc,
        "input": value,
    }
    return ValidationError.from_exception_data("RecordWrite", [detail])
