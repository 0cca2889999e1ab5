"""Export the store as reference files, each written atomically (temp file, fsync, rename)."""

from __future__ import annotations

import os
import tempfile
from enum import StrEnum
from pathlib import Path

from modelref.domain.render import legacy_files, v2_files
from modelref.errors import ExportFailed
from modelref.services.records import load_all
from modelref.storage.store import Store


class ExportFormat(StrEnum):
    V2 = "v2"
    LEGACY = "legacy"
    BOTH = "both"


def write_atomically(path: Path, data: bytes) -> None:
    """Write *data* to *path* so that readers see the old file or the new one, never a half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def plan_export(store: Store, fmt: ExportFormat, directory: Path) -> dict[Path, bytes]:
    """Every file an export writes, rendered in memory before anything touches the disk."""
    records = load_all(store)
    plan: dict[Path, bytes] = {}
    if fmt is ExportFormat.BOTH:
        plan.update({directory / "v2" / name: data for name, data in v2_files(records).items()})
        plan.update({directory / "legacy" / name: data for name, data in legacy_files(records).items()})
    else:
        render = v2_files if fmt is ExportFormat.V2 else legacy_files
        plan.update({directory / name: data for name, data in render(records).items()})
    return plan


def write_export(plan: dict[Path, bytes]) -> None:
    """Write a planned export. Raises ExportFailed with the path and reason if a file cannot be written."""
    for path, data in plan.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, data)
        except OSError as error:
            raise ExportFailed(f"cannot write {path}: {error.strerror or error}") from None
