"""Request parameter models and response envelopes (API.md §16)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from modelref.domain.query import HORDE_SOURCE, SearchQuery

MAX_OFFSET = 2**31 - 1
"""Past any real data; bigger numbers are refused (422) rather than carried around."""


class CrossSearchParams(BaseModel):
    """Filters of the cross-category search (unknown parameters are ignored)."""

    model_config = ConfigDict(extra="ignore")

    nsfw: bool | None = None
    name_contains: str | None = None
    tags_any: list[str] = Field(default_factory=list)
    tags_all: list[str] = Field(default_factory=list)
    tags_none: list[str] = Field(default_factory=list)
    sort_by: str | None = None
    sort_desc: bool = False
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)

    def to_query(self) -> SearchQuery:
        fields = self.model_dump()
        for name in ("tags_any", "tags_all", "tags_none"):
            fields[name] = tuple(fields[name])
        return SearchQuery(**fields)


class SearchParams(CrossSearchParams):
    """Filters of a per-category search."""

    baseline: str | None = None
    inpainting: bool | None = None
    backend: str | None = None
    exclude_backend_variations: bool = False
    quantized: bool | None = None
    source: str = HORDE_SOURCE


class SearchResponse(BaseModel):
    results: list[dict[str, Any]]
    total: int
    offset: int
    limit: int
    has_more: bool


class ContainsMessage(BaseModel):
    message: str


class ErrorResponse(BaseModel):
    detail: str | list[dict[str, Any]]


class BackendInfo(BaseModel):
    replicate_mode: str
    canonical_format: str
    writable: bool


class HordeHealth(BaseModel):
    degraded: bool
    consecutive_failures: int
    seconds_until_retry: float | None


class HeartbeatResponse(BaseModel):
    status: str
    ai_horde: HordeHealth


class CategoryMetadata(BaseModel):
    category: str
    last_updated: int | None
    last_operation_type: str | None
    last_operation_model: str | None
    total_creates: int
    total_updates: int
    total_deletes: int
    total_models: int
    initialization_time: int
    last_successful_operation: int | None
    error_count: int
    metadata_schema_version: str
    backend_type: str


class LastUpdatedResponse(BaseModel):
    last_updated: int | None


class CategoryLastUpdatedResponse(BaseModel):
    category: str
    last_updated: int | None


class BaselineCount(BaseModel):
    baseline: str
    count: int
    percentage: float


class TagCount(BaseModel):
    tag: str
    count: int
    percentage: float


class DownloadStats(BaseModel):
    total_models_with_downloads: int
    total_download_entries: int
    total_size_bytes: int
    models_with_size_info: int
    average_size_bytes: float
    hosts: dict[str, int]


class ParameterBucket(BaseModel):
    bucket_label: str
    min_params: int
    max_params: int | None
    count: int
    percentage: float


class CategoryStatistics(BaseModel):
    category: str
    total_models: int
    returned_models: int
    offset: int
    limit: int | None
    nsfw_count: int
    sfw_count: int
    baseline_distribution: dict[str, BaselineCount]
    download_stats: DownloadStats
    top_tags: list[TagCount]
    top_styles: list[TagCount]
    parameter_buckets: list[ParameterBucket]
    models_without_param_info: int
    models_with_trigger_words: int
    models_with_inpainting: int
    models_with_requirements: int
    models_with_showcases: int
    computed_at: int


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Bad request"},
    404: {"model": ErrorResponse, "description": "Not found"},
}
