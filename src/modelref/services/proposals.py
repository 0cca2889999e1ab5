"""Proposing a change: every write route's one call (API.md §9, §11; the order of checks, §1.6).

A proposal is validated, authorized and checked against the stored record in a fixed order, then queued
for review. Nothing here changes a record: applying is ``Applier``'s job.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modelref.domain.audit import Operation
from modelref.domain.categories import Category
from modelref.domain.changes import PendingChangeRecord, User
from modelref.domain.convert import has_legacy_format, legacy_view
from modelref.domain.deployment import Deployment
from modelref.domain.formats import Format
from modelref.domain.inputs import shown
from modelref.domain.legacy_text import backend_variants
from modelref.domain.textgroups import (
    BatchUpdateResponse,
    CommonFieldsUpdateRequest,
    NameExceptionRequest,
    NameExceptionResponse,
    canonical_members,
    no_group,
    with_name_exception,
)
from modelref.domain.writes import check_name, check_text_name, validate_legacy_write, validate_write
from modelref.errors import AlreadyExists, InvalidQuery, NameMismatch, NotFound, QuotaExceeded
from modelref.services.auth import Caller
from modelref.services.history import queue_event
from modelref.services.primary import OnPrimary
from modelref.storage.store import Store

DEFAULT_MAX_PENDING = 500


@dataclass(frozen=True, slots=True)
class Proposal:
    """A write request as a route received it."""

    api: Format
    category: Category
    operation: Operation
    route: str
    """The route's operation id, kept in the change's ``request_metadata``."""
    body: Any = None
    """The JSON body as sent (None for a delete)."""
    path_name: str | None = None


class Proposals(OnPrimary):
    def __init__(
        self,
        store: Store | None,
        deployment: Deployment,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(store)
        self.deployment = deployment
        self.max_pending = max_pending
        self.clock = clock

    def propose(self, proposal: Proposal, caller: Caller) -> PendingChangeRecord:
        """Queue a create, update or delete for review; the checks run in the contract's order."""
        if proposal.api is Format.LEGACY:
            return self._legacy(proposal, caller)
        if proposal.operation is Operation.DELETE:
            return self._v2_delete(proposal, caller)
        return self._v2_write(proposal, caller)

    def _v2_write(self, proposal: Proposal, caller: Caller) -> PendingChangeRecord:
        """422 body → 400 path/body name → 503 on a REPLICA → key and role → 503 guards → name rules (422,
        text backend prefix 400) → 404/409 → queued."""
        category = proposal.category
        record = validate_write(category, proposal.body)
        if proposal.path_name is not None and record.name != proposal.path_name:
            raise NameMismatch("Model name in the path must match the payload when queuing updates.")
        self.deployment.require_primary()  # a REPLICA answers before the key costs an AI-Horde call
        user = caller.user()
        self.deployment.require_writes(Format.V2, category)
        check_name(record.name)
        if category is Category.TEXT_GENERATION:
            check_text_name(record.name)
        stored = self._current(category, record.name)
        payload = _checked(category, proposal.operation, record.name, stored, record.to_document())
        return self._enqueue(user, proposal, record.name, payload, {"route": proposal.route})

    def _v2_delete(self, proposal: Proposal, caller: Caller) -> PendingChangeRecord:
        """503 on a REPLICA → key and role → 503 guards → name rules → 404 → queued, with the record as it is now."""
        category, name = proposal.category, proposal.path_name or ""
        self.deployment.require_primary()
        user = caller.user()
        self.deployment.require_writes(Format.V2, category)
        check_name(name)
        if category is Category.TEXT_GENERATION:
            check_text_name(name, deleting=True)
        stored = _checked(category, Operation.DELETE, name, self._current(category, name), None)
        return self._enqueue(user, proposal, name, stored, {"route": proposal.route})

    def _legacy(self, proposal: Proposal, caller: Caller) -> PendingChangeRecord:
        """v1 order: 503 guards → 422 body → name rules → 409/404 (against the legacy view) → key and role."""
        category, operation = proposal.category, proposal.operation
        if not has_legacy_format(category):
            raise NotFound(f"Model category '{category.value}' not found")
        self.deployment.require_writes(Format.LEGACY, category)
        if operation is Operation.DELETE:
            name, payload = proposal.path_name or "", None
        else:
            name, payload = validate_legacy_write(category, proposal.body)
        check_name(name)
        if category is Category.TEXT_GENERATION:
            check_text_name(name, deleting=operation is Operation.DELETE)
        stored = self._current(category, name)
        current = None if stored is None else legacy_view(category, name, stored)
        payload = _checked(category, operation, name, current, payload, missing="does not exist in")
        user = caller.user()
        metadata = {"route": proposal.route, "format": Format.LEGACY.value}
        return self._enqueue(user, proposal, name, payload, metadata)

    def group_common_fields(
        self, group: str, request: CommonFieldsUpdateRequest, caller: Caller
    ) -> BatchUpdateResponse:
        """X8: one queued update per canonical member of *group*, all or none. 400 nothing to set → 503 on a
        REPLICA → key and role → 503 guards → 404 no member → 422 a member the change would make invalid."""
        fields = request.fields()
        if not fields:
            raise InvalidQuery("No fields to update. Provide at least one field.")
        self.deployment.require_primary()
        user = caller.user()
        self.deployment.require_writes(Format.V2, Category.TEXT_GENERATION)
        with self.store.read() as tx:
            records = [(r.name, r.document) for r in tx.records.load(Category.TEXT_GENERATION)]
        members = canonical_members(group, records)
        if not members:
            raise NotFound(no_group(group))
        changes = []
        for name, document in members:
            record = validate_write(Category.TEXT_GENERATION, {**document, **fields})
            changes.append(
                (name, _checked(Category.TEXT_GENERATION, Operation.UPDATE, name, dict(document), record.to_document()))
            )
        batch = str(uuid.uuid4())
        proposal = Proposal(Format.V2, Category.TEXT_GENERATION, Operation.UPDATE, "update_group_common_fields")
        metadata = {"route": proposal.route, "batch_id": batch}
        queued = self._enqueue_many(user, proposal, changes, metadata, f"Batch group update for '{group}'")
        return BatchUpdateResponse(
            updated_count=len(queued), batch_id=batch, pending_change_ids=[c.change_id for c in queued]
        )

    def name_exception(self, name: str, request: NameExceptionRequest, caller: Caller) -> NameExceptionResponse:
        """X12: a queued update setting (or clearing) a text model's name-schema exception. 503 on a REPLICA →
        key and role → 503 guards → 404 no such model."""
        self.deployment.require_primary()
        user = caller.user()
        self.deployment.require_writes(Format.V2, Category.TEXT_GENERATION)
        check_name(name)
        stored = self._current(Category.TEXT_GENERATION, name)
        if stored is None:
            raise NotFound(f"Model '{shown(name)}' not found in text_generation category")
        record = validate_write(Category.TEXT_GENERATION, with_name_exception(stored, request.reason))
        payload = _checked(Category.TEXT_GENERATION, Operation.UPDATE, name, stored, record.to_document())
        proposal = Proposal(Format.V2, Category.TEXT_GENERATION, Operation.UPDATE, "set_name_exception")
        done = "set" if request.reason is not None else "cleared"
        notes = f"Name exception {done} for '{name}'"
        (change,) = self._enqueue_many(user, proposal, [(name, payload)], {"route": proposal.route}, notes)
        return NameExceptionResponse(pending_change_id=change.change_id)

    def _current(self, category: Category, name: str) -> dict[str, Any] | None:
        with self.store.read() as tx:
            return tx.records.get(category, name)

    def _enqueue(
        self, user: User, proposal: Proposal, name: str, payload: dict[str, Any], metadata: dict[str, Any]
    ) -> PendingChangeRecord:
        (change,) = self._enqueue_many(user, proposal, [(name, payload)], metadata)
        return change

    def _enqueue_many(
        self,
        user: User,
        proposal: Proposal,
        changes: list[tuple[str, dict[str, Any]]],
        metadata: dict[str, Any],
        notes: str | None = None,
    ) -> list[PendingChangeRecord]:
        """Queue changes of one proposal in one transaction (all or none), each with its audit event."""
        now = int(self.clock())
        category = proposal.category
        queued = []
        with self.store.write() as tx:
            held = tx.queue.pending_count(user.user_id)
            if held >= self.max_pending:
                raise QuotaExceeded(
                    f"You already have {self.max_pending} pending changes, the most one requestor may hold "
                    "on this deployment; wait until some are reviewed."
                )
            if held + len(changes) > self.max_pending:
                raise QuotaExceeded(
                    f"This would queue {len(changes)} changes and you hold {held} pending, more than the "
                    f"{self.max_pending} one requestor may hold on this deployment; wait until some are reviewed."
                )
            for name, payload in changes:
                change = PendingChangeRecord(
                    change_id=tx.queue.next_id("last_change_id"),
                    category=category,
                    model_name=name,
                    operation=proposal.operation,
                    payload=payload,
                    requested_by=user.user_id,
                    requested_username=user.username,
                    requested_at=now,
                    updated_at=now,
                    notes=notes,
                    request_metadata=metadata,
                    related_models=list(backend_variants(name)) if category is Category.TEXT_GENERATION else None,
                )
                tx.queue.insert(change)
                tx.audit.append(
                    [
                        queue_event(
                            "enqueue",
                            user,
                            change.change_id,
                            self.deployment.canonical_format,
                            now,
                            change_id=change.change_id,
                            operation=proposal.operation.value,
                            category=category.value,
                            model=name,
                        )
                    ]
                )
                queued.append(change)
        return queued


def _checked(
    category: Category,
    operation: Operation,
    name: str,
    stored: dict[str, Any] | None,
    payload: dict[str, Any] | None,
    *,
    missing: str = "not found in",
) -> dict[str, Any]:
    """The payload to queue, after the existence rules (create: 409 if present; update/delete: 404 if not).

    A delete queues the record as it is now; an update keeps the stored creation info.
    """
    where = f"Model '{shown(name)}'"
    if operation is Operation.CREATE and stored is not None:
        raise AlreadyExists(
            f"{where} already exists in category '{category.value}'. Use PUT to update existing models."
        )
    if operation is Operation.UPDATE and stored is None:
        raise NotFound(f"{where} {missing} category '{category.value}'. Use POST to create new models.")
    if operation is Operation.DELETE:
        if stored is None:
            raise NotFound(f"{where} not found in category '{category.value}'")
        return stored
    assert payload is not None
    if operation is Operation.UPDATE and stored is not None and "metadata" in payload:
        old = stored.get("metadata") or {}
        payload["metadata"] = {**payload["metadata"], **{k: old[k] for k in ("created_at", "created_by") if k in old}}
    return payload
