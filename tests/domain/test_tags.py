from __future__ import annotations

import orjson

from modelref.domain.tags import bare_tag, catalog_tag, content_tag, v2_body


def test_the_v2_body_is_the_documents_in_order() -> None:
    documents = {"b/1": {"name": "b/1", "x": [1, 2.5]}, "a": {"name": "a", "é": None}}
    body = v2_body((name, orjson.dumps(document)) for name, document in documents.items())
    assert list(orjson.loads(body).items()) == list(documents.items())
    assert v2_body([]) == b"{}"


def test_a_tag_is_read_back_from_any_etag_spelling() -> None:
    tag = content_tag(b"{}")
    for value in (f'"{tag}"', f'W/"{tag}"', f'"{tag}-gz"', f'"{tag}-br"', f' "{tag}" '):
        assert bare_tag(value) == tag
    assert catalog_tag([tag, tag]) != catalog_tag([tag])
