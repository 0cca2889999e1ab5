"""The service's small envelopes: messages, deployment info, health, roles and category metadata
(API.md §2, §6, §8, §16.9, §16.14)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from modelref.domain.audit import Operation
from modelref.domain.categories import Category
from modelref.domain.changes import User
from modelref.domain.deployment import Deployment, ReplicateMode
from modelref.domain.formats import Format
from modelref.domain.stored import CategoryState
from modelref.domain.usage import HordeKind, KindUsage

METADATA_SCHEMA_VERSION = "1.0.0"


class ContainsMessage(BaseModel):
    message: str


class BackendInfo(BaseModel):
    replicate_mode: ReplicateMode
    canonical_format: Format
    writable: bool

    @classmethod
    def of(cls, deployment: Deployment) -> BackendInfo:
        return cls(
            replicate_mode=deployment.mode,
            canonical_format=deployment.canonical_format,
            writable=deployment.writable,
        )


class AIHordeStatus(BaseModel):
    degraded: bool
    """The circuit breaker is open: no call goes out until ``seconds_until_retry`` has passed."""
    consecutive_failures: int
    seconds_until_retry: float | None
    usage: dict[HordeKind, KindUsage] | None = None
    """How old the usage data is, per kind, and why its last refresh failed (absent while starting)."""


class ReplicaCategoryStatus(BaseModel):
    source: str
    """Where the copy served came from: ``primary``, ``primary-v1``, ``github`` or ``disk``."""
    age_seconds: float
    """Seconds since a source last confirmed it."""
    records: int


class ReplicaStatus(BaseModel):
    """How a REPLICA stands with its sources."""

    primary_api_url: str | None
    source: str
    """The source in use: the one serving every category, or the weakest of them (``disk`` when any
    category is served from the copy on disk); ``none`` before anything arrived."""
    data_age_seconds: float | None
    """Seconds since the oldest category was last confirmed by a source."""
    last_poll_age_seconds: float | None
    last_error: str | None
    last_error_age_seconds: float | None
    structure_age_seconds: float | None = None
    """Seconds since the text groups' structure (aliases, families, naming schemas) was last received from the
    PRIMARY or confirmed by it; None when it never was (or there is no PRIMARY to follow)."""
    missing: list[Category]
    """Categories not received yet (their reads answer 503)."""
    categories: dict[Category, ReplicaCategoryStatus]


class HeartbeatResponse(BaseModel):
    status: Literal["ok"] = "ok"
    ai_horde: AIHordeStatus
    replica: ReplicaStatus | None = None
    """Only on a REPLICA."""


class UserRolesResponse(BaseModel):
    user_id: str
    username: str
    roles: list[str]
    is_approver: bool
    is_requestor: bool

    @classmethod
    def of(cls, user: User) -> UserRolesResponse:
        return cls(
            user_id=user.user_id,
            username=user.username,
            roles=user.roles,
            is_approver=user.is_approver,
            is_requestor=user.is_requestor,
        )


class CategoryMetadata(BaseModel):
    category: Category
    last_updated: int
    last_operation_type: Operation | None
    last_operation_model: str | None
    total_creates: int
    total_updates: int
    total_deletes: int
    total_models: int
    initialization_time: int
    last_successful_operation: int
    error_count: int
    metadata_schema_version: str = METADATA_SCHEMA_VERSION
    backend_type: str

    @classmethod
    def of(
        cls, category: Category, state: CategoryState | None, total_models: int, started_at: float, backend: str
    ) -> CategoryMetadata:
        """A category's metadata; a category never written reports the service's start as its times."""
        known = state or CategoryState(version=0, last_updated=started_at, initialized_at=started_at, count=0)
        return cls(
            category=category,
            last_updated=int(known.last_updated),
            last_operation_type=Operation(known.last_operation_type) if known.last_operation_type else None,
            last_operation_model=known.last_operation_model,
            total_creates=known.total_creates,
            total_updates=known.total_updates,
            total_deletes=known.total_deletes,
            total_models=total_models,
            initialization_time=int(known.initialized_at),
            last_successful_operation=int(known.last_updated),
            error_count=known.error_count,
            backend_type=backend,
        )


class LastUpdatedResponse(BaseModel):
    last_updated: int | None


class CategoryLastUpdatedResponse(BaseModel):
    category: Category
    last_updated: int | None
