"""Web UI sessions (one row per signed-in browser, found by the hash of its cookie's token)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelref.domain.sessions import StoredSession
from modelref.storage.tables import web_sessions as _s


class SessionTable:
    """Sessions on one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, session: StoredSession) -> None:
        self.conn.execute(
            _s.insert().values(
                token_hash=session.token_hash,
                sealed_key=session.sealed_key,
                csrf=session.csrf,
                user_id=session.user_id,
                username=session.username,
                roles=",".join(session.roles),
                expires_at=session.expires_at,
            )
        )

    def find(self, token_hash: str, now: float) -> StoredSession | None:
        """The session of that token, unless it has expired."""
        row = self.conn.execute(sa.select(_s).where(_s.c.token_hash == token_hash, _s.c.expires_at > now)).first()
        if row is None:
            return None
        return StoredSession(
            token_hash=row.token_hash,
            sealed_key=row.sealed_key,
            csrf=row.csrf,
            user_id=row.user_id,
            username=row.username,
            roles=tuple(r for r in row.roles.split(",") if r),
            expires_at=row.expires_at,
        )

    def remove(self, token_hash: str) -> None:
        self.conn.execute(_s.delete().where(_s.c.token_hash == token_hash))

    def expire(self, now: float) -> int:
        """Forget every session that has expired; how many."""
        return int(self.conn.execute(_s.delete().where(_s.c.expires_at <= now)).rowcount or 0)
