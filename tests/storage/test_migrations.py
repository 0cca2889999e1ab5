"""Data migrations: a database written by an earlier version reads exactly as a fresh import."""

from __future__ import annotations

import orjson
import sqlalchemy as sa

from modelref.domain.bundle import read_bundle
from modelref.domain.categories import Category
from modelref.services.importer import import_bundle
from modelref.storage.store import Store
from tests.support import reference_files

SHAPED = (Category.IMAGE_GENERATION, Category.TEXT_GENERATION)


def _as_before_0005(store: Store) -> None:
    """Rewrite the stored documents in the shape revision 0004 stored them in, and mark the schema 0004."""
    with store.database.engine.begin() as conn:
        rows = conn.execute(sa.text("SELECT id, category, document FROM records")).all()
        for row_id, category, text in rows:
            document = orjson.loads(text)
            extras = document.get("legacy_extras") or {}
            lists = ("tags", "showcases", "trigger") if category == "image_generation" else ("tags",)
            for field in lists:
                if document.get(field) == [] and field not in extras:
                    del document[field]
            if category == "image_generation":
                metadata = document.pop("metadata")
                items = list(document.items())
                items.insert(items.index(("version", document["version"])) + 1, ("metadata", metadata))
                document = dict(items)
            conn.execute(
                sa.text("UPDATE records SET document = :d WHERE id = :i"),
                {"d": orjson.dumps(document).decode(), "i": row_id},
            )
        conn.execute(sa.text("DROP INDEX ix_pending_changes_name_folded"))  # added by 0006
        conn.execute(sa.text("DROP TABLE text_group_aliases"))  # added by 0007
        conn.execute(sa.text("DROP TABLE text_group_families"))  # added by 0008
        conn.execute(sa.text("DROP TABLE text_group_schemas"))  # added by 0009
        conn.execute(sa.text("DROP TABLE web_sessions"))  # added by 0010
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0004'"))


def test_0005_gives_stored_records_the_shape_a_fresh_import_gives(store: Store) -> None:
    import_bundle(store, read_bundle(reference_files()), now=1)
    fresh = {c: store.load(c) for c in SHAPED}
    _as_before_0005(store)
    old = {c: store.load(c).records for c in SHAPED}
    assert any(
        list(a.document) != list(b.document)
        for a, b in zip(old[Category.IMAGE_GENERATION], fresh[Category.IMAGE_GENERATION].records, strict=True)
    )
    store.migrate()
    for category in SHAPED:
        migrated = store.load(category)
        assert [list(r.document.items()) for r in migrated.records] == [
            list(r.document.items()) for r in fresh[category].records
        ]
        before, after = fresh[category].state, migrated.state
        assert before is not None
        assert after is not None
        assert after.version == before.version + 1  # every ETag changes once
    image = store.load(Category.IMAGE_GENERATION).records[0].document
    assert (image["tags"], list(image)[-2:]) == ([], ["metadata", "legacy_extras"])
