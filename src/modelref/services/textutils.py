"""The text-generation toolkit's reads (API.md §14): names, groups, health, naming schemas, families.

Answers are pure functions of the text category's snapshot and the structure (aliases, families, custom
schemas): each is made once per version of both (and parameters).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import orjson

from modelref.domain.categories import Category
from modelref.domain.textgroups import (
    ComposeNameRequest,
    ComposeNameResponse,
    DetectFamiliesParams,
    DetectFamiliesResponse,
    DistinctBaselinesResponse,
    GroupHealthResponse,
    GroupIndex,
    GroupListResponse,
    GroupMembersResponse,
    GroupNameSchemaResponse,
    GroupsSummaryResponse,
    ParsedNameResponse,
    Records,
    compose_name,
    detect_families,
    distinct_baselines,
    group_index,
    group_members,
    groups_health,
    groups_summary,
    inferred_schema,
    no_group,
    parse_name,
    with_custom_schema,
    with_structure,
)
from modelref.domain.textnames import base_name
from modelref.errors import NotFound
from modelref.services.catalog import Snapshot
from modelref.services.memo import Recent
from modelref.services.reads import Answer, Reads
from modelref.services.textmeta import StructureSource

T = TypeVar("T")


class TextTools:
    """The reads of the text-generation toolkit, over the catalog's text snapshot."""

    def __init__(self, reads: Reads[Any], source: StructureSource) -> None:
        self.reads = reads
        self.source = source
        self._made: Recent[tuple[Any, ...], Any] = Recent(64)
        """Answers about the whole category (a few per snapshot), the group index among them."""
        self._asked: Recent[tuple[Any, ...], Any] = Recent(256)
        """Answers to what a caller names (a group, detection parameters): kept apart, so however many are
        asked they never evict the answers about the whole category. Only groups that exist get here."""

    def _text(self) -> Snapshot[Any]:
        return self.reads.snapshot(Category.TEXT_GENERATION)

    def _answer(self, what: tuple[Any, ...], make: Callable[[Records], T]) -> T:
        snapshot = self._text()
        made: T = self._made.get((snapshot.fingerprint, *what), lambda: make(snapshot.documents()))
        return made

    def _index(self, snapshot: Snapshot[Any]) -> Mapping[str, Records]:
        index: GroupIndex = self._made.get((snapshot.fingerprint, "index"), lambda: group_index(snapshot.documents()))
        return index

    def _of_group(self, name: str, what: str, make: Callable[[str, Records], T | None]) -> T:
        """An answer about one group, made from its members once per snapshot; NotFound when it has none (a
        miss is not kept, so names of no group cannot crowd out the answers kept)."""
        snapshot = self._text()
        members = self._index(snapshot).get(name)
        if members is None:
            raise NotFound(no_group(name))
        found: T | None = self._asked.get((snapshot.fingerprint, what, name), lambda: make(name, members))
        if found is None:
            raise NotFound(no_group(name))
        return found

    def members_by_group(self) -> Mapping[str, Records]:
        """Each text group that has members, with them (one index per snapshot)."""
        return self._index(self._text())

    def parse_name(self, name: str) -> ParsedNameResponse:
        """X1: the suggested group resolved through the aliases."""
        return parse_name(name, self.source.structure().resolve(base_name(name)))

    def compose_name(self, request: ComposeNameRequest) -> ComposeNameResponse:
        return compose_name(request, self._text().records)

    def distinct_baselines(self) -> DistinctBaselinesResponse:
        return self._answer(("baselines",), distinct_baselines)

    def groups(self) -> GroupListResponse:
        return GroupListResponse(groups=list(self.members_by_group()))

    def group(self, name: str) -> GroupMembersResponse:
        """X5, with the family the group belongs to and its custom schema."""
        structure = self.source.structure()
        return with_custom_schema(self._of_group(name, "group", group_members), structure)

    def summary(self) -> GroupsSummaryResponse:
        """X6, with the aliases, families and custom schemas held now."""
        structure = self.source.structure()
        made = self._answer(("summary",), groups_summary)
        return self._answer(("summary", structure.tag), lambda _: with_structure(made, structure))

    def health(self) -> GroupHealthResponse:
        return self._answer(("health",), groups_health)

    def name_schema(self, name: str) -> GroupNameSchemaResponse:
        """X9: the group's custom schema (under its name, else the group it is an alias of), else the one
        inferred from its members' names."""
        custom = self.source.structure().schema_of(name)
        if custom is not None:
            return GroupNameSchemaResponse(group_name=name, name_schema=custom, is_custom=True)
        return self._of_group(name, "schema", inferred_schema)

    def detect_families(self, params: DetectFamiliesParams) -> DetectFamiliesResponse:
        """X20: group names resolved through the aliases held now."""
        structure = self.source.structure()
        snapshot = self._text()
        key = (snapshot.fingerprint, "families", params.min_prefix_length, params.min_family_size, structure.tag)
        made: DetectFamiliesResponse = self._asked.get(
            key, lambda: detect_families(snapshot.documents(), params, structure.owners)
        )
        return made

    def structure(self) -> Answer:
        """The aliases, families and custom schemas as one document (what a REPLICA pulls), tagged."""
        structure = self.source.structure()
        body = orjson.dumps(structure.model_dump())  # a few kilobytes: not worth keeping
        return Answer(body, structure.tag)
