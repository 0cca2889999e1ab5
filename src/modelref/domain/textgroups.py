"""The text-generation toolkit's reads: name parsing and composition, groups, their health, inferred naming
schemas and family suggestions (API.md §14 X1–X7, X9, X20; DATA.md §9).

Every function takes the stored text records as ``(key, document)`` pairs and returns the answer's model.
Group members are the records whose stored ``text_model_group`` is the group's name, exactly (case counts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Iterable, Mapping, Sequence
from typing import Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from modelref.domain.groups import infer_name_format, size_sort_key
from modelref.domain.inputs import shown
from modelref.domain.textnames import ExtraPartType, ParsedName, base_name, parse
from modelref.domain.textstructure import Family, TextModelGroupNameSchema, TextStructure
from modelref.domain.vocab import backend_of, strip_backend

Records = Sequence[tuple[str, Mapping[str, Any]]]
MAX_NAME = 10_000
"""The longest name the toolkit parses (a longer one is a 422)."""
PART_NAMES: Final = ("base", "size", "variant", "version", "quant")
"""The parts a name is composed of, in the default order."""


class ExtraPartInfo(BaseModel):
    value: str
    position: int
    inferred_type: ExtraPartType


class ParsedParts(BaseModel):
    base_name: str
    size: str | None = None
    variant: str | None = None
    quant: str | None = None
    version: str | None = None
    extras: list[ExtraPartInfo] = Field(default_factory=list)

    @classmethod
    def of(cls, parsed: ParsedName) -> ParsedParts:
        return cls(
            base_name=parsed.base_name,
            size=parsed.size,
            variant=parsed.variant,
            quant=parsed.quant,
            version=parsed.version,
            extras=[
                ExtraPartInfo(value=e.value, position=e.position, inferred_type=e.inferred_type) for e in parsed.extras
            ],
        )


class ParsedNameResponse(ParsedParts):
    """X1: the parts of a full name (organisation and backend prefix kept in ``base_name``) and its group."""

    original_name: str
    suggested_group: str


class ComposeNameRequest(BaseModel):
    """X2. ``part_order`` names parts among base, size, variant, version, quant (others are ignored); it must
    name at least one part that is given, or the name would be empty (422). ``separator`` null: ``-``."""

    model_config = ConfigDict(extra="forbid")

    author: str | None = Field(None, max_length=MAX_NAME)
    base_name: str = Field(min_length=1, max_length=MAX_NAME)
    size: str = Field(min_length=1, max_length=MAX_NAME)
    variant: str | None = Field(None, max_length=MAX_NAME)
    version: str | None = Field(None, max_length=MAX_NAME)
    quant: str | None = Field(None, max_length=MAX_NAME)
    separator: str | None = Field("-", max_length=16)
    part_order: list[str] | None = Field(None, max_length=32)

    def parts(self) -> dict[str, str | None]:
        """Each part's value, by its name in ``part_order``."""
        return {
            "base": self.base_name,
            "size": self.size,
            "variant": self.variant,
            "version": self.version,
            "quant": self.quant,
        }

    @model_validator(mode="after")
    def _names_a_given_part(self) -> Self:
        if self.part_order is None:
            return self
        valid = ", ".join(PART_NAMES)
        named = [p for p in self.part_order if p in PART_NAMES]
        if not named:
            raise ValueError(f"part_order names none of the parts; name at least one of {valid}")
        if not any(self.parts()[p] for p in named):
            raise ValueError(
                f"part_order names only parts that are not given ({', '.join(named)}), so the name would be "
                f"empty; name at least one part that is given, among {valid}"
            )
        return self


class ComposeNameResponse(BaseModel):
    composed_name: str
    already_exists: bool
    suggested_group: str


class DistinctBaselinesResponse(BaseModel):
    baselines: list[str]


class GroupListResponse(BaseModel):
    groups: list[str]


