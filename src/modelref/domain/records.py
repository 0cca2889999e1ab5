"""Typed v2 records, one class per category (DATA.md §4).

Stored documents are ``record.to_document()``: by alias, nulls omitted, in field order.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Self, TypeAlias

import orjson
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from modelref.domain.categories import CATEGORY_INFO, Category, ModelDomain, ModelPurpose

SCHEMA_VERSION = "2.0.0"
MAX_NAME_LENGTH = 255
"""Longest model name accepted (the longest real name is far shorter; indexes stay small)."""
UNKNOWN_SHA256 = "FIXME"  # the data contract's own word for "no checksum known" (DATA.md §4.2)

Scalar: TypeAlias = int | float | str | bool
SettingValue: TypeAlias = Scalar | list[int] | list[float] | list[str]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, validate_assignment=False)


class DownloadRecord(_Model):
    """One file a worker downloads."""

    file_name: str
    file_url: str
    sha256sum: str = UNKNOWN_SHA256
    content_hash: str | None = None
    file_purpose: str | None = None
    known_slow_download: bool | None = None
    size_bytes: int | None = None
    md5sum: str | None = None


class RecordConfig(_Model):
    download: list[DownloadRecord] = Field(default_factory=list)
    embedded_component_hashes: dict[str, str] | None = None
    legacy_extra_files: list[dict[str, JsonValue]] | None = None
    """Legacy ``config.files`` entries that have no download (config YAMLs), kept verbatim."""


class RecordMetadata(_Model):
    schema_version: str = SCHEMA_VERSION
    created_at: int | None = None
    updated_at: int | None = None
    created_by: str | None = None
    updated_by: str | None = None


class ModelClassification(_Model):
    domain: ModelDomain
    purpose: ModelPurpose


class FineTuneSeriesInfo(_Model):
    name: str
    version: str | None = None
    author: str | None = None
    description: str | None = None
    homepage: str | None = None


def _trimmed_tags(value: list[str] | None) -> list[str] | None:
    return None if value is None else [tag.strip() for tag in value]


class RecordBase(_Model):
    """Fields every category shares."""

    category: ClassVar[Category]

    record_type: Category
    name: str
    description: str | None = None
    version: str | None = None
    finetune_series: FineTuneSeriesInfo | None = None
    metadata: RecordMetadata = Field(default_factory=RecordMetadata)
    config: RecordConfig = Field(default_factory=RecordConfig)
    model_classification: ModelClassification | None = None
    size_on_disk_bytes: int | None = None
    legacy_extras: dict[str, JsonValue] | None = None
    """Legacy top-level keys with no v2 field, kept verbatim so legacy → v2 → legacy loses nothing."""

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("name must not be empty or whitespace")
        if len(name) > MAX_NAME_LENGTH:
            raise ValueError(f"name must be at most {MAX_NAME_LENGTH} characters")
        if "\\" in name:
            raise ValueError("name must not contain a backslash")
        if "\x00" in name:
            raise ValueError("name must not contain a NUL character")
        return name

    @model_validator(mode="after")
    def _fill_classification(self) -> Self:
        if self.model_classification is None:
            info = CATEGORY_INFO[self.record_type]
            self.model_classification = ModelClassification(domain=info.domain, purpose=info.purpose)
        return self

    metadata_last: ClassVar[bool] = False
    """Whether ``metadata`` comes after the category's own fields (the existing service's image records)."""

    def to_document(self) -> dict[str, Any]:
        """Return the stored JSON document: by alias, nulls omitted, ``legacy_extras`` last."""
        document = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        tail = ("metadata", "legacy_extras") if self.metadata_last else ("legacy_extras",)
        for key in tail:
            if key in document:
                document[key] = document.pop(key)
        return document

    @property
    def declared_size(self) -> int | None:
        """Sum of the downloads' sizes when all declare one, else ``size_on_disk_bytes``."""
        sizes = [d.size_bytes for d in self.config.download]
        if sizes and all(s is not None for s in sizes):
            return sum(s for s in sizes if s is not None)
        return self.size_on_disk_bytes


class ImageGenerationModelRecord(RecordBase):
    category: ClassVar[Category] = Category.IMAGE_GENERATION
    metadata_last: ClassVar[bool] = True
    record_type: Literal[Category.IMAGE_GENERATION] = Category.IMAGE_GENERATION
    inpainting: bool | None = False
    baseline: str
    optimization: str | None = None
    tags: list[str] | None = Field(default_factory=list)
    showcases: list[str] | None = Field(default_factory=list)
    min_bridge_version: int | None = None
    trigger: list[str] | None = Field(default_factory=list)
    homepage: str | None = None
    nsfw: bool
    style: str | None = None
    requirements: dict[str, SettingValue] | None = None
    features_not_supported: list[str] | None = None

    _trim_tags = field_validator("tags")(_trimmed_tags)

    @field_validator("style")
    @classmethod
    def _trim_style(cls, style: str | None) -> str | None:
        return None if style is None else style.strip()


