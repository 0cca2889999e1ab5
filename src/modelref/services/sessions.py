"""Signing in to the web UI: the key is checked as the API checks it, then kept on the server.

The browser holds only a random token in an ``HttpOnly`` cookie; the database holds its SHA-256, the key and
the session's CSRF token, so every process (and host) of a PRIMARY agrees on who is signed in.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable

from modelref.domain.sessions import WebSession
from modelref.services.auth import Auth
from modelref.services.primary import OnPrimary
from modelref.storage.store import Store

LIFETIME = 12 * 3600.0
"""Seconds a sign-in lasts."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions(OnPrimary):
    def __init__(self, store: Store | None, auth: Auth, clock: Callable[[], float] = time.time) -> None:
        super().__init__(store)
        self.auth = auth
        self.clock = clock

    @property
    def available(self) -> bool:
        """Whether anyone can sign in here (a REPLICA has no database: its UI is read-only)."""
        return self._store is not None

    def open(self, apikey: str) -> tuple[str, WebSession]:
        """Check *apikey* (Unauthorized when the AI-Horde does not know it) and keep it; the cookie's token."""
        user = self.auth.user(apikey)
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = WebSession(
            token_hash=token_hash(token),
            apikey=apikey,
            csrf=secrets.token_urlsafe(32),
            user_id=user.user_id,
            username=user.username,
            roles=tuple(user.roles),
            expires_at=now + LIFETIME,
        )
        with self.store.write() as tx:
            tx.sessions.expire(now)
            tx.sessions.add(session)
        return token, session

    def find(self, token: str | None) -> WebSession | None:
        """The session a cookie's token names, if it is still valid (never on a REPLICA)."""
        if not token or self._store is None or len(token) > 128:
            return None
        with self._store.read() as tx:
            return tx.sessions.find(token_hash(token), self.clock())

    def close(self, token: str | None) -> None:
        if token and self._store is not None and len(token) <= 128:
            with self._store.write() as tx:
                tx.sessions.remove(token_hash(token))