class NameFormatInfo(BaseModel):
    """A group's naming schema as X5 shows it (``template`` always a string)."""

    separator: str
    part_order: list[str]
    author_included: bool
    common_author: str | None = None
    template: str
    extra_parts: list[str] = Field(default_factory=list)


class GroupMemberInfo(BaseModel):
    name: str
    parsed: ParsedParts
    parameters: int | None = None
    baseline: str | None = None
    nsfw: bool | None = None
    description: str | None = None
    url: str | None = None
    style: str | None = None
    tags: list[str] | None = None
    display_name: str | None = None
    instruct_format: str | None = None
    is_backend_duplicate: bool
    backend_prefix: str | None = None


class ExceptionMember(BaseModel):
    name: str
    reason: str


class GroupMembersResponse(BaseModel):
    """X5."""

    group_name: str
    members: list[GroupMemberInfo]
    common_fields: dict[str, Any]
    available_sizes: list[str]
    available_variants: list[str | None]
    available_quants: list[str | None]
    available_versions: list[str | None]
    size_usage: dict[str, int]
    variant_usage: dict[str, int]
    quant_usage: dict[str, int]
    name_format: NameFormatInfo
    canonical_count: int
    backend_duplicate_count: int
    name_schema_is_custom: bool
    exception_members: list[ExceptionMember]
    related_family: Family | None = None


Severity = Literal["warning", "info"]


class GroupHealthIssue(BaseModel):
    group_name: str
    issue_type: str
    message: str
    severity: Severity = "warning"


class GroupHealthResponse(BaseModel):
    """X7."""

    issues: list[GroupHealthIssue]
    total_groups_checked: int
    groups_with_issues: int
    issue_counts_by_type: dict[str, int]


class GroupSummaryEntry(BaseModel):
    group_name: str
    canonical_count: int
    backend_duplicate_count: int
    has_custom_schema: bool = False
    family_name: str | None = None
    alias_canonical: str | None = None
    aliases: list[str] = Field(default_factory=list)
    available_sizes: list[str]
    health_issues: list[GroupHealthIssue]


class GroupsSummaryResponse(BaseModel):
    """X6."""

    groups: list[GroupSummaryEntry]
    total_groups: int
    total_models: int
    groups_with_families: int
    groups_with_aliases: int
    groups_with_issues: int


class GroupNameSchemaResponse(BaseModel):
    """X9."""

    group_name: str
    name_schema: TextModelGroupNameSchema
    is_custom: bool


class DetectFamiliesParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_prefix_length: int = Field(3, ge=2, le=20)
    min_family_size: int = Field(2, ge=2, le=50)


class DetectFamiliesResponse(BaseModel):
    """X20: suggestions only, nothing stored."""

    suggestions: list[Family]
    total_groups_analyzed: int
    groups_in_families: int
    standalone_groups: int


COMMON_FIELDS: Final = ("baseline", "description", "url", "nsfw", "tags", "style", "instruct_format")


def parse_name(name: str, suggested_group: str | None = None) -> ParsedNameResponse:
    """X1: ``parse`` of the full name; the group is ``base_name(name)`` unless the caller resolved it."""
    parsed = parse(name)
    return ParsedNameResponse(
        original_name=name,
        suggested_group=suggested_group if suggested_group is not None else base_name(name),
        **ParsedParts.of(parsed).model_dump(),
    )


def compose_name(request: ComposeNameRequest, existing: Container[str]) -> ComposeNameResponse:
    """X2 (DATA.md §9.5): the named parts present, in ``part_order`` (or the default order), joined."""
    values = request.parts()
    order = request.part_order if request.part_order is not None else PART_NAMES
    separator = "-" if request.separator is None else request.separator
    composed = separator.join(value for p in order if (value := values.get(p)))
    if request.author:
        composed = f"{request.author}/{composed}"
    return ComposeNameResponse(
        composed_name=composed, already_exists=composed in existing, suggested_group=base_name(composed)
    )


