"""The text-generation toolkit (API.md §14): name parsing and composition, groups and their health,
inferred naming schemas, family suggestions.

Group names may contain ``/``: every group route takes the name as a path (``/group/{group_name}``) or, when a
``name`` query parameter is given, from it (``/group?name=…``, decision 7).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from modelref.domain.textgroups import (
    MAX_NAME,
    ComposeNameRequest,
    ComposeNameResponse,
    DetectFamiliesParams,
    DetectFamiliesResponse,
    DistinctBaselinesResponse,
    GroupHealthResponse,
    GroupListResponse,
    GroupMembersResponse,
    GroupNameSchemaResponse,
    GroupsSummaryResponse,
    ParsedNameResponse,
)
from modelref.http.deps import TextToolsDep
from modelref.http.routing import api_router
from modelref.http.schemas import errors

TEXT = errors(400, 404, 422, 503)
"""400: a request line too long for the server (a 10,000-character name of 4-byte characters, percent-encoded)."""

router = api_router("/model_references/v2/text_generation", ["v2", "text_utils"], responses=TEXT)
"""Operation ids as the existing service's (its defaults); the path forms are modelref's."""
Name = Annotated[str, Query(min_length=1, max_length=MAX_NAME, description="A model or group name (may contain '/').")]


@router.get("/parse_name", operation_id="parse_name_model_references_v2_text_generation_parse_name_get")
def parse_name(tools: TextToolsDep, name: Name) -> ParsedNameResponse:
    """A name's parts: base name (organisation and backend prefix kept), size, variant, quant, version,
    extras, and the group it belongs in."""
    return tools.parse_name(name)


@router.post("/compose_name", operation_id="compose_name_model_references_v2_text_generation_compose_name_post")
def compose_name(tools: TextToolsDep, request: ComposeNameRequest) -> ComposeNameResponse:
    """A name from its parts, whether a model has it already, and its group."""
    return tools.compose_name(request)


@router.get(
    "/distinct_baselines",
    operation_id="get_distinct_baselines_model_references_v2_text_generation_distinct_baselines_get",
)
def distinct_baselines(tools: TextToolsDep) -> DistinctBaselinesResponse:
    """Every baseline the text models use, sorted."""
    return tools.distinct_baselines()


@router.get("/groups", operation_id="list_groups_model_references_v2_text_generation_groups_get")
def groups(tools: TextToolsDep) -> GroupListResponse:
    """Every text model group, sorted."""
    return tools.groups()


@router.get(
    "/groups/summary", operation_id="list_groups_summary_model_references_v2_text_generation_groups_summary_get"
)
def groups_summary(tools: TextToolsDep) -> GroupsSummaryResponse:
    """Every group with its counts, sizes and health issues."""
    return tools.summary()


@router.get("/groups/health", operation_id="check_groups_health_model_references_v2_text_generation_groups_health_get")
def groups_health(tools: TextToolsDep) -> GroupHealthResponse:
    """The groups' problems: singletons, inconsistent baselines or NSFW flags, missing baselines and
    descriptions."""
    return tools.health()


@router.get(
    "/group/name_schema", operation_id="get_group_name_schema_model_references_v2_text_generation_group_name_schema_get"
)
def group_name_schema_query(tools: TextToolsDep, name: Name) -> GroupNameSchemaResponse:
    """A group's naming schema (``?name=`` form)."""
    return tools.name_schema(name)


@router.get("/group", operation_id="get_group_model_references_v2_text_generation_group_get")
def group_query(tools: TextToolsDep, name: Name) -> GroupMembersResponse:
    """A group's members and what they share (``?name=`` form)."""
    return tools.group(name)


@router.get("/group/{group_name:name}/name_schema", operation_id="get_group_name_schema_by_path")
def group_name_schema(tools: TextToolsDep, group_name: str) -> GroupNameSchemaResponse:
    """A group's naming schema, inferred from its members' names. 404 when the group has no member."""
    return tools.name_schema(group_name)


@router.get("/group/{group_name:name}", operation_id="get_group_by_path")
def group(tools: TextToolsDep, group_name: str) -> GroupMembersResponse:
    """A group's members with their parsed parts, the fields they share, the sizes, variants, quants and
    versions available, its naming schema and its exception members. 404 when it has no member."""
    return tools.group(group_name)


@router.get(
    "/families/detect", operation_id="detect_family_suggestions_model_references_v2_text_generation_families_detect_get"
)
def detect_families(tools: TextToolsDep, params: Annotated[DetectFamiliesParams, Query()]) -> DetectFamiliesResponse:
    """Suggested families: groups sharing a long enough name prefix (nothing is stored)."""
    return tools.detect_families(params)
