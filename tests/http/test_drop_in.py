"""What a client written against the existing service (horde-model-reference 8.6.2) relies on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelref.http.app import create_app
from modelref.http.passthrough import TABLE
from tests.support import APPROVER, REQUESTOR, make_settings, running

pytestmark = pytest.mark.anyio

V2 = "/api/model_references/v2"
V1 = "/api/model_references/v1"


@pytest.fixture(scope="module")
async def schema(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def test_sdk_class_names_are_the_existing_services(schema: dict[str, Any]) -> None:
    names = set(schema["components"]["schemas"])
    expected = {
        "ControlNetModelRecord",
        "TextualInversionModelRecord",
        "ImageGenerationModelRecord",
        "MODEL_REFERENCE_CATEGORY",
        "MODEL_DOMAIN",
        "MODEL_PURPOSE",
        "GenericModelRecordMetadata",
        "GenericModelRecordConfig",
        "AIHordeStatus",
        "BaselineStats",
        "TagStats",
        "ParameterBucketStats",
        "PendingChangeRecord",
        "PendingChangeStatus",
        "AuditOperation",
        "CanonicalFormat",
        "PendingBatchRequest",
        "PendingBatchResult",
        "PurgePendingChangesRequest",
        "PurgePendingChangesResponse",
        "ApplyPendingChangeRequest",
        "ApplyPendingChangesRequest",
        "ApplySingleChangeResponse",
        "ApplyPendingChangesResponse",
        "PendingQueuePage",
        "PendingChangeDiff",
        "PendingChangeDiffPage",
        "PendingQueueAuditBatchPage",
        "BatchNetChangeResponse",
        "UserRolesResponse",
        "FieldChangeType",
        "NetChangeType",
        "ErrorResponse",
    }
    assert expected <= names, sorted(expected - names)
    assert not names & {"Category", "ControlnetModelRecord", "TiModelRecord", "Format", "ChangeStatus"}
    refs = str(schema)
    assert "#/components/schemas/Category'" not in refs  # every reference follows the rename


@pytest.mark.parametrize(
    ("method", "path", "operation_id", "first_tag"),
    [
        ("get", "/model_references/v2/{model_category_name}", "read_v2_reference", "v2"),
        ("get", "/model_references/v2/{model_category_name}/model/{model_name}", "read_v2_single_model", "v2"),
        ("post", "/model_references/v2/{model_category_name}/add", "create_v2_model", "v2"),
        ("get", "/model_references/v2/controlnet/model/{model_name}", "read_v2_controlnet_one", "v2"),
        (
            "get",
            "/model_references/v2/{model_category_name}/search",
            "search_category_model_references_v2__model_category_name__search_get",
            "v2",
        ),
        (
            "get",
            "/model_references/v2/pending_queue/changes",
            "list_pending_changes_model_references_v2_pending_queue_changes_get",
            "v2",
        ),
        (
            "post",
            "/model_references/v1/pending_queue/changes/{change_id}/apply",
            "apply_pending_change_endpoint_model_references_v1_pending_queue_changes__change_id__apply_post",
            "v1",
        ),
        ("get", "/model_references/v2/me/roles", "get_current_user_roles_model_references_v2_me_roles_get", "v2"),
        ("get", "/model_references/statistics/{model_category_name}", "read_v2_category_statistics", "v2"),
        ("get", "/model_references/v2/{model_category_name}/pending", "read_v2_reference_pending", "v2"),
        ("get", "/heartbeat", "heartbeat_heartbeat_get", "default"),
        ("get", "/replicate_mode", "replicate_mode_replicate_mode_get", "default"),
    ],
)
async def test_sdk_method_names_are_the_existing_services(
    schema: dict[str, Any], method: str, path: str, operation_id: str, first_tag: str
) -> None:
    operation = schema["paths"][path][method]
    assert operation["operationId"] == operation_id
    assert operation["tags"][0] == first_tag


async def test_every_operation_documents_its_success_body_and_its_422(schema: dict[str, Any]) -> None:
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            status, success = next(((s, r) for s, r in responses.items() if s.startswith("2")), ("", None))
            assert success is not None, (method, path)
            if status == "204":  # no content (a deletion)
                assert "content" not in success, (method, path)
            else:
                schema_of_success = success.get("content", {}).get("application/json", {}).get("schema")
                assert schema_of_success, (method, path)  # typed, never an empty {}
            if "422" in responses:
                body = responses["422"]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path)
    write = schema["paths"]["/model_references/v2/blip"]["post"]["responses"]
    assert write["202"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PendingChangeRecord"}


async def test_model_categories_is_cacheable_like_every_read(client: httpx.AsyncClient) -> None:
    for version in (V2, V1):
        first = await client.get(f"{version}/model_categories")
        again = await client.get(f"{version}/model_categories", headers={"if-none-match": first.headers["etag"]})
        assert again.status_code == 304


async def test_a_model_route_without_a_name_is_a_plain_404(client: httpx.AsyncClient) -> None:
    for path in (f"{V2}/image_generation/model", f"{V2}/image_generation/model/", f"{V2}/clip/model"):
        response = await client.get(path)
        assert response.status_code == 404
        assert "location" not in response.headers


async def test_a_405_lists_every_method_the_path_allows(client: httpx.AsyncClient) -> None:
    for path, allowed in (
        (f"{V2}/image_generation", "GET, HEAD, POST"),
        (f"{V2}/clip/model/ViT-L/14", "GET, HEAD, PUT, DELETE"),
        (f"{V1}/clip", "GET, HEAD, POST, PUT"),
        (f"{V2}/info", "GET, HEAD"),
    ):
        response = await client.patch(path)
        assert response.status_code == 405
        assert response.headers["allow"] == allowed


@pytest.mark.parametrize(
    ("method", "path", "status", "detail"),
    [
        ("POST", f"{V2}/bogus", 422, "Input should be 'image_generation'"),
        ("GET", f"{V2}/bogus/search", 422, "Unknown category 'bogus'. Valid: ["),
        ("GET", f"{V2}/bogus/model/x", 422, "Input should be 'image_generation'"),
        ("GET", "/api/model_references/statistics/bogus", 422, "Input should be 'image_generation'"),
        ("GET", f"{V2}/metadata/bogus", 422, "Input should be 'image_generation'"),
        ("GET", f"{V1}/bogus", 422, "'bogus' is not a valid MODEL_REFERENCE_CATEGORY"),
        ("GET", f"{V2}/bogus", 404, "Model category 'bogus' not found"),  # decision 1
        ("GET", f"{V2}/lora/search", 200, ""),  # known but empty: not unknown
        ("GET", f"{V1}/lora", 200, ""),
    ],
)
async def test_unknown_categories(client: httpx.AsyncClient, method: str, path: str, status: int, detail: str) -> None:
    response = await client.request(method, path, json={"name": "x"}, headers=REQUESTOR)
    assert response.status_code == status
    assert detail in response.text


async def test_pending_beta_models_are_for_approvers(writer: httpx.AsyncClient) -> None:
    proposed = await writer.post(f"{V2}/blip", json={"name": "Beta"}, headers=REQUESTOR)
    deleted = await writer.delete(f"{V2}/blip/model/BLIP", headers=REQUESTOR)
    assert (proposed.status_code, deleted.status_code) == (202, 202)
    beta = await writer.get(f"{V2}/blip/pending", headers=APPROVER)
    assert beta.status_code == 200
    assert list(beta.json()) == ["Beta"]  # a delete never surfaces
    assert beta.json()["Beta"]["record_type"] == "blip"
    assert (await writer.get(f"{V2}/blip/pending", headers=REQUESTOR)).status_code == 401
    assert (await writer.get(f"{V2}/blip/pending")).status_code == 401


# -- the fast path and the routes answer every passthrough read alike ------------------------------------------

SAMPLES = {
    "/model_references/v2/model_categories": [""],
    "/model_references/v1/model_categories": [""],
    "/model_references/v2/metadata/last_updated": [""],
    "/model_references/v2/search": ["?name_contains=llama&limit=5", "?nsfw=true&sort_by=name&sort_desc=true"],
    "/model_references/v2/{category}/search": ["image_generation?baseline=flux_1&limit=3", "clip?tags_none=x"],
    "/model_references/v2/{category}/model/{name:rest}": [
        "clip/model/ViT-L/14",
        "text_generation/model/ReadyArt/Broken-Tutu-24B",
        "controlnet/model/control_qr_sdxl",
    ],
    "/model_references/v2/{category}": ["image_generation", "text_generation", "blip"],
    "/model_references/v1/text_generation": ["", "?include_group=true", "?include_group=false"],
    "/model_references/v1/{category}": [
        "stable_diffusion",
        "db.json",
        "clip.json",
        "lora",
        "db.json?include_group=true",  # only the text route groups; the category read answers db.json
    ],
    "/model_references/statistics/{category}": ["image_generation", "text_generation?group_text_models=true&limit=3"],
}
HEADER_SETS = [{"accept-encoding": "identity"}, {"accept-encoding": "gzip"}, {"accept-encoding": "br"}]


@pytest.fixture(scope="module")
async def both_paths(seeded_database: Path) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    settings = make_settings(seeded_database)
    async for fast in running(create_app(settings)):
        async for routed in running(create_app(settings, fast_path=False)):
            yield fast, routed


def _url(template: str, sample: str) -> str:
    if not sample or sample.startswith("?"):
        return "/api" + template + sample
    prefix = template.split("{", 1)[0]
    return "/api" + prefix + sample


async def test_every_passthrough_read_is_in_the_samples() -> None:
    assert {read.path for read in TABLE} == set(SAMPLES)


@pytest.mark.parametrize("template", sorted(SAMPLES))
async def test_fast_path_and_routes_give_the_same_answer(
    both_paths: tuple[httpx.AsyncClient, httpx.AsyncClient], template: str
) -> None:
    fast, routed = both_paths
    for sample in SAMPLES[template]:
        url = _url(template, sample)
        for headers in HEADER_SETS:
            for method in ("GET", "HEAD"):
                a = await fast.request(method, url, headers=headers)
                b = await routed.request(method, url, headers=headers)
                assert a.status_code == b.status_code == 200, (url, a.status_code, b.status_code)
                assert _headers(a) == _headers(b), url
                assert a.content == b.content, url
            etag = a.headers["etag"]
            for client in (fast, routed):
                revalidated = await client.get(url, headers={**headers, "if-none-match": etag})
                assert revalidated.status_code == 304, url


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in ("date", "server")}
