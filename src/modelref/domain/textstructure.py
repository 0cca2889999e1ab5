"""What moderators decided about the text groups (DATA.md §16, API.md X9–X11, X13–X25): aliases, families and
custom naming schemas, the request shapes that change them, the rules they keep, and ``TextStructure``, the
three held together (a PRIMARY's database, a REPLICA's copy)."""

from __future__ import annotations

import hashlib
from collections.abc import Container, Mapping, Sequence
from functools import cached_property
from typing import Annotated, Self

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from modelref.domain.inputs import NoNul, shown

GroupName = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=False), NoNul]
"""A group name in an alias or family: at most 200 characters, no NUL."""
SchemaWord = Annotated[str, StringConstraints(max_length=64), NoNul]
"""A separator or a part's name in a naming schema."""


class TextModelGroupNameSchema(BaseModel):
    """A group's naming schema (API.md §16.13): custom, or inferred from its members' names (DATA.md §9.4)."""

    model_config = ConfigDict(extra="forbid")

    separator: str = "-"
    part_order: list[str] = Field(default_factory=lambda: ["base", "size", "variant", "version", "quant"])
    author_included: bool = True
    common_author: str | None = None
    template: str | None = None
    extra_parts: list[str] = Field(default_factory=list)


class Family(BaseModel):
    """Groups that belong together (informational): a family kept on the PRIMARY, or one X20 suggests."""

    family_name: str
    members: list[str]


class AliasEntry(BaseModel):
    """X14: a canonical group and the names that mean it."""

    canonical: str
    aliases: list[str]


class GroupAliasListResponse(BaseModel):
    entries: list[AliasEntry]


class SetAliasesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    aliases: list[GroupName] = Field(max_length=1_000)


class AliasRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alias: GroupName


def alias_conflicts(
    canonical: str,
    aliases: Sequence[str],
    owners: Mapping[str, str],
    canonical_owner: str | None,
    canonicals: Container[str],
    groups: Container[str] = (),
) -> str | None:
    """Why *canonical* may not take *aliases* (DATA.md §16.1), or None: an alias names one group in one step,
    so no chain (and no cycle) can form, and never a group that has members. *owners*: the canonical group
    owning each alias that has one; *canonical_owner*: the group *canonical* is itself an alias of;
    *canonicals*: groups that have aliases; *groups*: the text groups that have members."""
    if canonical in aliases:
        return f"Canonical name '{shown(canonical)}' cannot be its own alias"
    if canonical_owner is not None:
        return (
            f"'{shown(canonical)}' is an alias of '{shown(canonical_owner)}'; give the aliases to "
            f"'{shown(canonical_owner)}' instead"
        )
    for alias in aliases:
        owner = owners.get(alias)
        if owner is not None and owner != canonical:
            return f"Alias '{shown(alias)}' is already registered under canonical group '{shown(owner)}'"
        if alias in canonicals:
            return f"'{shown(alias)}' has aliases of its own; it cannot be an alias of '{shown(canonical)}'"
        if alias in groups:
            return (
                f"'{shown(alias)}' is a group of its own (text models are in it); it cannot be an alias of "
                f"'{shown(canonical)}'"
            )
    return None


class GroupFamilyListResponse(BaseModel):
    families: list[Family]


class SetFamilyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    members: list[GroupName] = Field(max_length=1_000)


class FamilyMemberRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_name: GroupName


class GroupNameSchemaUpdateRequest(BaseModel):
    """X10: the schema fields to change (null: kept as they are)."""

    model_config = ConfigDict(extra="forbid")

    separator: SchemaWord | None = None
    part_order: list[SchemaWord] | None = Field(None, max_length=32)
    author_included: bool | None = None
    common_author: GroupName | None = None
    template: Annotated[str, StringConstraints(max_length=1_000), NoNul] | None = None
    extra_parts: list[SchemaWord] | None = Field(None, max_length=32)

    def merged_into(self, schema: TextModelGroupNameSchema | None) -> TextModelGroupNameSchema:
        """*schema* (or the default one) with the fields given here."""
        return (schema or TextModelGroupNameSchema()).model_copy(update=self.model_dump(exclude_none=True))


class TextStructure(BaseModel):
    """What moderators decided about the groups (DATA.md §16): aliases, families, custom naming schemas. A
    PRIMARY keeps it in its database; a REPLICA holds its PRIMARY's copy."""

    model_config = ConfigDict(frozen=True)

    aliases: dict[str, list[str]] = Field(default_factory=dict)
    """Canonical group → the names that mean it."""
    families: dict[str, list[str]] = Field(default_factory=dict)
    """Family → its member groups."""
    schemas: dict[str, TextModelGroupNameSchema] = Field(default_factory=dict)
    """Group → its custom naming schema."""

    @cached_property
    def owners(self) -> dict[str, str]:
        """Alias → its canonical group."""
        return {alias: canonical for canonical, names in self.aliases.items() for alias in names}

    @cached_property
    def family_of(self) -> dict[str, str]:
        """Group → its family."""
        return {group: family for family, members in self.families.items() for group in members}

    @cached_property
    def tag(self) -> str:
        """Changes exactly when the structure does."""
        return hashlib.sha256(orjson.dumps(self.model_dump(), option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]

    def resolve(self, name: str) -> str:
        """The canonical group *name* is an alias of, else *name*."""
        return self.owners.get(name, name)

    def schema_of(self, group: str) -> TextModelGroupNameSchema | None:
        """The group's custom schema: kept under its name, else under the group its name is an alias of."""
        return self.schemas.get(group) or self.schemas.get(self.resolve(group))

    def related(self, group: str) -> Family | None:
        family = self.family_of.get(group)
        return None if family is None else Family(family_name=family, members=self.families[family])


def structure_problem(aliases: Mapping[str, Sequence[str]], families: Mapping[str, Sequence[str]]) -> str | None:
    """Why *aliases* and *families* break the rules of DATA.md §16, or None. The rules: an alias belongs to
    one canonical group and is not that group; no alias list and no family is empty; a group is in at most
    one family."""
    owners: dict[str, str] = {}
    for canonical, names in aliases.items():
        if not names:
            return f"canonical group '{shown(canonical)}' has an empty alias list"
        if canonical in names:
            return f"canonical group '{shown(canonical)}' is its own alias"
        for alias in names:
            if alias in owners:
                return f"alias '{shown(alias)}' is listed under '{shown(owners[alias])}' and '{shown(canonical)}'"
            owners[alias] = canonical
    family_of: dict[str, str] = {}
    for family, members in families.items():
        if not members:
            return f"family '{shown(family)}' has no member"
        for group in members:
            if group in family_of:
                return f"group '{shown(group)}' is listed in family '{shown(family_of[group])}' and '{shown(family)}'"
            family_of[group] = family
    return None


class TextStructureDocument(BaseModel):
    """``GET text_generation/structure`` as a REPLICA takes it: the three fields, nothing else, and the rules of
    DATA.md §16 kept. Anything else (``{}``, an error's ``{"detail": …}``) is no structure, so it cannot wipe
    the copy held."""

    model_config = ConfigDict(extra="forbid")

    aliases: dict[str, list[str]]
    families: dict[str, list[str]]
    schemas: dict[str, TextModelGroupNameSchema]

    @model_validator(mode="after")
    def _keeps_the_rules(self) -> Self:
        problem = structure_problem(self.aliases, self.families)
        if problem is not None:
            raise ValueError(problem)
        return self

    def structure(self) -> TextStructure:
        return TextStructure(aliases=self.aliases, families=self.families, schemas=self.schemas)
