"""Stored records take the existing service's shape: image records always carry ``tags``, ``showcases`` and
``trigger`` (``[]`` when empty) with ``metadata`` after their own fields; text records always carry ``tags``.

A record that spelled an image list out empty keeps that in ``legacy_extras`` (the legacy file renders
the same). Each touched category's version moves on once, so every ETag changes once, not per read.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_records = sa.table("records", sa.column("id", sa.Integer), sa.column("category"), sa.column("document"))
_categories = sa.table(
    "categories", sa.column("category"), sa.column("version", sa.Integer), sa.column("last_updated", sa.Float)
)
_IMAGE_LISTS = ("tags", "showcases", "trigger")


_IMAGE_ORDER = (
    "record_type",
    "name",
    "description",
    "version",
    "finetune_series",
    "config",
    "model_classification",
    "size_on_disk_bytes",
    "inpainting",
    "baseline",
    "optimization",
    "tags",
    "showcases",
    "min_bridge_version",
    "trigger",
    "homepage",
    "nsfw",
    "style",
    "requirements",
    "features_not_supported",
    "metadata",
    "legacy_extras",
)
"""The image record's keys in the order it is stored from now on."""


def _image(document: dict[str, Any]) -> dict[str, Any]:
    extras = dict(document.get("legacy_extras") or {})
    for field in _IMAGE_LISTS:
        if document.get(field) == [] and field not in extras:
            extras[field] = []  # spelled out empty before this migration: keep the legacy rendering
        document.setdefault(field, [])
    if extras:
        document["legacy_extras"] = extras
    rank = {key: i for i, key in enumerate(_IMAGE_ORDER)}
    return {key: document[key] for key in sorted(document, key=lambda k: rank.get(k, rank["metadata"]))}


_AFTER_TEXT_TAGS = ("instruct_format", "settings", "text_model_group", "name_schema_exception", "legacy_extras")
"""The text record's fields that follow ``tags`` (the record's field order)."""


def _text(document: dict[str, Any]) -> dict[str, Any]:
    if "tags" in document:
        return document
    items = list(document.items())
    at = next((i for i, (key, _) in enumerate(items) if key in _AFTER_TEXT_TAGS), len(items))
    items.insert(at, ("tags", []))
    return dict(items)


_SHAPES = {"image_generation": _image, "text_generation": _text}


def upgrade() -> None:
    conn = op.get_bind()
    touched: set[str] = set()
    rows = conn.execute(
        sa.select(_records.c.id, _records.c.category, _records.c.document).where(_records.c.category.in_(_SHAPES))
    ).all()
    for row_id, category, text in rows:
        document = orjson.loads(text)
        shaped = _SHAPES[category](dict(document))
        if list(shaped.items()) != list(document.items()):
            conn.execute(
                _records.update().where(_records.c.id == row_id).values(document=orjson.dumps(shaped).decode())
            )
            touched.add(category)
    for category in touched:
        conn.execute(
            _categories.update()
            .where(_categories.c.category == category)
            .values(version=_categories.c.version + 1, last_updated=time.time())
        )


def downgrade() -> None:
    """Nothing to undo: the added empty lists read the same as absent ones."""
