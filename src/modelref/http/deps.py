"""Dependencies as ``Annotated`` aliases, so a route's signature reads like a sentence."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from modelref.domain.deployment import Deployment
from modelref.services.apply import Applier
from modelref.services.breaker import CircuitBreaker
from modelref.services.reads import Reads
from modelref.services.review import Review


def _reads(request: Request) -> Reads:
    return request.app.state.reads  # type: ignore[no-any-return]


def _deployment(request: Request) -> Deployment:
    return request.app.state.deployment  # type: ignore[no-any-return]


def _breaker(request: Request) -> CircuitBreaker:
    return request.app.state.horde_breaker  # type: ignore[no-any-return]


ReadsDep = Annotated[Reads, Depends(_reads)]
DeploymentDep = Annotated[Deployment, Depends(_deployment)]
BreakerDep = Annotated[CircuitBreaker, Depends(_breaker)]


def _review(request: Request) -> Review:
    return request.app.state.review  # type: ignore[no-any-return]


def _applier(request: Request) -> Applier:
    return request.app.state.applier  # type: ignore[no-any-return]


ReviewDep = Annotated[Review, Depends(_review)]
ApplierDep = Annotated[Applier, Depends(_applier)]
