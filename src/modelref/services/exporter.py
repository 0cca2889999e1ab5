"""Export the store as reference files, each written atomically (temp file, fsync, rename)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Set
from pathlib import Path

from modelref.domain.bundle import TEXT_REPO_FILES, read_bundle
from modelref.domain.categories import CATEGORY_INFO
from modelref.domain.formats import Format
from modelref.domain.render import Records, legacy_files, v2_files
from modelref.errors import ExportFailed, ModelRefError
from modelref.services.records import load_all
from modelref.storage.store import Store


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomically(path: Path, data: bytes) -> None:
    """Write *data* to *path* so that readers see the old file or the new one, never a half.

    The file gets the permissions a plainly created file would (0644 under the usual umask): reference
    files are meant to be published, not kept private like the temporary file they start as.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), 0o666 & ~_umask())
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


RENDERERS = {Format.V2: v2_files, Format.LEGACY: legacy_files}


def plan_export(store: Store, formats: Set[Format], directory: Path) -> dict[Path, bytes]:
    """Every file an export writes, rendered in memory before anything touches the disk.

    One format writes into *directory*; several write one subfolder each (``v2/``, ``legacy/``).
    """
    records = load_all(store)
    plan: dict[Path, bytes] = {}
    for fmt in Format:
        if fmt in formats:
            folder = directory / fmt.value if len(formats) > 1 else directory
            plan.update({folder / name: data for name, data in RENDERERS[fmt](records).items()})
    return plan


def write_export(plan: dict[Path, bytes]) -> None:
    """Write a planned export. Raises ExportFailed with the path and reason if a file cannot be written."""
    for path, data in plan.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, data)
        except OSError as error:
            raise ExportFailed(f"cannot write {path}: {error.strerror or error}") from None


def plan_sync(records: Records, image_dir: Path, text_dir: Path) -> dict[Path, bytes]:
    """The legacy repositories' files as they should be: the image repository's into *image_dir*, the text
    repository's (``db.json``, ``models.csv``, …) into *text_dir*."""
    return {
        (text_dir if name in TEXT_REPO_FILES else image_dir) / name: data
        for name, data in legacy_files(records).items()
    }


RECORD_FILES = frozenset(
    {info.legacy_file for info in CATEGORY_INFO.values() if info.legacy_file} | {"models.csv", "lora.json"}
)


def _same_records(name: str, old: bytes, new: bytes) -> bool:
    """Whether two versions of a reference file hold the same records (the repositories' files are partly
    hand-formatted: tabs, CRLF, spaces after commas — reading both is the fair comparison). Files that
    hold no records (``defaults.json``, …) are the same only byte for byte."""
    if name not in RECORD_FILES:
        return False
    try:
        before, after = read_bundle({name: old}), read_bundle({name: new})
    except ModelRefError:
        return False
    return {c: [(k, r.to_document()) for k, r in pairs] for c, pairs in before.categories.items()} == {
        c: [(k, r.to_document()) for k, r in pairs] for c, pairs in after.categories.items()
    }


def differing(plan: dict[Path, bytes]) -> list[Path]:
    """The planned files whose content on disk differs: a missing file, other bytes in a file that holds no
    records, or other records (the same records formatted differently are left alone)."""
    changed = []
    for path, data in plan.items():
        try:
            old = path.read_bytes()
        except OSError:
            changed.append(path)
            continue
        if old != data and not _same_records(path.name, old, data):
            changed.append(path)
    return changed
