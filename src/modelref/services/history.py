"""The queue's history as the audit trail tells it: the audit views (API.md §13 PQ11, DATA.md §11.5–11.6).

Only the queue's own lifecycle events (small) are replayed; a batch's net changes read the events of
just the models it touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from modelref.domain.audit import EventSpec, Operation
from modelref.domain.audit_views import (
    QUEUE,
    BatchNetChangeResponse,
    PendingQueueAuditBatchDetail,
    PendingQueueAuditBatchPage,
    PendingQueueAuditCurrentResponse,
    QueueHistory,
    RecordChange,
    batch_view,
    batches_view,
    current_view,
    net_change_targets,
    net_changes_view,
    record_changes,
    replay_queue,
)
from modelref.domain.categories import Category
from modelref.domain.changes import User
from modelref.domain.deployment import Deployment
from modelref.domain.formats import Format
from modelref.services.auth import Caller
from modelref.services.primary import OnPrimary
from modelref.storage.store import Store


def queue_event(action: str, user: User, subject: int | str, domain: Format, now: int, **fields: Any) -> EventSpec:
    """A lifecycle event of the queue about *subject* (a change id, or "queue") at *now* (DATA.md §11.3)."""
    return EventSpec(
        domain=domain,
        category=QUEUE,
        model_name=str(subject),
        operation=Operation.UPDATE,
        user=user.user_id,
        payload={"after": {**fields, "action": action}},
        timestamp=now,
    )


class History(OnPrimary):
    def __init__(self, store: Store | None, deployment: Deployment, clock: Callable[[], float] = time.time) -> None:
        super().__init__(store)
        self.deployment = deployment
        self.clock = clock

    def _replay(self, caller: Caller, domain: Format | None) -> tuple[Format, QueueHistory]:
        self.deployment.require_queue(caller.api, changing=False)
        caller.user()
        domain = domain or self.deployment.canonical_format
        with self.store.read() as tx:
            events = tx.audit.events(domain=domain, category=QUEUE)
        return domain, replay_queue(events)

    def record(self, category: Category, name: str) -> list[RecordChange]:
        """A record's audited changes, newest first (empty on a REPLICA: the audit trail is the PRIMARY's)."""
        if self._store is None:
            return []
        with self._store.read() as tx:
            return record_changes(tx.audit.events(category=category.value, model_name=name))

    def current(self, caller: Caller, domain: Format | None) -> PendingQueueAuditCurrentResponse:
        """Changes whose last recorded state is pending, newest first."""
        found, history = self._replay(caller, domain)
        return current_view(history, found, int(self.clock()))

    def batches(
        self, caller: Caller, domain: Format | None, cursor: int | None, limit: int
    ) -> PendingQueueAuditBatchPage:
        found, history = self._replay(caller, domain)
        return batches_view(history, found, cursor, limit)

    def batch(self, caller: Caller, domain: Format | None, batch_id: int) -> PendingQueueAuditBatchDetail:
        _, history = self._replay(caller, domain)
        return batch_view(history, batch_id)

    def net_changes(self, caller: Caller, domain: Format | None, batch_id: int) -> BatchNetChangeResponse:
        """What a batch did to each model it touched, replayed from the models' own events."""
        found, history = self._replay(caller, domain)
        targets = net_change_targets(history, batch_id)
        with self.store.read() as tx:
            events = {
                key: tx.audit.events(category=key[0], model_name=key[1], upto=high)
                for key, (_, high) in targets.items()
            }
        return net_changes_view(history, batch_id, found, events, int(self.clock()))
