"""The text-generation toolkit's reads (API.md §14): names, groups, health, inferred schemas, families.

Answers are pure functions of the text category's snapshot: each is made once per version (and parameters).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from modelref.domain.categories import Category
from modelref.domain.textgroups import (
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
    Records,
    compose_name,
    detect_families,
    distinct_baselines,
    group_members,
    group_names,
    groups_health,
    groups_summary,
    inferred_schema,
    no_group,
    parse_name,
    with_structure,
)
from modelref.domain.textnames import base_name
from modelref.errors import NotFound
from modelref.services.memo import Recent
from modelref.services.reads import Reads
from modelref.services.textmeta import Aliases, Families

T = TypeVar("T")


class TextTools:
    """The reads of the text-generation toolkit, over the catalog's text snapshot."""

    def __init__(self, reads: Reads[Any], aliases: Aliases, families: Families) -> None:
        self.reads = reads
        self.aliases = aliases
        self.families = families
        self._made: Recent[tuple[Any, ...], Any] = Recent(64)

    def _answer(self, what: tuple[Any, ...], make: Callable[[Records], T]) -> T:
        snapshot = self.reads.snapshot(Category.TEXT_GENERATION)
        made: T = self._made.get((snapshot.fingerprint, *what), lambda: make(snapshot.documents()))
        return made

    def parse_name(self, name: str) -> ParsedNameResponse:
        """X1: the suggested group resolved through the aliases."""
        return parse_name(name, self.aliases.resolve(base_name(name)))

    def compose_name(self, request: ComposeNameRequest) -> ComposeNameResponse:
        snapshot = self.reads.snapshot(Category.TEXT_GENERATION)
        return compose_name(request, snapshot.records)

    def distinct_baselines(self) -> DistinctBaselinesResponse:
        return self._answer(("baselines",), distinct_baselines)

    def groups(self) -> GroupListResponse:
        return self._answer(("groups",), group_names)

    def group(self, name: str) -> GroupMembersResponse:
        """X5, with the family the group belongs to."""
        found = self._answer(("group", name), lambda records: group_members(name, records))
        if found is None:
            raise NotFound(no_group(name))
        family = self.families.related(name)
        return found if family is None else found.model_copy(update={"related_family": family})

    def summary(self) -> GroupsSummaryResponse:
        """X6, with the aliases and families held now."""
        made = self._answer(("summary",), groups_summary)
        return with_structure(made, self.aliases.held(), self.families.held())

    def health(self) -> GroupHealthResponse:
        return self._answer(("health",), groups_health)

    def name_schema(self, name: str) -> GroupNameSchemaResponse:
        found = self._answer(("schema", name), lambda records: inferred_schema(name, records))
        if found is None:
            raise NotFound(no_group(name))
        return found

    def detect_families(self, params: DetectFamiliesParams) -> DetectFamiliesResponse:
        """X20: group names resolved through the aliases held now."""
        owners = {alias: canonical for canonical, aliases in self.aliases.held().items() for alias in aliases}
        key = ("families", params.min_prefix_length, params.min_family_size, tuple(sorted(owners.items())))
        return self._answer(key, lambda records: detect_families(records, params, owners))
