"""The OpenAPI document as clients of the existing service know it.

SDKs generated from either service's schema must get the same class names. The record and
envelope classes carry the existing service's names; the enums keep Pythonic names (``Category``,
``Format``, …) and are renamed here, in one table.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

SCHEMA_NAMES = {
    "Category": "MODEL_REFERENCE_CATEGORY",
    "ModelDomain": "MODEL_DOMAIN",
    "ModelPurpose": "MODEL_PURPOSE",
    "Format": "CanonicalFormat",
    "ChangeStatus": "PendingChangeStatus",
    "Operation": "AuditOperation",
    "RecordMetadata": "GenericModelRecordMetadata",
    "RecordConfig": "GenericModelRecordConfig",
}
"""Our class name → the existing service's schema name."""

BODY_SCHEMA = "x-modelref-body"
"""An operation's ``openapi_extra`` key naming the record types its JSON body is documented as."""

TAGS = [
    {"name": "v2", "description": "The current format: typed records per category, search, writes."},
    {"name": "v1", "description": "The frozen legacy format of the GitHub reference repositories."},
    {"name": "search", "description": "Filter, sort and page records."},
    {"name": "statistics", "description": "Counts and distributions per category."},
    {"name": "pending_queue", "description": "Proposed changes and their review: approve, reject, apply."},
    {"name": "audit", "description": "The queue's history, replayed from the hash-chained audit trail."},
    {"name": "metadata", "description": "Per-category change tracking (REPLICAs poll it)."},
    {"name": "user", "description": "The caller's roles."},
    {"name": "default", "description": "Service health and capabilities."},
]


def _renamed(node: Any) -> Any:
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/schemas/"):
                name = value.rsplit("/", 1)[1]
                result[key] = f"#/components/schemas/{SCHEMA_NAMES.get(name, name)}"
            else:
                result[key] = _renamed(value)
        return result
    if isinstance(node, list):
        return [_renamed(item) for item in node]
    return node


def _documented_bodies(schema: dict[str, Any]) -> None:
    """Replace the body schema of the operations that name their record types (``BODY_SCHEMA``)."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            names = operation.pop(BODY_SCHEMA, None)
            if names:
                refs = [{"$ref": f"#/components/schemas/{name}"} for name in names]
                body = refs[0] if len(refs) == 1 else {"anyOf": refs}
                operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}


def install(app: FastAPI, servers: list[dict[str, str]]) -> None:
    """Serve the schema with the existing service's names (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary="Authoritative AI model metadata for the AI-Horde ecosystem.",
                description=app.description,
                routes=app.routes,
                tags=TAGS,
                servers=servers,
                separate_input_output_schemas=False,
            )
            _documented_bodies(schema)
            schemas = schema.get("components", {}).get("schemas", {})
            schema.setdefault("components", {})["schemas"] = {
                SCHEMA_NAMES.get(name, name): {**body, "title": SCHEMA_NAMES.get(name, body.get("title", name))}
                if name in SCHEMA_NAMES
                else body
                for name, body in schemas.items()
            }
            app.openapi_schema = _renamed(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