def distinct_baselines(records: Records) -> DistinctBaselinesResponse:
    """X3: sorted distinct non-empty baselines (trimmed)."""
    found = {b.strip() for _, d in records if isinstance(b := d.get("baseline"), str) and b.strip()}
    return DistinctBaselinesResponse(baselines=sorted(found))


GroupIndex = dict[str, list[tuple[str, Mapping[str, Any]]]]
"""Each group that has members → its members, as ``(key, document)`` pairs in the records' order."""


def group_index(records: Records) -> GroupIndex:
    """The groups of *records* (non-empty ``text_model_group`` values) with their members, sorted by name."""
    groups: GroupIndex = {}
    for key, document in records:
        group = document.get("text_model_group")
        if isinstance(group, str) and group:
            groups.setdefault(group, []).append((key, document))
    return dict(sorted(groups.items()))


def _canonical(members: Sequence[tuple[str, Mapping[str, Any]]]) -> list[tuple[str, Mapping[str, Any]]]:
    return [(key, document) for key, document in members if backend_of(key) is None]


def _nullable_sorted(values: Iterable[str | None]) -> list[str | None]:
    return sorted(set(values), key=lambda v: v or "")


def _schema(names: Sequence[str], extras: bool = True) -> TextModelGroupNameSchema:
    inferred = infer_name_format(names)
    if not extras:
        inferred["extra_parts"] = []
    return TextModelGroupNameSchema.model_validate(inferred)


def group_members(group: str, records: Records) -> GroupMembersResponse | None:
    """X5: the group's members and what they share; None when it has none."""
    members = group_index(records).get(group)
    if not members:
        return None
    infos = []
    for key, document in members:
        prefix = backend_of(key)
        infos.append(
            GroupMemberInfo.model_validate(
                {
                    **{f: document.get(f) for f in GroupMemberInfo.model_fields if f in document},
                    "name": key,
                    "parsed": ParsedParts.of(parse(strip_backend(key))),
                    "is_backend_duplicate": prefix is not None,
                    "backend_prefix": prefix,
                }
            )
        )
    canonical = _canonical(members)
    parsed = [parse(strip_backend(key)) for key, _ in canonical]
    common: dict[str, Any] = {}
    for field_name in COMMON_FIELDS:
        values = [document.get(field_name) for _, document in canonical]
        if values and values[0] is not None and all(v == values[0] for v in values):
            common[field_name] = values[0]
    return GroupMembersResponse(
        group_name=group,
        members=infos,
        common_fields=common,
        available_sizes=sorted({p.size for p in parsed if p.size}, key=size_sort_key),
        available_variants=_nullable_sorted(p.variant for p in parsed),
        available_quants=_nullable_sorted(p.quant for p in parsed),
        available_versions=_nullable_sorted(p.version for p in parsed),
        size_usage=dict(Counter(p.size for p in parsed if p.size)),
        variant_usage=dict(Counter(p.variant for p in parsed if p.variant)),
        quant_usage=dict(Counter(p.quant for p in parsed if p.quant)),
        name_format=_as_format(_schema([key for key, _ in canonical])),
        canonical_count=len(canonical),
        backend_duplicate_count=len(members) - len(canonical),
        name_schema_is_custom=False,
        exception_members=[
            ExceptionMember(name=key, reason=reason)
            for key, document in canonical
            if isinstance(reason := document.get("name_schema_exception"), str) and reason.strip()
        ],
    )


