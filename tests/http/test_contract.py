"""The service keeps its own OpenAPI contract: schemathesis over every operation of a running service.

A short run (a few generated requests per operation, positive and negative) against a real uvicorn server
on a private copy of the real data, with a fake AI-Horde so that keys authenticate: once without a key (the
generator then sends made-up keys, or none) and once with the approver's key (who is also a requestor).
Every response must be no 5xx (but the deployment guards' documented 503 for the operations a v2-canonical
PRIMARY does not serve: the v1 writes, queue and metadata), carry a documented status and content type, and
match its documented schema (body and headers). Writes only queue pending changes on the private copy. The long run is
``scripts/contract``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from modelref.http.app import create_app
from tests.support import (
    APPROVER,
    KEYS,
    FakeHorde,
    live_server,
    no_server_error_but_guards,
    realistic_usage,
    reference_documents,
    writable_settings,
)

CHECKS = [
    schemathesis.check(no_server_error_but_guards),
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 5
"""Generated requests per operation and phase, per key (the long run in scripts/contract uses many more)."""

CALLERS: dict[str, dict[str, str]] = {"anonymous": {}, "approver": APPROVER}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, seeded_database: Path) -> Iterator[str]:
    """A live v2-canonical PRIMARY on a private copy of the real data, with a fake AI-Horde; its base URL."""
    with FakeHorde(KEYS, usage=realistic_usage(reference_documents())) as horde:
        settings = writable_settings(tmp_path_factory.mktemp("contract"), seeded_database, horde)
        with live_server(create_app(settings)) as base:
            yield base


@pytest.fixture(params=list(CALLERS))
def contract(request: pytest.FixtureRequest, service: str) -> schemathesis.BaseSchema:
    """The service's own OpenAPI, loaded from it, sending the caller's key (if any) with every request."""
    config = schemathesis.Config.from_dict(
        {
            "headers": CALLERS[request.param],
            "generation": {"mode": "all", "max-examples": EXAMPLES},
            # The coverage phase's deterministic cases (hundreds per operation) belong to the long run.
            "phases": {"examples": {"enabled": True}, "fuzzing": {"enabled": True}, "coverage": {"enabled": False}},
            "cache": {"enabled": False},
        }
    )
    return schemathesis.openapi.from_url(f"{service}/api/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("contract")


@pytest.fixture(autouse=True)
def _item_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's lazy-schema runner reads and renames the item's private ``_nodeid``, which pytest
    9.2 no longer has: give it one (each operation is still reported as its own subtest, by its label)."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(checks=CHECKS, timeout=30)
