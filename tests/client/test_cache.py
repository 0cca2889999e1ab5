"""The disk copy of a PRIMARY's text-group structure: read back as written, never taken when it is another
origin's, broken, or not the documented document, and touched when the PRIMARY confirms it unchanged."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson

from modelref.client.cache import DiskCache
from modelref.client.mirror import Mirror, Origins
from modelref.client.replica import Replica
from modelref.domain.textstructure import TextModelGroupNameSchema, TextStructure
from tests.support import FakePrimary

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


def test_confirming_the_structure_moves_its_files_mtime(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, "http://primary/api")
    cache.confirm_structure(time.time())  # no file yet: nothing to confirm, and no error
    cache.write_structure(STRUCTURE, "tag-1")
    written = cache.structure_path.read_bytes()
    cache.confirm_structure(1_000_000.0)
    assert cache.structure_path.stat().st_mtime == 1_000_000.0
    assert cache.structure_path.read_bytes() == written  # touched, not rewritten


def test_a_replica_restarted_on_an_unchanged_structure_confirms_its_file(tmp_path: Path) -> None:
    """A 304 touches the structure's file, so a REPLICA started later takes the last confirmation as its age,
    not the last change."""
    with FakePrimary() as primary:
        primary.structure = STRUCTURE.model_dump()
        origins = Origins(primary.url, None, timeout=2)
        first = Replica(Mirror(origins, DiskCache(tmp_path, origins.name)), interval=600)
        first.start(wait=5)
        first.close()
        hour_ago = time.time() - 3600
        on_disk = tmp_path / "text_generation.structure.json"
        os.utime(on_disk, (hour_ago, hour_ago))
        seen = len(primary.seen)
        again = Replica(Mirror(origins, DiskCache(tmp_path, origins.name)), interval=600)
        again.start(wait=5)
        again.close()
        assert ("/api/model_references/v2/text_generation/structure", 304) in primary.seen[seen:]
    assert on_disk.stat().st_mtime > hour_ago + 3000
    after_restart = Replica(Mirror(Origins(primary.url, None, offline=True), DiskCache(tmp_path, origins.name)), 600)
    after_restart.start(wait=0)
    age = after_restart.status().structure_age_seconds
    after_restart.close()
    assert age is not None
    assert age < 600
