"""The services of one app, and the dependencies that hand them to routes.

``create_app``'s lifespan builds one ``Services`` and puts it on ``app.state.services``; ``services()`` is
the one place that reads it. Routes take the ``Annotated`` aliases below, so a signature reads like a
sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import State

from modelref.client.replica import Replica
from modelref.domain.deployment import Deployment
from modelref.errors import Unavailable
from modelref.http.encoding import Blob
from modelref.services.apply import Applier
from modelref.services.auth import Auth
from modelref.services.breaker import CircuitBreaker
from modelref.services.catalog import Catalog
from modelref.services.history import History
from modelref.services.live import Live
from modelref.services.proposals import Proposals
from modelref.services.reads import Reads
from modelref.services.review import Review
from modelref.services.textmeta import Aliases, Families, Schemas
from modelref.services.textutils import TextTools
from modelref.web.site import Site


@dataclass(frozen=True, slots=True)
class Services:
    deployment: Deployment
    catalog: Catalog[Blob]
    reads: Reads[Blob]
    proposals: Proposals
    review: Review
    history: History
    applier: Applier
    auth: Auth
    breaker: CircuitBreaker
    live: Live
    text: TextTools
    aliases: Aliases
    families: Families
    schemas: Schemas
    site: Site
    replica: Replica | None = None
    """The REPLICA's sources (None on a PRIMARY)."""


def services_of(state: State) -> Services | None:
    """The app's services, or None before start-up has finished."""
    found = getattr(state, "services", None)
    return found if isinstance(found, Services) else None


async def services(request: Request) -> Services:
    found = services_of(request.app.state)
    if found is None:
        raise Unavailable("The service is starting; try again in a moment.", retry_after=1)
    return found


ServicesDep = Annotated[Services, Depends(services)]


async def _reads(request: Request) -> Reads[Blob]:
    return (await services(request)).reads


async def _deployment(request: Request) -> Deployment:
    return (await services(request)).deployment


async def _live(request: Request) -> Live:
    return (await services(request)).live


ReadsDep = Annotated[Reads[Blob], Depends(_reads)]


async def _text(request: Request) -> TextTools:
    return (await services(request)).text


LiveDep = Annotated[Live, Depends(_live)]
TextToolsDep = Annotated[TextTools, Depends(_text)]
DeploymentDep = Annotated[Deployment, Depends(_deployment)]
