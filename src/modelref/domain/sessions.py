"""A signed-in browser of the web UI (its key is kept on the server, never in the browser)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WebSession:
    token_hash: str
    """SHA-256 (hex) of the cookie's token: a copy of the database does not let anyone sign in."""
    apikey: str
    csrf: str
    """The token every state-changing form of this session carries."""
    user_id: str
    username: str
    roles: tuple[str, ...]
    """The roles at sign-in, for what the pages offer; every action checks the key's role again."""
    expires_at: float

    @property
    def is_requestor(self) -> bool:
        return "requestor" in self.roles

    @property
    def is_approver(self) -> bool:
        return "approver" in self.roles
