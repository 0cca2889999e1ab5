"""The text-generation toolkit (API.md §14): name parsing and composition, groups and their health, naming
schemas, aliases and families, and the structure a REPLICA pulls.

Group names may contain ``/``: every group route takes the name as a path (``/group/{group_name}``) or, when a
``name`` query parameter is given, from it (``/group?name=…``, decision 7).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request, Response

from modelref.domain.textgroups import (
    MAX_NAME,
    BatchUpdateResponse,
    CommonFieldsUpdateRequest,
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
    NameExceptionRequest,
    NameExceptionResponse,
    ParsedNameResponse,
)
from modelref.domain.textstructure import (
    AliasEntry,
    AliasRequest,
    Family,
    FamilyMemberRequest,
    GroupAliasListResponse,
    GroupFamilyListResponse,
    GroupNameSchemaUpdateRequest,
    SetAliasesRequest,
    SetFamilyRequest,
    TextStructure,
)
from modelref.http import passthrough
from modelref.http.auth import RequestorDep
from modelref.http.deps import ServicesDep, TextToolsDep
from modelref.http.routing import api_router
from modelref.http.schemas import WRITE, errors


def _plain_400(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """*responses* with the server's own plain-text 400 documented too: a name of 10,000 4-byte characters,
    percent-encoded, makes a 120 kB request line, which the server refuses before the app sees it."""
    plain = {"description": "Bad request, or a request line too long for the server (plain text)"}
    return {**responses, 400: {**responses[400], **plain, "content": {"text/plain": {"schema": {"type": "string"}}}}}


TEXT = _plain_400(errors(400, 404, 422, 503))

router = api_router("/model_references/v2/text_generation", ["v2", "text_utils"], responses=TEXT)
"""Operation ids as the existing service's (its defaults); the path forms are modelref's."""
NO_NUL = r"^[^\x00]*$"
Name = Annotated[str, Query(min_length=1, max_length=MAX_NAME, description="A model name (may contain '/').")]
GroupLookupPath = Annotated[
    str,
    Path(min_length=1, max_length=MAX_NAME, pattern=NO_NUL, description="A group name (may contain '/')."),
]
"""A group looked up among the text models (its members, its naming schema, a change to its members): at most
MAX_NAME characters, no NUL (422)."""
GroupLookupQuery = Annotated[
    str,
    Query(min_length=1, max_length=MAX_NAME, pattern=NO_NUL, description="A group name (may contain '/')."),
]
"""``GroupLookupPath`` as the ``?name=`` form takes it."""
StoredGroupPath = Annotated[
    str,
    Path(min_length=1, max_length=200, pattern=NO_NUL, description="A group or family name (may contain '/')."),
]
"""A name structural metadata is kept under: the canonical group of an alias entry, a family, or the group of
a custom naming schema. At most 200 characters (the stored key's limit), no NUL (422)."""
StoredGroupQuery = Annotated[
    str,
    Query(min_length=1, max_length=200, pattern=NO_NUL, description="A group name (may contain '/')."),
]
"""``StoredGroupPath`` as the ``?name=`` form takes it (the custom naming schema routes)."""


@router.get("/parse_name", operation_id="parse_name_model_references_v2_text_generation_parse_name_get")
def parse_name(tools: TextToolsDep, name: Name) -> ParsedNameResponse:
    """A name's parts: base name (organisation and backend prefix kept), size, variant, quant, version,
    extras, and the group it belongs in."""
    return tools.parse_name(name)


@router.post("/compose_name", operation_id="compose_name_model_references_v2_text_generation_compose_name_post")
def compose_name(tools: TextToolsDep, request: ComposeNameRequest) -> ComposeNameResponse:
    """A name from its parts, whether a model has it already, and its group. 422 when ``part_order`` names no
    part that is given."""
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
def group_name_schema_query(tools: TextToolsDep, name: GroupLookupQuery) -> GroupNameSchemaResponse:
    """A group's naming schema (``?name=`` form)."""
    return tools.name_schema(name)


@router.get("/group", operation_id="get_group_model_references_v2_text_generation_group_get")
def group_query(tools: TextToolsDep, name: GroupLookupQuery) -> GroupMembersResponse:
    """A group's members and what they share (``?name=`` form)."""
    return tools.group(name)


@router.get("/group/{group_name:name}/name_schema", operation_id="get_group_name_schema_by_path")
def group_name_schema(tools: TextToolsDep, group_name: GroupLookupPath) -> GroupNameSchemaResponse:
    """A group's naming schema: its custom one (kept under its name, else under the group it is an alias of),
    else inferred from its members' names. 404 when it has neither."""
    return tools.name_schema(group_name)


@router.get("/group/{group_name:name}", operation_id="get_group_by_path")
def group(tools: TextToolsDep, group_name: GroupLookupPath) -> GroupMembersResponse:
    """A group's members with their parsed parts, the fields they share, the sizes, variants, quants and
    versions available, its naming schema and its exception members. 404 when it has no member."""
    return tools.group(group_name)


@router.get("/structure", operation_id="get_text_structure", response_model=TextStructure)
def structure(request: Request, tools: TextToolsDep) -> Response:
    """The aliases, families and custom naming schemas in one document, with an ETag (what a REPLICA pulls
    to answer every toolkit read as its PRIMARY does)."""
    return passthrough.respond(request, passthrough.answered(tools.structure()))


@router.get(
    "/families/detect", operation_id="detect_family_suggestions_model_references_v2_text_generation_families_detect_get"
)
def detect_families(tools: TextToolsDep, params: Annotated[DetectFamiliesParams, Query()]) -> DetectFamiliesResponse:
    """Suggested families: groups sharing a long enough name prefix (nothing is stored)."""
    return tools.detect_families(params)


writes = api_router(
    "/model_references/v2/text_generation", ["v2", "text_utils"], authenticated=True, responses=_plain_400(WRITE)
)
"""The toolkit's record changes: queued for review like every other write (202)."""


@writes.put(
    "/group/common_fields",
    operation_id="update_group_common_fields_model_references_v2_text_generation_group_common_fields_put",
    status_code=202,
)
def group_common_fields_query(
    services: ServicesDep, caller: RequestorDep, name: GroupLookupQuery, request: CommonFieldsUpdateRequest
) -> BatchUpdateResponse:
    """Queue the same fields on every canonical member of a group (``?name=`` form)."""
    return services.proposals.group_common_fields(name, request, caller)


@writes.put(
    "/group/{group_name:name}/common_fields", operation_id="update_group_common_fields_by_path", status_code=202
)
def group_common_fields(
    services: ServicesDep, caller: RequestorDep, group_name: GroupLookupPath, request: CommonFieldsUpdateRequest
) -> BatchUpdateResponse:
    """Queue the same fields on every canonical member of a group: one update each, all or none, named by one
    ``batch_id`` in their ``request_metadata``. 400 when no field is given; 404 when the group has no member."""
    return services.proposals.group_common_fields(group_name, request, caller)


@writes.put(
    "/{model_name:name}/name_exception",
    operation_id="set_name_exception_model_references_v2_text_generation__model_name__name_exception_put",
    status_code=202,
)
def name_exception(
    services: ServicesDep, caller: RequestorDep, model_name: str, request: NameExceptionRequest
) -> NameExceptionResponse:
    """Queue setting (a reason) or clearing (null) why a model's name does not follow its group's schema."""
    return services.proposals.name_exception(model_name, request, caller)


# -- naming schemas (X10, X11): kept on a PRIMARY ------------------------------------------------------------


@writes.put(
    "/group/name_schema",
    operation_id="update_group_name_schema_model_references_v2_text_generation_group_name_schema_put",
)
def update_name_schema_query(
    services: ServicesDep, caller: RequestorDep, name: StoredGroupQuery, request: GroupNameSchemaUpdateRequest
) -> GroupNameSchemaResponse:
    """Save a group's custom naming schema (``?name=`` form)."""
    return services.schemas.update(name, request, caller)


@writes.put("/group/{group_name:name}/name_schema", operation_id="update_group_name_schema_by_path")
def update_name_schema(
    services: ServicesDep, caller: RequestorDep, group_name: StoredGroupPath, request: GroupNameSchemaUpdateRequest
) -> GroupNameSchemaResponse:
    """Save a group's custom naming schema: the fields given, merged into the one it has (or the default
    one). The group need not exist yet."""
    return services.schemas.update(group_name, request, caller)


@writes.delete(
    "/group/name_schema",
    operation_id="delete_group_name_schema_model_references_v2_text_generation_group_name_schema_delete",
    status_code=204,
)
def delete_name_schema_query(services: ServicesDep, caller: RequestorDep, name: StoredGroupQuery) -> None:
    """Delete a group's custom naming schema (``?name=`` form)."""
    services.schemas.delete(name, caller)


@writes.delete("/group/{group_name:name}/name_schema", operation_id="delete_group_name_schema_by_path", status_code=204)
def delete_name_schema(services: ServicesDep, caller: RequestorDep, group_name: StoredGroupPath) -> None:
    """Delete a group's custom naming schema: its schema is inferred from its members' names again. 404 when
    it has none."""
    services.schemas.delete(group_name, caller)


# -- aliases (X13–X18): kept on a PRIMARY ------------------------------------------------------------------------


@router.get("/aliases", operation_id="list_aliases_model_references_v2_text_generation_aliases_get")
def list_aliases(services: ServicesDep) -> GroupAliasListResponse:
    """Every canonical group with its aliases."""
    return services.aliases.entries()


@router.get(
    "/aliases/{canonical:name}", operation_id="get_alias_model_references_v2_text_generation_aliases__canonical__get"
)
def get_alias(services: ServicesDep, canonical: StoredGroupPath) -> AliasEntry:
    """One canonical group's aliases; 404 when it has none."""
    return services.aliases.entry(canonical)


@writes.put(
    "/aliases/{canonical:name}", operation_id="set_aliases_model_references_v2_text_generation_aliases__canonical__put"
)
def set_aliases(
    services: ServicesDep, caller: RequestorDep, canonical: StoredGroupPath, request: SetAliasesRequest
) -> AliasEntry:
    """Replace a canonical group's aliases. 409 when it is among them, is itself an alias, or an alias
    belongs to another group, has aliases of its own or is a group with models of its own."""
    return services.aliases.replace(canonical, request.aliases, caller)


@writes.post(
    "/aliases/{canonical:name}/add",
    operation_id="add_alias_model_references_v2_text_generation_aliases__canonical__add_post",
)
def add_alias(
    services: ServicesDep, caller: RequestorDep, canonical: StoredGroupPath, request: AliasRequest
) -> AliasEntry:
    """Add one alias (nothing changes when it is there already)."""
    return services.aliases.add(canonical, request.alias, caller)


@writes.post(
    "/aliases/{canonical:name}/remove",
    operation_id="remove_alias_model_references_v2_text_generation_aliases__canonical__remove_post",
)
def remove_alias(
    services: ServicesDep, caller: RequestorDep, canonical: StoredGroupPath, request: AliasRequest
) -> AliasEntry:
    """Remove one alias; removing the last one deletes the entry."""
    return services.aliases.remove(canonical, request.alias, caller)


@writes.delete(
    "/aliases/{canonical:name}",
    operation_id="delete_aliases_model_references_v2_text_generation_aliases__canonical__delete",
    status_code=204,
)
def delete_aliases(services: ServicesDep, caller: RequestorDep, canonical: StoredGroupPath) -> None:
    """Delete a canonical group's alias entry."""
    services.aliases.delete(canonical, caller)


# -- families (X19, X21–X25): kept on a PRIMARY---------------------------------------------------------------


@router.get("/families", operation_id="list_families_model_references_v2_text_generation_families_get")
def list_families(services: ServicesDep) -> GroupFamilyListResponse:
    """Every family with its member groups."""
    return services.families.families()


@router.get(
    "/families/{family_name:name}",
    operation_id="get_family_model_references_v2_text_generation_families__family_name__get",
)
def get_family(services: ServicesDep, family_name: StoredGroupPath) -> Family:
    """One family; 404 when there is none of that name."""
    return services.families.family(family_name)


@writes.put(
    "/families/{family_name:name}",
    operation_id="set_family_model_references_v2_text_generation_families__family_name__put",
)
def set_family(
    services: ServicesDep, caller: RequestorDep, family_name: StoredGroupPath, request: SetFamilyRequest
) -> Family:
    """Create or replace a family. 409 when it would be empty, or a group belongs to another family."""
    return services.families.replace(family_name, request.members, caller)


@writes.post(
    "/families/{family_name:name}/add",
    operation_id="add_family_member_model_references_v2_text_generation_families__family_name__add_post",
)
def add_family_member(
    services: ServicesDep, caller: RequestorDep, family_name: StoredGroupPath, request: FamilyMemberRequest
) -> Family:
    """Add a group to an existing family (404 when the family does not exist; 409 when the group is in another)."""
    return services.families.add(family_name, request.group_name, caller)


@writes.post(
    "/families/{family_name:name}/remove",
    operation_id="remove_family_member_model_references_v2_text_generation_families__family_name__remove_post",
)
def remove_family_member(
    services: ServicesDep, caller: RequestorDep, family_name: StoredGroupPath, request: FamilyMemberRequest
) -> Family:
    """Remove a group from a family; a family left empty is deleted."""
    return services.families.remove(family_name, request.group_name, caller)


@writes.delete(
    "/families/{family_name:name}",
    operation_id="delete_family_model_references_v2_text_generation_families__family_name__delete",
    status_code=204,
)
def delete_family(services: ServicesDep, caller: RequestorDep, family_name: StoredGroupPath) -> None:
    """Delete a family."""
    services.families.delete(family_name, caller)
