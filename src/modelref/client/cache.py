"""The last good copy of each category on disk: written atomically, shared safely by several processes.

One file per category, ``{category}.json``: the source's facts and the v2 documents (and one for the text
groups' structure, ``text_generation.structure.json``), replaced whole by a rename (a reader sees the old
file or the new one, never a part). The file's modification time is when a source last confirmed the copy,
so a process can tell whether a copy another process fetched is still fresh.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from modelref.client.remote import Copy, Source
from modelref.domain.categories import Category
from modelref.domain.textstructure import TextStructure, TextStructureDocument
from modelref.errors import InvalidRecord

log = logging.getLogger(__name__)

FORMAT = 1
"""The layout of a cache file; a file of another layout is ignored (and replaced on the next fetch)."""


class DiskCache:
    """The copies of one origin (a PRIMARY's URL, or the GitHub files) in *directory*: a file another origin
    wrote there is not used (and is replaced on the next fetch)."""

    def __init__(self, directory: Path, origin: str) -> None:
        self.directory = directory
        self.origin = origin

    def path(self, category: Category) -> Path:
        return self.directory / f"{category.value}.json"

    def age(self, category: Category) -> float | None:
        """Seconds since a source last confirmed the copy on disk (None: there is none)."""
        try:
            return max(0.0, time.time() - self.path(category).stat().st_mtime)
        except OSError:
            return None

    def read(self, category: Category) -> Copy | None:
        """The copy on disk, or None when there is none or it cannot be read (said in the log)."""
        path = self.path(category)
        try:
            data = orjson.loads(path.read_bytes())
            if data.get("format") != FORMAT or data.get("category") != category.value:
                return None
            if data.get("origin") != self.origin:
                log.info("%s: the copy on disk is of %s, not %s; not used", path, data.get("origin"), self.origin)
                return None
            return Copy.of(
                category,
                data["documents"],
                Source(data["source"]),
                source_tag=data.get("source_tag"),
                last_updated=data.get("last_updated"),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, InvalidRecord) as error:
            log.warning("%s: the copy on disk cannot be used (%s); it will be replaced", path, error)
            return None

    def write(self, copy: Copy) -> None:
        """Replace the category's file with *copy* (temporary file, fsync, rename). Never raises: a cache
        that cannot be written is said in the log, and the copy in memory is still served."""
        document: dict[str, Any] = {
            "format": FORMAT,
            "category": copy.category.value,
            "origin": self.origin,
            "source": copy.source.value,
            "source_tag": copy.source_tag,
            "last_updated": copy.last_updated,
            "documents": copy.documents,
        }
        self._replace(self.path(copy.category), document)

    @property
    def structure_path(self) -> Path:
        return self.directory / "text_generation.structure.json"

    def read_structure(self) -> tuple[TextStructure, str | None] | None:
        """The PRIMARY's text-group structure held on disk and its tag, or None (none, another origin's, or
        unreadable: said in the log)."""
        path = self.structure_path
        try:
            data = orjson.loads(path.read_bytes())
            if data.get("format") != FORMAT or data.get("origin") != self.origin:
                return None
            return TextStructureDocument.model_validate(data["structure"]).structure(), data.get("source_tag")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning("%s: the copy on disk cannot be used (%s); it will be replaced", path, error)
            return None

    def write_structure(self, structure: TextStructure, tag: str | None) -> None:
        document = {"format": FORMAT, "origin": self.origin, "source_tag": tag, "structure": structure.model_dump()}
        self._replace(self.structure_path, document)

    def _replace(self, path: Path, document: dict[str, Any]) -> None:
        """Replace *path* with *document* atomically; never raises (a failure is said in the log)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{path.stem}.", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(orjson.dumps(document))
                    file.flush()
                    os.fsync(file.fileno())
                os.chmod(temporary, 0o644)  # other processes (of other users too) share the copy
                os.replace(temporary, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as error:
            log.warning("%s: cannot write the copy on disk (%s)", path, error.strerror)

    def confirm(self, category: Category, when: float) -> None:
        """Mark the copy on disk as confirmed by its source at *when*."""
        self._touch(self.path(category), when)

    def confirm_structure(self, when: float) -> None:
        """Mark the structure on disk as confirmed by the PRIMARY at *when* (a 304: the file is not rewritten)."""
        self._touch(self.structure_path, when)

    @staticmethod
    def _touch(path: Path, when: float) -> None:
        with contextlib.suppress(OSError):  # none on disk, or not ours to touch: the copy in memory still serves
            os.utime(path, (when, when))