def _health(group: str, canonical: Sequence[tuple[str, Mapping[str, Any]]]) -> list[GroupHealthIssue]:
    """DATA.md §9.7, in its order."""
    issues = []
    if len(canonical) == 1:
        issues.append(
            GroupHealthIssue(
                group_name=group,
                issue_type="singleton_group",
                message="Group has only 1 canonical model - may not need a group",
            )
        )
    baselines = sorted({b for _, d in canonical if isinstance(b := d.get("baseline"), str) and b})
    if len(baselines) > 1:
        issues.append(
            GroupHealthIssue(
                group_name=group,
                issue_type="inconsistent_baseline",
                message=f"Members have different baselines: {', '.join(baselines)}",
            )
        )
    if len({d.get("nsfw") for _, d in canonical if isinstance(d.get("nsfw"), bool)}) > 1:
        issues.append(
            GroupHealthIssue(
                group_name=group, issue_type="inconsistent_nsfw", message="Members have different NSFW flags"
            )
        )
    no_baseline = sum(1 for _, d in canonical if not (isinstance(d.get("baseline"), str) and d.get("baseline")))
    if no_baseline:
        issues.append(
            GroupHealthIssue(
                group_name=group, issue_type="missing_baseline", message=f"{no_baseline} member(s) missing baseline"
            )
        )
    no_description = sum(1 for _, d in canonical if not str(d.get("description") or "").strip())
    if no_description:
        issues.append(
            GroupHealthIssue(
                group_name=group,
                issue_type="missing_description",
                message=f"{no_description} member(s) missing description",
                severity="info",
            )
        )
    return issues


def groups_health(records: Records) -> GroupHealthResponse:
    """X7: every group's issues, groups in name order."""
    issues: list[GroupHealthIssue] = []
    with_issues = 0
    groups = group_index(records)
    for group, members in groups.items():
        found = _health(group, _canonical(members))
        with_issues += bool(found)
        issues.extend(found)
    return GroupHealthResponse(
        issues=issues,
        total_groups_checked=len(groups),
        groups_with_issues=with_issues,
        issue_counts_by_type=dict(Counter(i.issue_type for i in issues)),
    )


def groups_summary(records: Records) -> GroupsSummaryResponse:
    """X6: per group its counts, sizes and issues (aliases, families and custom schemas: none held)."""
    entries = []
    for group, members in group_index(records).items():
        canonical = _canonical(members)
        sizes = {p.size for key, _ in canonical if (p := parse(strip_backend(key))).size}
        entries.append(
            GroupSummaryEntry(
                group_name=group,
                canonical_count=len(canonical),
                backend_duplicate_count=len(members) - len(canonical),
                available_sizes=sorted(sizes, key=size_sort_key),
                health_issues=_health(group, canonical),
            )
        )
    return GroupsSummaryResponse(
        groups=entries,
        total_groups=len(entries),
        total_models=sum(e.canonical_count + e.backend_duplicate_count for e in entries),
        groups_with_families=sum(1 for e in entries if e.family_name),
        groups_with_aliases=sum(1 for e in entries if e.alias_canonical or e.aliases),
        groups_with_issues=sum(1 for e in entries if e.health_issues),
    )


def inferred_schema(group: str, records: Records) -> GroupNameSchemaResponse | None:
    """X9 without a custom schema: inferred from the canonical members' names (``extra_parts`` empty, as
    the existing service answers); None when the group has no canonical member."""
    canonical = _canonical(group_index(records).get(group, []))
    if not canonical:
        return None
    return GroupNameSchemaResponse(
        group_name=group, name_schema=_schema([key for key, _ in canonical], extras=False), is_custom=False
    )


def detect_families(
    records: Records, params: DetectFamiliesParams, owners: Mapping[str, str] | None = None
) -> DetectFamiliesResponse:
    """X20 (DATA.md §9.8): group names (``base_name`` of every key, through the aliases *owners*) sharing a
    long enough ``-`` prefix."""
    owners = owners or {}
    groups = sorted({owners.get(g, g) for key, _ in records if (g := base_name(key))})
    candidates: dict[str, list[str]] = {}
    for group in groups:
        parts = group.split("-")
        for depth in range(len(parts) - 1, 0, -1):
            prefix = "-".join(parts[:depth])
            if len(prefix) >= params.min_prefix_length:
                candidates.setdefault(prefix, []).append(group)
    claimed: set[str] = set()
    families = []
    for prefix in sorted(candidates, key=len, reverse=True):  # longest first; sorted() keeps ties in order
        free = sorted({g for g in candidates[prefix] if g not in claimed})
        if len(free) >= params.min_family_size:
            families.append(Family(family_name=prefix, members=free))
            claimed.update(free)
    families.sort(key=lambda f: f.family_name)
    return DetectFamiliesResponse(
        suggestions=families,
        total_groups_analyzed=len(groups),
        groups_in_families=len(claimed),
        standalone_groups=len(groups) - len(claimed),
    )


