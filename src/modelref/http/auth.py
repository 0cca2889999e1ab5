"""Who may call: the ``apikey`` header and, per API version, the role a route needs (API.md §1.4).

A dependency only hands the service an ``Authorizer``; the key is resolved when the service reaches
that step, so the order of checks of API.md §1.6 holds and a bad body never costs an AI-Horde call. A
missing header is 401 "Not authenticated" before anything else (FastAPI's security scheme).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Security
from fastapi.security import APIKeyHeader

from modelref.domain.formats import Format
from modelref.http.deps import ServicesDep
from modelref.services.auth import Authorizer, Role

api_key_header = APIKeyHeader(name="apikey", description="Your AI-Horde API key.")

ApiKey = Annotated[str, Security(api_key_header)]


def _caller(role: Role, api: Format) -> Callable[[ServicesDep, ApiKey], Coroutine[Any, Any, Authorizer]]:
    async def dependency(services: ServicesDep, apikey: ApiKey) -> Authorizer:
        return Authorizer(services.auth, apikey, role, api)

    return dependency


def requestor(api: Format) -> Callable[[ServicesDep, ApiKey], Coroutine[Any, Any, Authorizer]]:
    """The requestor-role dependency of one API version's routes."""
    return _caller(Role.REQUESTOR, api)


def approver(api: Format) -> Callable[[ServicesDep, ApiKey], Coroutine[Any, Any, Authorizer]]:
    """The approver-role dependency of one API version's routes (the queue is mounted under both)."""
    return _caller(Role.APPROVER, api)


ReaderDep = Annotated[Authorizer, Depends(_caller(Role.READER, Format.V2))]
"""Any valid key (``me/roles``)."""
RequestorDep = Annotated[Authorizer, Depends(requestor(Format.V2))]
ApproverDep = Annotated[Authorizer, Depends(approver(Format.V2))]
LegacyRequestorDep = Annotated[Authorizer, Depends(requestor(Format.LEGACY))]
