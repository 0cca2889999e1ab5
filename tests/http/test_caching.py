from __future__ import annotations

import gzip

import brotli
import httpx
import pytest

pytestmark = pytest.mark.anyio

IMAGE = "/api/model_references/v2/image_generation"


async def test_etag_and_conditional_get(client: httpx.AsyncClient) -> None:
    first = await client.get(IMAGE, headers={"accept-encoding": "identity"})
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert first.headers["cache-control"] == "public, no-cache"
    assert "Accept-Encoding" in first.headers["vary"]
    assert first.headers["last-modified"].endswith("GMT")
    again = await client.get(IMAGE, headers={"if-none-match": etag, "accept-encoding": "identity"})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    changed = await client.get(IMAGE, headers={"if-none-match": '"something-else"', "accept-encoding": "identity"})
    assert changed.status_code == 200
    since = await client.get(IMAGE, headers={"if-modified-since": first.headers["last-modified"]})
    assert since.status_code == 304


async def test_a_compressed_etag_validates_too(client: httpx.AsyncClient) -> None:
    compressed = await client.get(IMAGE, headers={"accept-encoding": "gzip"})
    assert compressed.headers["etag"].endswith('-gz"')
    revalidated = await client.get(
        IMAGE, headers={"accept-encoding": "gzip", "if-none-match": compressed.headers["etag"]}
    )
    assert revalidated.status_code == 304


@pytest.mark.parametrize(("encoding", "decode"), [("gzip", gzip.decompress), ("br", brotli.decompress)])
async def test_compression_when_accepted(client: httpx.AsyncClient, encoding: str, decode: object) -> None:
    plain = await client.get(IMAGE, headers={"accept-encoding": "identity"})
    response = await client.get(IMAGE, headers={"accept-encoding": encoding})
    assert response.headers["content-encoding"] == encoding
    raw = await response.aread()
    assert response.json() == plain.json()
    assert int(response.headers["content-length"]) < len(plain.content) / 3
    assert raw  # httpx decoded it; the size above proves it travelled compressed


async def test_brotli_preferred_and_q0_refused(client: httpx.AsyncClient) -> None:
    both = await client.get(IMAGE, headers={"accept-encoding": "gzip, br"})
    assert both.headers["content-encoding"] == "br"
    refused = await client.get(IMAGE, headers={"accept-encoding": "br;q=0, gzip;q=0"})
    assert "content-encoding" not in refused.headers


async def test_head_has_headers_and_no_body(client: httpx.AsyncClient) -> None:
    get = await client.get(IMAGE, headers={"accept-encoding": "identity"})
    head = await client.head(IMAGE, headers={"accept-encoding": "identity"})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-length"] == str(len(get.content))


async def test_single_model_and_search_are_cacheable_too(client: httpx.AsyncClient) -> None:
    for path in (f"{IMAGE}/model/Deliberate", f"{IMAGE}/search?limit=5", "/api/model_references/v1/clip"):
        response = await client.get(path)
        assert response.status_code == 200, path
        again = await client.get(path, headers={"if-none-match": response.headers["etag"]})
        assert again.status_code == 304, path


async def test_cors_for_allowed_origins_only(client: httpx.AsyncClient) -> None:
    allowed = await client.get(IMAGE, headers={"origin": "https://ui.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://ui.example"
    other = await client.get(IMAGE, headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = await client.options(
        IMAGE, headers={"origin": "https://ui.example", "access-control-request-method": "GET"}
    )
    assert preflight.status_code == 200


async def test_docs_work_offline(client: httpx.AsyncClient) -> None:
    for page in ("/api/docs", "/api/redoc"):
        html = (await client.get(page)).text
        assert "cdn" not in html.lower()
        assets = [part.split('"')[0] for part in html.split('src="')[1:]] + [
            part.split('"')[0] for part in html.split('href="')[1:]
        ]
        assert assets
        for asset in assets:
            assert asset.startswith("/api/static-offline-docs/"), asset
            assert (await client.get(asset)).status_code == 200


async def test_openapi_document(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == "Horde Model Reference API"
    assert document["servers"][0] == {"url": "/api"}
    schemas = document["components"]["schemas"]
    for name in (
        "ImageGenerationModelRecord",
        "TextGenerationModelRecord",
        "ClipModelRecord",
        "ErrorResponse",
        "SearchResponse",
    ):
        assert name in schemas
    operation_ids = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    for expected in (
        "read_v2_reference",
        "read_v2_single_model",
        "read_v2_references_names",
        "read_v2_reference_api_info",
        "read_v2_image_generation_all",
        "read_v2_clip_one",
        "read_v2_category_statistics",
        "read_v2_last_updated",
        "read_v2_category_last_updated",
        "read_all_v2_metadata",
        "read_v2_category_metadata",
        "read_legacy_reference",
        "read_legacy_text_generation_reference",
        "read_legacy_last_updated",
    ):
        assert expected in operation_ids
    typed = document["paths"]["/model_references/v2/clip/model/{model_name}"]["get"]
    assert typed["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ClipModelRecord"
    }