class TextGenerationModelRecord(RecordBase):
    category: ClassVar[Category] = Category.TEXT_GENERATION
    record_type: Literal[Category.TEXT_GENERATION] = Category.TEXT_GENERATION
    baseline: str | None = None
    parameters_count: int = Field(
        validation_alias=AliasChoices("parameters", "parameters_count"), serialization_alias="parameters"
    )
    nsfw: bool = False
    style: str | None = None
    display_name: str | None = None
    url: str | None = None
    tags: list[str] | None = Field(default_factory=list)
    instruct_format: str | None = None
    settings: dict[str, SettingValue] | None = None
    text_model_group: str | None = None
    name_schema_exception: str | None = None

    _trim_tags = field_validator("tags")(_trimmed_tags)

    @field_validator("description", "version", "baseline", "style", "display_name", "url", "instruct_format")
    @classmethod
    def _empty_is_absent(cls, value: str | None) -> str | None:
        # models.csv and older stored documents use "" for "no value".
        return value or None


class ClipModelRecord(RecordBase):
    category: ClassVar[Category] = Category.CLIP
    record_type: Literal[Category.CLIP] = Category.CLIP
    pretrained_name: str | None = None


class ControlNetModelRecord(RecordBase):
    category: ClassVar[Category] = Category.CONTROLNET
    record_type: Literal[Category.CONTROLNET] = Category.CONTROLNET
    controlnet_style: str | None = None


class BlipModelRecord(RecordBase):
    category: ClassVar[Category] = Category.BLIP
    record_type: Literal[Category.BLIP] = Category.BLIP


class EsrganModelRecord(RecordBase):
    category: ClassVar[Category] = Category.ESRGAN
    record_type: Literal[Category.ESRGAN] = Category.ESRGAN


class GfpganModelRecord(RecordBase):
    category: ClassVar[Category] = Category.GFPGAN
    record_type: Literal[Category.GFPGAN] = Category.GFPGAN


class CodeformerModelRecord(RecordBase):
    category: ClassVar[Category] = Category.CODEFORMER
    record_type: Literal[Category.CODEFORMER] = Category.CODEFORMER


class SafetyCheckerModelRecord(RecordBase):
    category: ClassVar[Category] = Category.SAFETY_CHECKER
    record_type: Literal[Category.SAFETY_CHECKER] = Category.SAFETY_CHECKER


class MiscellaneousModelRecord(RecordBase):
    category: ClassVar[Category] = Category.MISCELLANEOUS
    record_type: Literal[Category.MISCELLANEOUS] = Category.MISCELLANEOUS


class _MediaFields(RecordBase):
    baseline: str | None = None
    nsfw: bool = False
    tags: list[str] | None = None

    _trim_tags = field_validator("tags")(_trimmed_tags)


class VideoGenerationModelRecord(_MediaFields):
    category: ClassVar[Category] = Category.VIDEO_GENERATION
    record_type: Literal[Category.VIDEO_GENERATION] = Category.VIDEO_GENERATION


class AudioGenerationModelRecord(_MediaFields):
    category: ClassVar[Category] = Category.AUDIO_GENERATION
    record_type: Literal[Category.AUDIO_GENERATION] = Category.AUDIO_GENERATION


class _AdapterFields(_MediaFields):
    trigger: list[str] | None = None
    homepage: str | None = None
    showcases: list[str] | None = None


class LoraModelRecord(_AdapterFields):
    category: ClassVar[Category] = Category.LORA
    record_type: Literal[Category.LORA] = Category.LORA


class TextualInversionModelRecord(_AdapterFields):
    category: ClassVar[Category] = Category.TI
    record_type: Literal[Category.TI] = Category.TI


RECORD_CLASSES: dict[Category, type[RecordBase]] = {
    cls.category: cls
    for cls in (
        ImageGenerationModelRecord,
        TextGenerationModelRecord,
        ClipModelRecord,
        ControlNetModelRecord,
        BlipModelRecord,
        EsrganModelRecord,
        GfpganModelRecord,
        CodeformerModelRecord,
        SafetyCheckerModelRecord,
        VideoGenerationModelRecord,
        AudioGenerationModelRecord,
        MiscellaneousModelRecord,
        LoraModelRecord,
        TextualInversionModelRecord,
    )
}

AnyRecord = Annotated[
    ImageGenerationModelRecord
    | TextGenerationModelRecord
    | ClipModelRecord
    | ControlNetModelRecord
    | BlipModelRecord
    | EsrganModelRecord
    | GfpganModelRecord
    | CodeformerModelRecord
    | SafetyCheckerModelRecord
    | VideoGenerationModelRecord
    | AudioGenerationModelRecord
    | MiscellaneousModelRecord
    | LoraModelRecord
    | TextualInversionModelRecord,
    Field(discriminator="record_type"),
]


def storable(record: RecordBase) -> dict[str, Any]:
    """The record's document, checked to fit JSON storage (integers within 64 bits).

    Raises ValueError naming the problem otherwise.
    """
    document = record.to_document()
    try:
        orjson.dumps(document)
    except TypeError as error:
        raise ValueError(f"a value cannot be stored: {error}") from None
    return document


def parse_record(category: Category, document: dict[str, Any]) -> RecordBase:
    """Validate *document* as a record of *category* (a stored record may omit ``record_type``).

    Raises pydantic's ``ValidationError`` when the document does not fit, including when its
    ``record_type`` names another category.
    """
    cls = RECORD_CLASSES[category]
    if "record_type" not in document:
        document = {"record_type": category.value, **document}
    return cls.model_validate(document)
