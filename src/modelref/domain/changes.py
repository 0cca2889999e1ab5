"""Pending changes: the record, who asks, which changes a filter selects, and diffs (DATA.md §10,
API.md §16.2, §16.5)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from modelref.domain.audit import ChangeStatus, Operation
from modelref.domain.categories import Category
from modelref.domain.convert import from_legacy
from modelref.domain.formats import Format
from modelref.domain.records import RecordBase, parse_record

CRITICAL_FIELDS: dict[Category, tuple[str, ...]] = {
    Category.IMAGE_GENERATION: ("baseline", "nsfw", "inpainting", "trigger", "homepage"),
    Category.TEXT_GENERATION: ("baseline", "nsfw", "url", "parameters"),
}
_STYLED = (
    Category.CONTROLNET,
    Category.BLIP,
    Category.CLIP,
    Category.CODEFORMER,
    Category.ESRGAN,
    Category.GFPGAN,
    Category.SAFETY_CHECKER,
)
CRITICAL_FIELDS.update(dict.fromkeys(_STYLED, ("style", "nsfw")))


class PendingChangeRecord(BaseModel):
    """One proposed change and where it is in review (fields in the contract's order)."""

    change_id: int
    category: Category
    model_name: str
    operation: Operation
    payload: dict[str, Any] | None = None
    requested_by: str
    requested_username: str
    requested_at: int
    status: ChangeStatus = ChangeStatus.PENDING
    notes: str | None = None
    batch_id: int | None = None
    batch_title: str | None = None
    approved_by: str | None = None
    approved_username: str | None = None
    approved_at: int | None = None
    rejected_by: str | None = None
    rejected_username: str | None = None
    rejected_at: int | None = None
    reject_reason: str | None = None
    applied_at: int | None = None
    applied_by: str | None = None
    applied_username: str | None = None
    applied_job_id: str | None = None
    updated_at: int
    request_metadata: dict[str, Any] | None = None
    related_models: list[str] | None = None

    @property
    def origin(self) -> Format:
        """The shape the payload is in: legacy for changes proposed through the v1 API."""
        recorded = (self.request_metadata or {}).get("format")
        return Format.LEGACY if recorded == Format.LEGACY.value else Format.V2

    def proposed_record(self) -> RecordBase:
        """The v2 record a create or update writes (a legacy payload converted by the one converter).

        Raises InvalidRecord or pydantic's ValidationError when the payload no longer fits.
        """
        assert self.payload is not None
        if self.origin is Format.LEGACY:
            return from_legacy(self.category, self.model_name, dict(self.payload))[0]
        return parse_record(self.category, self.payload)


@dataclass(frozen=True, slots=True)
class User:
    """An AI-Horde user as resolved from an API key, with the roles this deployment gives them."""

    user_id: str
    username: str
    is_requestor: bool = False
    is_approver: bool = False

    @property
    def roles(self) -> list[str]:
        return sorted(r for r, has in (("approver", self.is_approver), ("requestor", self.is_requestor)) if has)


@dataclass(frozen=True, slots=True)
class ChangeFilter:
    """Which changes a queue read or a purge selects; every condition given must hold."""

    statuses: Sequence[ChangeStatus] = ()
    categories: Sequence[Category] = ()
    batch_id: int | None = None
    model_name: str | None = None
    """A case-insensitive substring of the model name (surrounding whitespace ignored)."""
    requested_by: Sequence[str] = ()

    @property
    def name_needle(self) -> str | None:
        """The model-name condition as compared: stripped and case-folded (None: no condition)."""
        needle = (self.model_name or "").strip()
        return needle.casefold() if needle else None

    @property
    def requesters(self) -> list[str]:
        return [r.strip() for r in self.requested_by if r.strip()]


class FieldChangeType(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    MODIFIED = "modified"


class NetChangeType(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    UNCHANGED = "unchanged"


class FieldDiff(BaseModel):
    field_path: str
    old_value: Any = None
    new_value: Any = None
    change_type: FieldChangeType


class PendingChangeDiff(BaseModel):
    """What applying a change would do to the current record (API.md §16.5)."""

    change_id: int
    category: Category
    model_name: str
    operation: Operation
    current_state: dict[str, Any] | None
    proposed_state: dict[str, Any] | None
    net_operation: NetChangeType
    field_diffs: list[FieldDiff]
    is_critical: bool
    fields_added: list[str]
    fields_removed: list[str]
    fields_modified: list[str]


def field_diffs(current: Any, proposed: Any, prefix: str = "") -> list[FieldDiff]:
    """Leaf differences between two records, paths joined with '.', keys in sorted order (§10.8)."""
    if current is None or proposed is None:
        if current is None:
            return _leaves(proposed, prefix, FieldChangeType.ADDED)
        return _leaves(current, prefix, FieldChangeType.REMOVED)
    diffs: list[FieldDiff] = []
    for key in sorted(set(current) | set(proposed)):
        path = f"{prefix}.{key}" if prefix else key
        if key not in current:
            diffs.append(FieldDiff(field_path=path, new_value=proposed[key], change_type=FieldChangeType.ADDED))
        elif key not in proposed:
            diffs.append(FieldDiff(field_path=path, old_value=current[key], change_type=FieldChangeType.REMOVED))
        elif current[key] == proposed[key]:
            continue
        elif isinstance(current[key], dict) and isinstance(proposed[key], dict):
            diffs.extend(field_diffs(current[key], proposed[key], path))
        else:
            diffs.append(
                FieldDiff(
                    field_path=path,
                    old_value=current[key],
                    new_value=proposed[key],
                    change_type=FieldChangeType.MODIFIED,
                )
            )
    return diffs


def _leaves(value: Any, prefix: str, kind: FieldChangeType) -> list[FieldDiff]:
    if isinstance(value, dict) and value:
        return [d for key in sorted(value) for d in _leaves(value[key], f"{prefix}.{key}" if prefix else key, kind)]
    if kind is FieldChangeType.ADDED:
        return [FieldDiff(field_path=prefix, new_value=value, change_type=kind)]
    return [FieldDiff(field_path=prefix, old_value=value, change_type=kind)]


def is_critical(category: Category, diffs: Sequence[FieldDiff]) -> bool:
    fields = CRITICAL_FIELDS.get(category, ())
    for diff in diffs:
        path = diff.field_path
        if path.startswith("config.download") or any(path == f or path.startswith(f + ".") for f in fields):
            return True
    return False


def net_operation(operation: Operation, current: Any, proposed: Any) -> NetChangeType:
    if operation is Operation.CREATE:
        return NetChangeType.MODIFIED if current is not None else NetChangeType.ADDED
    if operation is Operation.DELETE:
        return NetChangeType.UNCHANGED if current is None else NetChangeType.DELETED
    if current is None:
        return NetChangeType.ADDED
    return NetChangeType.UNCHANGED if current == proposed else NetChangeType.MODIFIED


def diff_change(change: PendingChangeRecord, current: dict[str, Any] | None) -> PendingChangeDiff:
    """The diff of a change against the current stored record (in the change's own shape)."""
    proposed = change.payload
    diffs = [] if current is None and proposed is None else field_diffs(current, proposed)
    return PendingChangeDiff(
        change_id=change.change_id,
        category=change.category,
        model_name=change.model_name,
        operation=change.operation,
        current_state=current,
        proposed_state=proposed,
        net_operation=net_operation(change.operation, current, proposed),
        field_diffs=diffs,
        is_critical=is_critical(change.category, diffs),
        fields_added=[d.field_path for d in diffs if d.change_type is FieldChangeType.ADDED],
        fields_removed=[d.field_path for d in diffs if d.change_type is FieldChangeType.REMOVED],
        fields_modified=[d.field_path for d in diffs if d.change_type is FieldChangeType.MODIFIED],
    )
