"""modelref: the AI-Horde model reference as typed records, reference files and a service.

``import modelref`` has no side effects: it reads no environment, touches no disk and imports no web
stack or database driver.
"""

from typing import TYPE_CHECKING

from modelref.domain.categories import Category, ModelDomain, ModelPurpose
from modelref.domain.records import (
    AnyRecord,
    AudioGenerationModelRecord,
    BlipModelRecord,
    ClipModelRecord,
    CodeformerModelRecord,
    ControlNetModelRecord,
    DownloadRecord,
    EsrganModelRecord,
    GfpganModelRecord,
    ImageGenerationModelRecord,
    LoraModelRecord,
    MiscellaneousModelRecord,
    RecordBase,
    SafetyCheckerModelRecord,
    TextGenerationModelRecord,
    TextualInversionModelRecord,
    VideoGenerationModelRecord,
    parse_record,
)
from modelref.errors import (
    AlreadyExists,
    EmptyCategory,
    Forbidden,
    InvalidRecord,
    InvalidSource,
    ModelRefError,
    NameMismatch,
    NotFound,
    NotWritable,
    Unauthorized,
    Unavailable,
)

if TYPE_CHECKING:
    from modelref.client.reference import ModelReference


def __getattr__(name: str) -> object:
    """``ModelReference`` is imported on first use: code that only needs the records does not load httpx."""
    if name == "ModelReference":
        from modelref.client.reference import ModelReference

        return ModelReference
    raise AttributeError(f"module 'modelref' has no attribute {name!r}")


__all__ = [
    "AlreadyExists",
    "AnyRecord",
    "AudioGenerationModelRecord",
    "BlipModelRecord",
    "Category",
    "ClipModelRecord",
    "CodeformerModelRecord",
    "ControlNetModelRecord",
    "DownloadRecord",
    "EmptyCategory",
    "EsrganModelRecord",
    "Forbidden",
    "GfpganModelRecord",
    "ImageGenerationModelRecord",
    "InvalidRecord",
    "InvalidSource",
    "LoraModelRecord",
    "MiscellaneousModelRecord",
    "ModelDomain",
    "ModelPurpose",
    "ModelRefError",
    "ModelReference",
    "NameMismatch",
    "NotFound",
    "NotWritable",
    "RecordBase",
    "SafetyCheckerModelRecord",
    "TextGenerationModelRecord",
    "TextualInversionModelRecord",
    "Unauthorized",
    "Unavailable",
    "VideoGenerationModelRecord",
    "parse_record",
]
