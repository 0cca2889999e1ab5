"""A signed-in browser of the web UI (its key is kept on the server, never in the browser)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A session as the database holds it: the key sealed under a key only the cookie's token gives."""

    token_hash: str
    """SHA-256 (hex) of the cookie's token: a copy of the database lets no one sign in."""
    sealed_key: str
    """The AI-Horde key, encrypted (AES-GCM) under a key derived from the token: a copy of the database does
    not reveal it either."""
    csrf: str
    user_id: str
    username: str
    roles: tuple[str, ...]
    expires_at: float


@dataclass(frozen=True, slots=True)
class WebSession:
    """A session found by its cookie: who signed in, with the key opened for the actions they take."""

    token_hash: str
    apikey: str = field(repr=False)
    csrf: str = field(repr=False)
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
