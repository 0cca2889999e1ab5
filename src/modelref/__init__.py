"""modelref: the AI-Horde model reference as typed records, reference files and a service.

``import modelref`` has no side effects: it reads no environment, touches no disk and imports no web
stack or database driver.
"""

from modelref.client.reference import ModelReference
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
