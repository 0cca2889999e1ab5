"""Who may do what: roles from the allowlists, and the caller of one request (API.md §1.4).

Approvers are also requestors; an empty allowlist fails closed. A route hands its service an
``Authorizer``; the service resolves it at its own step, so a request with a bad body is refused
before anyone asks the AI-Horde about its key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from modelref.domain.changes import User
from modelref.domain.formats import Format
from modelref.domain.info import UserRolesResponse
from modelref.errors import Unauthorized
from modelref.services.horde import HordeClient

INVALID_KEY = "Invalid API key"
WRITES_DISABLED = (
    "Writes are disabled on this deployment: no {role}s are configured. An operator enables them by listing "
    "AI-Horde user ids in HORDE_MODEL_REFERENCE_PENDING_QUEUE__{setting}."
)


class Caller(Protocol):
    """Who calls a service: the API version they came through, and who they are once asked."""

    @property
    def api(self) -> Format: ...

    def user(self) -> User:
        """The caller as a user with the role the operation needs (Unauthorized / Unavailable otherwise)."""
        ...


class Role(StrEnum):
    READER = "reader"
    REQUESTOR = "requestor"
    APPROVER = "approver"


class Auth:
    def __init__(self, horde: HordeClient, requestor_ids: Iterable[str], approver_ids: Iterable[str]) -> None:
        self.horde = horde
        self.approvers = frozenset(i.strip() for i in approver_ids if i.strip())
        self.requestors = frozenset(i.strip() for i in requestor_ids if i.strip()) | self.approvers

    def user(self, apikey: str) -> User:
        """Resolve a key to a user with their roles (any valid key is a reader)."""
        found = self.horde.find_user(apikey)  # None for a malformed or unknown key, without counting either
        if found is None:
            raise Unauthorized(INVALID_KEY)
        return User(
            user_id=found.user_id,
            username=found.username,
            is_requestor=found.user_id in self.requestors,
            is_approver=found.user_id in self.approvers,
        )

    def roles(self, caller: Caller) -> UserRolesResponse:
        """The roles the caller's key has on this deployment (any valid key may ask)."""
        return UserRolesResponse.of(caller.user())

    def require(self, apikey: str, role: Role) -> User:
        """The user behind *apikey* if they have *role*; Unauthorized (401) otherwise."""
        if role is Role.APPROVER and not self.approvers:
            raise Unauthorized(WRITES_DISABLED.format(role="approver", setting="APPROVER_IDS"))
        if role is Role.REQUESTOR and not self.requestors:
            raise Unauthorized(WRITES_DISABLED.format(role="requestor", setting="REQUESTOR_IDS (or APPROVER_IDS)"))
        user = self.user(apikey)
        if role is Role.REQUESTOR and not user.is_requestor:
            raise Unauthorized("You are not on the pending queue requestor list.")
        if role is Role.APPROVER and not user.is_approver:
            raise Unauthorized("You are not on the pending queue approver list.")
        return user


@dataclass(frozen=True, slots=True)
class Authorizer:
    """The caller of one request: a key, the role the route needs, and the API version it came through.

    Nothing is resolved until a service calls ``user()``.
    """

    auth: Auth
    apikey: str
    role: Role
    api: Format = Format.V2

    def user(self) -> User:
        return self.auth.require(self.apikey, self.role)
