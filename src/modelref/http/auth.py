"""The ``apikey`` header and the roles behind it (API.md §1.4)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from modelref.services.auth import Auth

api_key_header = APIKeyHeader(name="apikey", description="Your AI-Horde API key.")

ApiKey = Annotated[str, Security(api_key_header)]
"""The caller's key (a missing header is 401 "Not authenticated" before anything else)."""


def _auth(request: Request) -> Auth:
    return request.app.state.auth  # type: ignore[no-any-return]


AuthDep = Annotated[Auth, Depends(_auth)]
