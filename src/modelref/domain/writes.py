"""Write-time rules for proposed records (DATA.md §4.6, §3.1; API.md §9, §11): stricter than import."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from modelref.domain.categories import Category
from modelref.domain.convert import from_legacy
from modelref.domain.inputs import shown
from modelref.domain.records import (
    MAX_NAME_LENGTH,
    ImageGenerationModelRecord,
    RecordBase,
    TextGenerationModelRecord,
    parse_record,
    storable,
)
from modelref.domain.textnames import base_name
from modelref.domain.vocab import BASELINE_ALIASES, backend_of, known_value_problems, strip_backend
from modelref.errors import InvalidBody, InvalidName, InvalidRecord


def validate_write(category: Category, body: Any) -> RecordBase:
    """Validate a proposed v2 record as *category*'s type and normalize it for storage.

    Raises InvalidBody (→ 422 with field locations) for shape and known-value errors. The name rules that
    come after the key check in the contract's order (``check_name``, ``check_text_name``) are the
    caller's to apply.
    """
    try:
        return _validated(category, body)
    except ValidationError as error:
        raise InvalidBody(
            [
                {"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"], "input": e.get("input")}
                for e in error.errors(include_url=False)
            ]
        ) from None


def _validated(category: Category, body: Any) -> RecordBase:
    if not isinstance(body, dict):
        raise _error("model_type", "Input should be a valid dictionary or object", (), body)
    if "record_type" in body and body["record_type"] != category.value:
        raise _error(
            "record_type",
            f"record_type must be '{category.value}' for this path, got {shown(str(body['record_type']))!r}",
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
        if not backend_of(record.name) and ("://" in record.name or record.name.count("/") > 1):
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


def validate_legacy_write(category: Category, body: Any) -> tuple[str, dict[str, Any]]:
    """Check a v1 (legacy-shape) body by converting it with the one converter pair; return (name, payload).

    The payload is the body less its null fields; it is queued as sent and converted again when applied.
    """
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise InvalidRecord("Field 'name' is required and must be a string")
    payload = {k: v for k, v in body.items() if v is not None}
    name = payload["name"]
    try:
        # A backend-prefixed text name is refused by the name rules that come later (400): convert the base.
        record, _ = from_legacy(category, strip_backend(name), payload)
    except ValidationError as error:
        raise InvalidRecord(f"record {shown(name)!r}: {error.errors()[0]['msg']}") from None
    errors = [p for p in known_value_problems(record) if p.severity == "error"]
    if errors:
        raise InvalidRecord(f"Field '{errors[0].field}': {errors[0].message}")
    try:
        storable(record)
    except ValueError as error:
        raise InvalidRecord(str(error)) from None
    return name, payload


def check_name(name: str) -> None:
    """The name rules every write applies to a name from the path (InvalidRecord → 422)."""
    if not name.strip():
        raise InvalidRecord("Model name must not be empty or whitespace-only.")
    if "\\" in name or "\x00" in name:
        raise InvalidRecord(f"Model name must not contain invalid characters \\: '{shown(name)}'")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidRecord(f"Model name must be at most {MAX_NAME_LENGTH} characters")


def check_text_name(name: str, *, deleting: bool = False) -> None:
    """A text write names the base model only (its backend variants follow it)."""
    if backend_of(name):
        what = "deleted" if deleting else "generated"
        raise InvalidName(
            f"Model name '{shown(name)}' contains a backend prefix (aphrodite/, koboldcpp/). Submit only the base "
            f"model name — backend duplicates are {what} automatically."
        )


def _error(kind: str, message: str, loc: tuple[str | int, ...], value: Any) -> ValidationError:
    detail: InitErrorDetails = {
        "type": PydanticCustomError(kind, message),
        "loc": loc,
        "input": value,
    }
    return ValidationError.from_exception_data("RecordWrite", [detail])