def no_group(group: str) -> str:
    return f"No models found in group '{shown(group)}'"


class CommonFieldsUpdateRequest(BaseModel):
    """X8: the fields to set on every canonical member of a group (null: left as it is)."""

    model_config = ConfigDict(extra="forbid")

    baseline: str | None = Field(None, max_length=MAX_NAME)
    description: str | None = Field(None, max_length=100_000)
    url: str | None = Field(None, max_length=MAX_NAME)
    nsfw: bool | None = None
    tags: list[str] | None = Field(None, max_length=1_000)
    style: str | None = Field(None, max_length=MAX_NAME)
    instruct_format: str | None = Field(None, max_length=MAX_NAME)

    def fields(self) -> dict[str, Any]:
        """The fields given (not null)."""
        return self.model_dump(exclude_none=True)


class BatchUpdateResponse(BaseModel):
    """X8's answer: ``batch_id`` names the changes in their ``request_metadata`` (not a review batch)."""

    updated_count: int
    batch_id: str
    pending_change_ids: list[int]


class NameExceptionRequest(BaseModel):
    """X12: why the model's name does not follow its group's schema; null clears it."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(max_length=MAX_NAME)


class NameExceptionResponse(BaseModel):
    pending_change_id: int


def canonical_members(group: str, records: Records) -> list[tuple[str, Mapping[str, Any]]]:
    """The group's members without a backend prefix (the ones a group-wide change touches)."""
    return _canonical(group_index(records).get(group, []))


def with_name_exception(document: Mapping[str, Any], reason: str | None) -> dict[str, Any]:
    """The record with its ``name_schema_exception`` set, or removed when *reason* is None."""
    changed = {k: v for k, v in document.items() if k != "name_schema_exception"}
    if reason is not None:
        changed["name_schema_exception"] = reason
    return changed


def with_custom_schema(group: GroupMembersResponse, structure: TextStructure) -> GroupMembersResponse:
    """X5 with the family the group belongs to and its custom naming schema, when it has one."""
    custom = structure.schema_of(group.group_name)
    update: dict[str, Any] = {"related_family": structure.related(group.group_name)}
    if custom is not None:
        update |= {"name_format": _as_format(custom), "name_schema_is_custom": True}
    return group.model_copy(update=update)


def _as_format(schema: TextModelGroupNameSchema) -> NameFormatInfo:
    return NameFormatInfo.model_validate({**schema.model_dump(), "template": schema.template or ""})


def with_structure(summary: GroupsSummaryResponse, structure: TextStructure) -> GroupsSummaryResponse:
    """X6 with the aliases, families and custom schemas: a group that is an alias names its canonical group
    (and has no aliases of its own); either way it counts among the groups with aliases."""
    owners = structure.owners
    entries = [
        entry.model_copy(
            update={
                "has_custom_schema": structure.schema_of(entry.group_name) is not None,
                "family_name": structure.family_of.get(entry.group_name),
                "alias_canonical": owners.get(entry.group_name),
                "aliases": [] if entry.group_name in owners else list(structure.aliases.get(entry.group_name, [])),
            }
        )
        for entry in summary.groups
    ]
    return summary.model_copy(
        update={
            "groups": entries,
            "groups_with_families": sum(1 for e in entries if e.family_name),
            "groups_with_aliases": sum(1 for e in entries if e.alias_canonical or e.aliases),
        }
    )
