"""The bare-ASGI ceiling: no framework, the same pre-built answers for the same requests.

Loaded by bench/reads.py with CEILING_CASES pointing at the answers it captured from modelref.
"""

import base64
import json
import os

with open(os.environ["CEILING_CASES"]) as handle:
    TABLE = {
        (case["target"], case["variant"]): (
            case["status"],
            [(k.encode(), v.encode()) for k, v in case["headers"]],
            base64.b64decode(case["body"]),
        )
        for case in json.load(handle)
    }


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    headers = dict(scope["headers"])
    variant = (
        "etag" if b"if-none-match" in headers else "gzip" if b"gzip" in headers.get(b"accept-encoding", b"") else ""
    )
    query = scope["query_string"].decode()
    status, response_headers, body = TABLE[(scope["raw_path"].decode() + ("?" + query if query else ""), variant)]
    await send({"type": "http.response.start", "status": status, "headers": response_headers})
    await send({"type": "http.response.body", "body": body})
