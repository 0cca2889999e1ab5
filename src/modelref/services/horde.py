"""The AI-Horde API client: who owns an API key (DATA.md §15), behind the circuit breaker.

Keys are never logged or kept: the cache is keyed by a SHA-256 of the key.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

import httpx

from modelref.errors import Unavailable
from modelref.services.breaker import CircuitBreaker


@dataclass(frozen=True, slots=True)
class HordeUser:
    user_id: str
    username: str


class HordeClient:
    """Resolve API keys through ``GET {base_url}v2/find_user``, caching answers for *ttl* seconds."""

    def __init__(
        self,
        base_url: str,
        breaker: CircuitBreaker,
        *,
        timeout: float = 10.0,
        ttl: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.breaker = breaker
        self.ttl = ttl
        self._client = httpx.Client(timeout=timeout, transport=transport)
        self._cache: dict[str, tuple[float, HordeUser | None]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def find_user(self, apikey: str) -> HordeUser | None:
        """The user owning *apikey*, or None when the AI-Horde does not know the key.

        Raises Unavailable when the AI-Horde cannot be asked (timeout, connection error, 5xx, or the
        circuit breaker is open).
        """
        digest = hashlib.sha256(apikey.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        user = self._ask(apikey)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, user)
        return user

    def _ask(self, apikey: str) -> HordeUser | None:
        if not self.breaker.allow():
            raise Unavailable("Auth service unavailable (AI-Horde is failing; retrying later)")
        try:
            response = self._client.get(f"{self.base_url}v2/find_user", headers={"apikey": apikey})
        except httpx.TimeoutException:
            self.breaker.failure()
            raise Unavailable("Auth service timed out") from None
        except httpx.HTTPError:
            self.breaker.failure()
            raise Unavailable("Auth service unavailable") from None
        if response.status_code >= 500 or response.status_code == 429:
            self.breaker.failure()
            raise Unavailable(f"Auth service unavailable (AI-Horde answered {response.status_code})")
        self.breaker.success()
        if response.status_code != 200:
            return None
        try:
            username = response.json().get("username")
        except (ValueError, AttributeError):
            return None
        if not isinstance(username, str) or "#" not in username:
            return None
        return HordeUser(user_id=username.rsplit("#", 1)[1], username=username)
