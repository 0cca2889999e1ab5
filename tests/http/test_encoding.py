from __future__ import annotations

import gzip

import brotli

from modelref.http.encoding import Blob, encode, render


def test_encode_compresses_large_bodies_once_and_tags_by_content() -> None:
    body = b'{"x": "' + b"y" * 5000 + b'"}'
    blob = encode(body)
    assert blob.encoded("gzip") is blob.encoded("gzip")
    assert gzip.decompress(blob.encoded("gzip")) == body
    assert brotli.decompress(blob.encoded("br")) == body
    assert encode(b"same").etag == encode(b"same").etag != encode(b"other").etag


def test_render_answers_304_for_a_matching_etag_in_any_encoding() -> None:
    blob = encode(b"[" + b"1," * 1000 + b"1]")
    status, headers, _ = render(blob, accept_encoding="gzip")
    assert status == 200
    assert dict(headers)[b"content-encoding"] == b"gzip"
    etag = dict(headers)[b"etag"].decode()
    assert etag.endswith('-gz"')
    assert render(blob, if_none_match=etag)[0] == 304
    assert render(blob, if_none_match='"other"')[0] == 200


def test_small_bodies_are_never_compressed() -> None:
    status, headers, body = render(Blob(b"{}", "tag"), accept_encoding="br, gzip")
    assert status == 200
    assert b"content-encoding" not in dict(headers)
    assert body == b"{}"
