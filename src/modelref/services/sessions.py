"""Signing in to the web UI: the key is checked as the API checks it, then kept on the server.

The browser holds only a random token in an ``HttpOnly`` cookie; the database holds the token's SHA-256, the
key sealed (AES-GCM) under a key derived from the token, and the session's CSRF token, so every process (and
host) of a PRIMARY agrees on who is signed in, and a copy of the database reveals no key.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from modelref.domain.sessions import StoredSession, WebSession
from modelref.services.auth import Auth
from modelref.services.primary import OnPrimary
from modelref.storage.store import Store

LIFETIME = 12 * 3600.0
"""Seconds a sign-in lasts."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _sealer(token: str) -> AESGCM:
    """The cipher of one session: its key is derived from the cookie's token, which is never stored."""
    return AESGCM(hashlib.sha256(b"modelref web session key\x00" + token.encode()).digest())


def seal(token: str, apikey: str) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(nonce + _sealer(token).encrypt(nonce, apikey.encode(), None)).decode()


def unseal(token: str, sealed: str) -> str | None:
    """The key *sealed* holds, or None when *token* is not the one it was sealed under."""
    try:
        data = base64.b64decode(sealed)
        return _sealer(token).decrypt(data[:12], data[12:], None).decode()
    except (InvalidTag, ValueError):
        return None


class Sessions(OnPrimary):
    def __init__(self, store: Store | None, auth: Auth, clock: Callable[[], float] = time.time) -> None:
        super().__init__(store)
        self.auth = auth
        self.clock = clock

    def open(self, apikey: str) -> str:
        """Check *apikey* (Unauthorized when the AI-Horde does not know it) and keep it; the cookie's token."""
        user = self.auth.user(apikey)
        token = secrets.token_urlsafe(32)
        now = self.clock()
        stored = StoredSession(
            token_hash=token_hash(token),
            sealed_key=seal(token, apikey),
            csrf=secrets.token_urlsafe(32),
            user_id=user.user_id,
            username=user.username,
            roles=tuple(user.roles),
            expires_at=now + LIFETIME,
        )
        with self.store.write() as tx:
            tx.sessions.expire(now)
            tx.sessions.add(stored)
        return token

    def find(self, token: str | None) -> WebSession | None:
        """The session a cookie's token names, if it is still valid (never on a REPLICA)."""
        if not token or self._store is None or len(token) > 128:
            return None
        with self._store.read() as tx:
            stored = tx.sessions.find(token_hash(token), self.clock())
        apikey = None if stored is None else unseal(token, stored.sealed_key)
        return None if stored is None or apikey is None else _opened(stored, apikey)

    def close(self, token: str | None) -> None:
        if token and self._store is not None and len(token) <= 128:
            with self._store.write() as tx:
                tx.sessions.remove(token_hash(token))


def _opened(stored: StoredSession, apikey: str) -> WebSession:
    return WebSession(
        token_hash=stored.token_hash,
        apikey=apikey,
        csrf=stored.csrf,
        user_id=stored.user_id,
        username=stored.username,
        roles=stored.roles,
        expires_at=stored.expires_at,
    )
