"""Builders for small test records."""

from __future__ import annotations

from typing import Any

from modelref.domain.categories import Category
from modelref.domain.records import RecordBase, parse_record


def image_record(name: str = "Test Model", **fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": name,
        "baseline": "stable_diffusion_xl",
        "nsfw": False,
        "description": "A test model",
        "config": {
            "download": [
                {
                    "file_name": f"{name}.safetensors",
                    "file_url": f"https://huggingface.co/test/{name}.safetensors",
                    "sha256sum": "a" * 64,
                }
            ]
        },
    }
    document.update(fields)
    return document


def text_record(name: str = "Org/Test-7B", parameters: int = 7_000_000_000, **fields: Any) -> dict[str, Any]:
    return {"name": name, "parameters": parameters, **fields}


def record(category: Category, document: dict[str, Any]) -> RecordBase:
    return parse_record(category, document)
