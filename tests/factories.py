"""Builders for small test data: records, stores, users, callers and queued changes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

from modelref.domain.audit import ChangeStatus, Operation
from modelref.domain.bundle import read_bundle
from modelref.domain.categories import CATEGORY_INFO, Category
from modelref.domain.changes import PendingChangeRecord, User
from modelref.domain.formats import Format
from modelref.domain.records import RecordBase, parse_record
from modelref.errors import Unauthorized
from modelref.services.auth import Auth
from modelref.services.breaker import CircuitBreaker
from modelref.services.horde import HordeClient
from modelref.services.importer import import_bundle
from modelref.storage.store import Store
from modelref.storage.tables import queue_counters
from tests.support import KEYS, FakeHorde

T0 = 1_700_000_000
"""The time small test data is stamped with."""

# -- records -------------------------------------------------------------------------------------------


def image_record(name: str = "Test Model", **fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": name,
        "baseline": "stable_diffusion_xl",
        "nsfw": False,
        "description": "A test model",
        "config": {
            "download": [
                {
                    "file_name": f"{name}.safetensors",
                    "file_url": f"https://huggingface.co/test/{name}.safetensors",
                    "sha256sum": "a" * 64,
                }
            ]
        },
    }
    document.update(fields)
    return document


def text_record(name: str = "Org/Test-7B", parameters: int = 7_000_000_000, **fields: Any) -> dict[str, Any]:
    return {"name": name, "parameters": parameters, **fields}


def v2_record(category: Category, name: str, **fields: Any) -> dict[str, Any]:
    """A small valid v2 document of any category."""
    if category is Category.IMAGE_GENERATION:
        return image_record(name, **fields)
    if category is Category.TEXT_GENERATION:
        return text_record(name, **fields)
    return {"name": name, "description": f"{name} ({category.value})", **fields}


def legacy_clip(name: str = "New CLIP", **fields: Any) -> dict[str, Any]:
    """A CLIP record in the legacy (v1) shape."""
    return {
        "name": name,
        "type": "clip",
        "description": "a legacy clip",
        "config": {
            "files": [{"path": f"{name}.pt", "sha256sum": "b" * 64}],
            "download": [{"file_name": f"{name}.pt", "file_path": "", "file_url": f"https://example.com/{name}.pt"}],
        },
        "available": False,
        **fields,
    }


def record(category: Category, document: dict[str, Any]) -> RecordBase:
    return parse_record(category, document)


def v2_files(records: dict[Category, Iterable[dict[str, Any]]]) -> dict[str, bytes]:
    """The v2 source files holding *records* (keyed by their names), as an import reads them."""
    return {
        CATEGORY_INFO[category].v2_file: json.dumps({d["name"]: d for d in documents}).encode()
        for category, documents in records.items()
    }


def seed(store: Store, records: dict[Category, Iterable[dict[str, Any]]], *, now: int = T0) -> None:
    """Import *records* into *store* the way ``modelref import`` does."""
    import_bundle(store, read_bundle(v2_files(records)), now=now)


# -- users and callers ---------------------------------------------------------------------------------


def user(user_id: str = "1001", username: str | None = None, *, approver: bool = False) -> User:
    """An AI-Horde user; every user built here is a requestor, approvers on request."""
    return User(user_id, username or f"User#{user_id}", is_requestor=True, is_approver=approver)


@dataclass(frozen=True, slots=True)
class FixedCaller:
    """A caller who is always *who* (the test double for ``services.auth.Caller``); counts how often asked."""

    who: User
    api: Format = Format.V2
    asked: list[User] = field(default_factory=list)

    def user(self) -> User:
        self.asked.append(self.who)
        return self.who


@dataclass(frozen=True, slots=True)
class RefusingCaller:
    """A caller whose key is refused: ``user()`` raises Unauthorized (and counts the attempt)."""

    api: Format = Format.V2
    asked: list[str] = field(default_factory=list)

    def user(self) -> NoReturn:
        self.asked.append("asked")
        raise Unauthorized("RefusingCaller was asked who it is")


def requestor(user_id: str = "1001", *, api: Format = Format.V2) -> FixedCaller:
    return FixedCaller(user(user_id), api)


def approver(user_id: str = "2002", *, api: Format = Format.V2) -> FixedCaller:
    return FixedCaller(user(user_id, approver=True), api)


@contextlib.contextmanager
def horde_auth(requestor_ids: Iterable[str] = ("1001",), approver_ids: Iterable[str] = ("2002",)) -> Iterator[Auth]:
    """The real ``Auth`` against a running fake AI-Horde that knows ``tests.support.KEYS``."""
    with FakeHorde(KEYS) as horde:
        client = HordeClient(horde.url, CircuitBreaker())
        try:
            yield Auth(client, requestor_ids, approver_ids)
        finally:
            client.close()


# -- queued changes ------------------------------------------------------------------------------------


def change(
    change_id: int = 1,
    *,
    category: Category = Category.IMAGE_GENERATION,
    model_name: str | None = None,
    operation: Operation = Operation.CREATE,
    status: ChangeStatus = ChangeStatus.PENDING,
    requested_by: str = "1001",
    batch_id: int | None = None,
    payload: dict[str, Any] | None = None,
    at: int = T0,
    **fields: Any,
) -> PendingChangeRecord:
    """A queued change as the queue stores it (the payload defaults to a valid record of *model_name*)."""
    name = model_name if model_name is not None else f"Model {change_id}"
    if payload is None:
        payload = record(category, v2_record(category, name)).to_document()
    return PendingChangeRecord(
        change_id=change_id,
        category=category,
        model_name=name,
        operation=operation,
        payload=payload,
        requested_by=requested_by,
        requested_username=f"User#{requested_by}",
        requested_at=at,
        updated_at=fields.pop("updated_at", at),
        status=status,
        batch_id=batch_id,
        request_metadata=fields.pop("request_metadata", {"route": f"{operation.value}_v2_model"}),
        **fields,
    )


def queue(store: Store, *changes: PendingChangeRecord) -> list[PendingChangeRecord]:
    """Put *changes* straight into the queue, moving the id counters past their change and batch ids
    (as enqueueing and approving would), so that ids the services hand out next are new ones."""
    with store.write() as tx:
        for item in changes:
            tx.queue.insert(item)
        for counter, used in (
            ("last_change_id", [c.change_id for c in changes]),
            ("last_batch_id", [c.batch_id for c in changes if c.batch_id is not None]),
        ):
            column = queue_counters.c[counter]
            tx.queue.conn.execute(
                queue_counters.update()
                .where(queue_counters.c.id == 1, column < max(used, default=0))
                .values({counter: max(used, default=0)})
            )
    return list(changes)
