"""Pending changes: the record, its lifecycle, diffs (DATA.md §10, API.md §16.2, §16.5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from modelref.domain.audit import ChangeStatus, Operation
from modelref.domain.categories import Category

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


class PendingChange(BaseModel):
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


def field_diffs(current: Any, proposed: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Leaf differences between two records, paths joined with '.', keys in sorted order (§10.8)."""
    if current is None or proposed is None:
        side, kind = (proposed, "added") if current is None else (current, "removed")
        return _leaves(side, prefix, kind)
    diffs: list[dict[str, Any]] = []
    for key in sorted(set(current) | set(proposed)):
        path = f"{prefix}.{key}" if prefix else key
        if key not in current:
            diffs.append({"field_path": path, "old_value": None, "new_value": proposed[key], "change_type": "added"})
        elif key not in proposed:
            diffs.append({"field_path": path, "old_value": current[key], "new_value": None, "change_type": "removed"})
        elif current[key] == proposed[key]:
            continue
        elif isinstance(current[key], dict) and isinstance(proposed[key], dict):
            diffs.extend(field_diffs(current[key], proposed[key], path))
        else:
            diffs.append(
                {"field_path": path, "old_value": current[key], "new_value": proposed[key], "change_type": "modified"}
            )
    return diffs


def _leaves(value: Any, prefix: str, kind: str) -> list[dict[str, Any]]:
    if isinstance(value, dict) and value:
        return [d for key in sorted(value) for d in _leaves(value[key], f"{prefix}.{key}" if prefix else key, kind)]
    old, new = (None, value) if kind == "added" else (value, None)
    return [{"field_path": prefix, "old_value": old, "new_value": new, "change_type": kind}]


def is_critical(category: Category, diffs: list[dict[str, Any]]) -> bool:
    fields = CRITICAL_FIELDS.get(category, ())
    for diff in diffs:
        path = diff["field_path"]
        if path.startswith("config.download") or any(path == f or path.startswith(f + ".") for f in fields):
            return True
    return False


def net_operation(operation: Operation, current: Any, proposed: Any) -> str:
    if operation is Operation.CREATE:
        return "modified" if current is not None else "added"
    if operation is Operation.DELETE:
        return "unchanged" if current is None else "deleted"
    if current is None:
        return "added"
    return "unchanged" if current == proposed else "modified"


def diff_change(change: PendingChange, current: dict[str, Any] | None) -> dict[str, Any]:
    """The PendingChangeDiff of a change against the current stored record."""
    proposed = change.payload
    diffs = [] if current is None and proposed is None else field_diffs(current, proposed)
    return {
        "change_id": change.change_id,
        "category": change.category.value,
        "model_name": change.model_name,
        "operation": change.operation.value,
        "current_state": current,
        "proposed_state": proposed,
        "net_operation": net_operation(change.operation, current, proposed),
        "field_diffs": diffs,
        "is_critical": is_critical(change.category, diffs),
        "fields_added": [d["field_path"] for d in diffs if d["change_type"] == "added"],
        "fields_removed": [d["field_path"] for d in diffs if d["change_type"] == "removed"],
        "fields_modified": [d["field_path"] for d in diffs if d["change_type"] == "modified"],
    }
