"""The disk copy of a PRIMARY's text-group structure: read back as written, and never taken when it is
another origin's, broken, or not the documented document."""

from __future__ import annotations

from pathlib import Path

import orjson

from modelref.client.cache import DiskCache
from modelref.domain.textgroups import TextModelGroupNameSchema, TextStructure

STRUCTURE = TextStructure(
    aliases={"Llama-3": ["L3"]}, families={"Llama": ["Llama-3"]}, schemas={"Llama-3": TextModelGroupNameSchema()}
)


def test_the_structure_is_read_back_as_written(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, "http://primary/api")
    assert cache.read_structure() is None
    cache.write_structure(STRUCTURE, "tag-1")
    assert cache.read_structure() == (STRUCTURE, "tag-1")
    assert cache.structure_path.stat().st_mode & 0o777 == 0o644
    assert DiskCache(tmp_path, "http://another/api").read_structure() is None  # another PRIMARY's copy


def test_a_broken_or_undocumented_copy_is_not_taken(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, "http://primary/api")
    cache.write_structure(STRUCTURE, "tag-1")
    document = orjson.loads(cache.structure_path.read_bytes())
    for structure in ({}, {"detail": "x"}, {**STRUCTURE.model_dump(), "aliases": {"Llama-3": []}}):
        cache.structure_path.write_bytes(orjson.dumps({**document, "structure": structure}))
        assert cache.read_structure() is None, structure
    cache.structure_path.write_bytes(b"{not json")
    assert cache.read_structure() is None
