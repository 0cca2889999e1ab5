"""The review queue: propose, list, diff, approve/reject and purge (API.md §9, §11, §13; DATA.md §10)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from modelref.domain.audit import AuditEvent, ChangeStatus, Domain, Operation
from modelref.domain.audit_views import QueueHistory, replay_queue
from modelref.domain.categories import CATEGORY_INFO, Category
from modelref.domain.changes import PendingChange, User, diff_change
from modelref.domain.deployment import CanonicalFormat, Deployment, ReplicateMode
from modelref.domain.legacy import legacy_to_v2, v2_to_legacy
from modelref.domain.legacy_text import backend_variants, db_entries, db_json_to_v2
from modelref.domain.records import RecordBase, TextGenerationModelRecord, parse_record
from modelref.domain.vocab import known_value_problems
from modelref.domain.writes import check_name, check_text_name, validate_write
from modelref.errors import AlreadyExists, InvalidRecord, InvalidTransition, NameMismatch, NotFound, NotWritable
from modelref.services.reads import shown
from modelref.storage.store import EventSpec, Store, WriteTransaction

QUEUE_CATEGORY = "pending_queue"
REPLICA_WRITES = (
    "This instance is in REPLICA mode and does not support write operations. Only PRIMARY instances can modify data."
)
LEGACY_FORMAT = "legacy"


@dataclass(slots=True)
class Page:
    items: list[PendingChange]
    total: int
    offset: int
    limit: int


@dataclass(slots=True)
class ChangeFilter:
    statuses: Sequence[ChangeStatus] = ()
    categories: Sequence[Category] = ()
    batch_id: int | None = None
    model_name: str | None = None
    requested_by: Sequence[str] = ()

    def matches(self, change: PendingChange) -> bool:
        if self.statuses and change.status not in self.statuses:
            return False
        if self.categories and change.category not in self.categories:
            return False
        if self.batch_id is not None and change.batch_id != self.batch_id:
            return False
        if self.model_name and self.model_name.strip().casefold() not in change.model_name.casefold():
            return False
        wanted = [r.strip() for r in self.requested_by if r.strip()]
        return not wanted or change.requested_by in wanted

    @property
    def empty(self) -> bool:
        return not (self.statuses or self.categories or self.batch_id or self.model_name or self.requested_by)


@dataclass(slots=True)
class Decision:
    batch_id: int | None
    batch_title: str
    approved: list[PendingChange] = field(default_factory=list)
    rejected: list[PendingChange] = field(default_factory=list)


def queue_event(action: str, user: User, subject: int | str, domain: Domain, **fields: Any) -> EventSpec:
    """A lifecycle event of the queue about *subject* (a change id, or "queue") (DATA.md §11.3)."""
    return EventSpec(
        domain,
        QUEUE_CATEGORY,
        str(subject),
        Operation.UPDATE,
        user.user_id,
        {"after": {**fields, "action": action}},
    )


class Review:
    """Proposals and review decisions. Nothing here changes a record: applying is ``Applier``'s job."""

    def __init__(
        self,
        store: Store,
        deployment: Deployment,
        current: Callable[[Category, str], dict[str, Any] | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.deployment = deployment
        self.current = current
        self.clock = clock

    @property
    def domain(self) -> Domain:
        return Domain.LEGACY if self.deployment.canonical_format is CanonicalFormat.LEGACY else Domain.V2

    # -- guards -----------------------------------------------------------------------------------------

    def require_primary(self) -> None:
        if self.deployment.mode is not ReplicateMode.PRIMARY:
            raise NotWritable(REPLICA_WRITES)

    def require_v2_writes(self, category: Category) -> None:
        self.require_primary()
        has_legacy = CATEGORY_INFO[category].legacy_file is not None
        if self.deployment.canonical_format is not CanonicalFormat.V2 and has_legacy:
            raise NotWritable(
                "This deployment does not expose write operations for this API. "
                "Expected canonical_format='v2', got 'legacy'."
            )

    def require_v1_writes(self) -> None:
        self.require_primary()
        if self.deployment.canonical_format is not CanonicalFormat.LEGACY:
            raise NotWritable(
                "This deployment does not expose write operations for this API. "
                "Expected canonical_format='legacy', got 'v2'."
            )

    def require_queue_prefix(self, version: CanonicalFormat) -> None:
        """Only the canonical format's queue prefix is active (the other answers 503)."""
        self.require_primary()
        if self.deployment.canonical_format is not version:
            prefix = "v1" if version is CanonicalFormat.LEGACY else "v2"
            raise NotWritable(
                f"The pending queue is served under the canonical format's prefix; this deployment's canonical "
                f"format is '{self.deployment.canonical_format.value}', not the /{prefix} one."
            )

    # -- proposals --------------------------------------------------------------------------------------

    def validate_v2(self, category: Category, body: Any) -> RecordBase:
        """The write body as a record of *category* (pydantic ValidationError → 422)."""
        return validate_write(category, body)

    def propose(
        self,
        user: User,
        category: Category,
        operation: Operation,
        record: RecordBase | None,
        *,
        route: str,
        path_name: str | None = None,
    ) -> PendingChange:
        """Queue a v2 create, update or delete (record None) for review."""
        self.require_v2_writes(category)
        self.check_path_name(record, path_name)
        name = record.name if record is not None else path_name
        assert name is not None
        check_name(name)
        if category is Category.TEXT_GENERATION:
            check_text_name(name)
        stored = self.current(category, name)
        payload = self._checked_payload(category, operation, name, stored, record.to_document() if record else None)
        return self._enqueue(
            user, category, operation, name, payload, {"route": route}, related=_related(category, name)
        )

    @staticmethod
    def check_path_name(record: RecordBase | None, path_name: str | None) -> None:
        if record is not None and path_name is not None and record.name != path_name:
            raise NameMismatch("Model name in the path must match the payload when queuing updates.")

    def validate_legacy(self, category: Category, body: Any) -> tuple[str, dict[str, Any]]:
        """Check a v1 body by converting it with the one converter pair; return (name, payload)."""
        if CATEGORY_INFO[category].legacy_file is None:
            raise NotFound(f"Model category '{category.value}' has no legacy format")
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise InvalidRecord("Field 'name' is required and must be a string")
        payload = {k: v for k, v in body.items() if v is not None}
        name = payload["name"]
        if category is Category.TEXT_GENERATION:
            check_text_name(name)
        try:
            record = _legacy_record(category, name, payload)
        except ValidationError as error:
            raise InvalidRecord(f"record {shown(name)!r}: {error.errors()[0]['msg']}") from None
        errors = [p for p in known_value_problems(record) if p.severity == "error"]
        if errors:
            raise InvalidRecord(f"Field '{errors[0].field}': {errors[0].message}")
        return name, payload

    def legacy_existence(self, category: Category, operation: Operation, name: str) -> str:
        """The v1 checks that come before authentication: name rules and existence (409/404)."""
        check_name(name)
        if category is Category.TEXT_GENERATION:
            check_text_name(name)
        stored = self.current(category, name)
        self._checked_payload(category, operation, name, stored, {} if operation is not Operation.DELETE else None)
        return name

    def propose_legacy(
        self,
        user: User,
        category: Category,
        operation: Operation,
        name: str,
        payload: dict[str, Any] | None,
        route: str,
    ) -> PendingChange:
        """Queue a v1 (legacy-shape) create, update or delete; the payload is converted when applied."""
        self.require_v1_writes()
        if category is Category.TEXT_GENERATION:
            check_text_name(name)
        stored = self.current(category, name)
        legacy_current = None if stored is None else self.legacy_view(category, name, stored)
        payload = self._checked_payload(category, operation, name, legacy_current, payload)
        metadata = {"route": route, "format": LEGACY_FORMAT}
        return self._enqueue(user, category, operation, name, payload, metadata, related=_related(category, name))

    def _checked_payload(
        self,
        category: Category,
        operation: Operation,
        name: str,
        stored: dict[str, Any] | None,
        payload: dict[str, Any] | None,
    ) -> dict[str, Any]:
        where = f"Model '{shown(name)}'"
        if operation is Operation.CREATE and stored is not None:
            raise AlreadyExists(
                f"{where} already exists in category '{category.value}'. Use PUT to update existing models."
            )
        if operation is Operation.UPDATE and stored is None:
            raise NotFound(f"{where} not found in category '{category.value}'. Use POST to create new models.")
        if operation is Operation.DELETE:
            if stored is None:
                raise NotFound(f"{where} not found in category '{category.value}'")
            return stored
        assert payload is not None
        if operation is Operation.UPDATE and stored is not None and "metadata" in payload:
            old = stored.get("metadata") or {}
            payload["metadata"] = {
                **payload["metadata"],
                **{k: old[k] for k in ("created_at", "created_by") if k in old},
            }
        return payload

    def _enqueue(
        self,
        user: User,
        category: Category,
        operation: Operation,
        name: str,
        payload: dict[str, Any],
        request_metadata: dict[str, Any],
        related: list[str] | None,
    ) -> PendingChange:
        now = int(self.clock())
        with self.store.write() as tx:
            change = PendingChange(
                change_id=tx.next_change_id(),
                category=category,
                model_name=name,
                operation=operation,
                payload=payload,
                requested_by=user.user_id,
                requested_username=user.username,
                requested_at=now,
                updated_at=now,
                request_metadata=request_metadata,
                related_models=related,
            )
            tx.insert_change(change)
            tx.append_events(
                [
                    queue_event(
                        "enqueue",
                        user,
                        change.change_id,
                        self.domain,
                        change_id=change.change_id,
                        operation=operation.value,
                        category=category.value,
                        model=name,
                    )
                ]
            )
        return change

    def legacy_view(self, category: Category, name: str, stored: dict[str, Any]) -> dict[str, Any]:
        record = parse_record(category, stored)
        if isinstance(record, TextGenerationModelRecord):
            return db_entries(record)[name]
        return v2_to_legacy(category, record)

    # -- reading the queue ------------------------------------------------------------------------------

    def page(self, filters: ChangeFilter, offset: int, limit: int) -> Page:
        matched = [c for c in self.store.changes() if filters.matches(c)]
        return Page(matched[offset : offset + limit], len(matched), offset, limit)

    def change(self, change_id: int) -> PendingChange:
        change = self.store.get_change(change_id)
        if change is None:
            raise NotFound("Change not found")
        return change

    def diff(self, change_id: int) -> dict[str, Any]:
        change = self.change(change_id)
        stored = self.current(change.category, change.model_name)
        if stored is not None and (change.request_metadata or {}).get("format") == LEGACY_FORMAT:
            stored = self.legacy_view(change.category, change.model_name, stored)
        return diff_change(change, stored)

    # -- history ----------------------------------------------------------------------------------------

    def history(self, domain: Domain | None) -> tuple[Domain, QueueHistory, list[AuditEvent]]:
        """The queue's history as the audit trail of *domain* (default: the canonical one) tells it."""
        domain = domain or self.domain
        events = [e for e in self.store.audit_events() if e.domain is domain]
        return domain, replay_queue(events), events

    def batch_history(self, domain: Domain | None, batch_id: int) -> tuple[Domain, QueueHistory, list[AuditEvent]]:
        found = self.history(domain)
        if batch_id not in found[1].batches:
            raise NotFound("Batch not found")
        return found

    # -- deciding ---------------------------------------------------------------------------------------

    def decide(
        self, user: User, title: str, approved_ids: Sequence[int], rejected_ids: Sequence[int], reason: str | None
    ) -> Decision:
        """Approve and/or reject pending changes; approvals join the open batch (DATA.md §10.3)."""
        self.require_primary()
        now = int(self.clock())
        with self.store.write() as tx:
            changes = {i: _pending(tx, i) for i in [*approved_ids, *rejected_ids]}
            batch_id: int | None = None
            if approved_ids:
                open_batch = next((c.batch_id for c in tx.changes() if c.status is ChangeStatus.APPROVED), None)
                batch_id = open_batch if open_batch is not None else tx.next_batch_id()
            decision = Decision(batch_id, title)
            events = []
            for change_id in approved_ids:
                change = changes[change_id].model_copy(
                    update={
                        "status": ChangeStatus.APPROVED,
                        "batch_id": batch_id,
                        "batch_title": title,
                        "approved_by": user.user_id,
                        "approved_username": user.username,
                        "approved_at": now,
                        "updated_at": now,
                    }
                )
                tx.save_change(change)
                decision.approved.append(change)
                events.append(
                    queue_event(
                        "approve",
                        user,
                        change_id,
                        self.domain,
                        change_id=change_id,
                        batch_id=batch_id,
                        batch_title=title,
                    )
                )
            for change_id in rejected_ids:
                change = changes[change_id].model_copy(
                    update={
                        "status": ChangeStatus.REJECTED,
                        "batch_id": batch_id,
                        "batch_title": title,
                        "rejected_by": user.user_id,
                        "rejected_username": user.username,
                        "rejected_at": now,
                        "reject_reason": reason,
                        "updated_at": now,
                    }
                )
                tx.save_change(change)
                decision.rejected.append(change)
                fields: dict[str, Any] = {"change_id": change_id, "batch_title": title, "reason": reason}
                if batch_id is not None:
                    fields["batch_id"] = batch_id
                events.append(queue_event("reject", user, change_id, self.domain, **fields))
            tx.append_events(events)
        return decision

    def purge(self, user: User, filters: ChangeFilter, purge_all: bool, dry_run: bool) -> list[int]:
        """Remove matching changes in any status; return their ids (nothing removed on a dry run)."""
        self.require_primary()
        with self.store.write() as tx:
            doomed = [c for c in tx.changes() if purge_all or filters.matches(c)]
            if not dry_run and doomed:
                tx.delete_changes([c.change_id for c in doomed])
                tx.append_events(
                    [
                        queue_event(
                            "purge",
                            user,
                            c.change_id,
                            self.domain,
                            change_id=c.change_id,
                            category=c.category.value,
                            model=c.model_name,
                            requested_by=c.requested_by,
                            purged_by_username=user.username,
                        )
                        for c in doomed
                    ]
                )
        return [c.change_id for c in doomed]


def _pending(tx: WriteTransaction, change_id: int) -> PendingChange:
    change = tx.get_change(change_id)
    if change is None:
        raise InvalidTransition(f"Change {change_id} does not exist.")
    if change.status is not ChangeStatus.PENDING:
        raise InvalidTransition(f"Change {change_id} is not pending (status={change.status.value}).")
    return change


def _related(category: Category, name: str) -> list[str] | None:
    return list(backend_variants(name)) if category is Category.TEXT_GENERATION else None


def _legacy_record(category: Category, name: str, payload: dict[str, Any]) -> RecordBase:
    """The v2 record a legacy payload stands for (ValidationError / InvalidRecord when it cannot)."""
    if category is Category.TEXT_GENERATION:
        records, _ = db_json_to_v2({name: payload})
        if not records:
            raise InvalidRecord(f"record {shown(name)!r} is not a base text model")
        return records[0]
    record, _ = legacy_to_v2(category, name, payload)
    return record


def payload_record(change: PendingChange) -> RecordBase:
    """The v2 record a create/update change writes (legacy payloads converted by the one converter)."""
    assert change.payload is not None
    if (change.request_metadata or {}).get("format") == LEGACY_FORMAT:
        return _legacy_record(change.category, change.model_name, dict(change.payload))
    return parse_record(change.category, change.payload)
