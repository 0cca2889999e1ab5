"""Roles from the allowlists: approvers are also requestors; empty lists fail closed (API.md §1.4)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from modelref.domain.changes import User
from modelref.errors import Unauthorized
from modelref.services.horde import HordeClient

INVALID_KEY = "Invalid API key"
MAX_KEY_LENGTH = 256
"""AI-Horde keys are short ASCII tokens; anything else is refused without asking the AI-Horde."""


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
        plausible = 0 < len(apikey) <= MAX_KEY_LENGTH and apikey.isascii() and apikey.isprintable()
        found = self.horde.find_user(apikey) if plausible and apikey.strip() else None
        if found is None:
            raise Unauthorized(INVALID_KEY)
        return User(
            user_id=found.user_id,
            username=found.username,
            is_requestor=found.user_id in self.requestors,
            is_approver=found.user_id in self.approvers,
        )

    def require(self, apikey: str, role: Role) -> User:
        """The user behind *apikey* if they have *role*; Unauthorized (401) otherwise."""
        allowlist = {Role.REQUESTOR: self.requestors, Role.APPROVER: self.approvers}.get(role)
        if allowlist is not None and not allowlist:
            raise Unauthorized(INVALID_KEY)  # fail closed, without asking the AI-Horde
        user = self.user(apikey)
        if role is Role.REQUESTOR and not user.is_requestor:
            raise Unauthorized("You are not on the pending queue requestor list.")
        if role is Role.APPROVER and not user.is_approver:
            raise Unauthorized("You are not on the pending queue approver list.")
        return user
