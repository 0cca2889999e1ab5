"""The text toolkit's structural metadata (API.md X9–X11, X13–X25, DATA.md §16): group aliases, families and
custom naming schemas.

A PRIMARY keeps them in its database, each change one transaction with its audit event; a REPLICA holds its
PRIMARY's copy (``StructureSource``) and answers every read from it, and 503 on a change.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Any, Protocol

from modelref.domain.audit import EventSpec, Operation
from modelref.domain.changes import User
from modelref.domain.deployment import Deployment
from modelref.domain.formats import Format
from modelref.domain.inputs import shown
from modelref.domain.textgroups import GroupNameSchemaResponse
from modelref.domain.textstructure import (
    AliasEntry,
    Family,
    GroupAliasListResponse,
    GroupFamilyListResponse,
    GroupNameSchemaUpdateRequest,
    TextModelGroupNameSchema,
    TextStructure,
    alias_conflicts,
)
from modelref.errors import AlreadyExists, NotFound
from modelref.services.auth import Caller
from modelref.services.primary import OnPrimary
from modelref.storage.store import Store, Tx

ALIAS_AUDIT_CATEGORY = "text_group_aliases"
FAMILY_AUDIT_CATEGORY = "text_group_families"
SCHEMA_AUDIT_CATEGORY = "text_group_schemas"
STRUCTURAL_AUDIT_CATEGORIES = (ALIAS_AUDIT_CATEGORY, FAMILY_AUDIT_CATEGORY, SCHEMA_AUDIT_CATEGORY)


class StructureSource(Protocol):
    def structure(self) -> TextStructure:
        """The structure held now (NotReplicated on a REPLICA that has not received it yet)."""
        ...


class StoredStructure:
    """A PRIMARY's structure, read from its database again only when a change was committed since, by any
    process: every change commits its audit event with it, so the id of the latest structural event (one
    indexed query) tells whether the copy held is still the database's."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._held: tuple[int | None, TextStructure] | None = None
        """The structure read last and the id of the latest structural audit event before it was read (None:
        there was none)."""

    def structure(self) -> TextStructure:
        with self.store.read() as tx:
            version = tx.audit.last_event_id(STRUCTURAL_AUDIT_CATEGORIES)
            held = self._held
            if held is not None and held[0] == version:
                return held[1]
            # Read after the version: a change committed in between is read too, and only costs a re-read.
            structure = TextStructure(
                aliases=tx.aliases.entries(), families=tx.families.families(), schemas=tx.schemas.all()
            )
        self._held = (version, structure)
        return structure


class _Structure(OnPrimary):
    """Structural metadata: read from *source* (a PRIMARY's database or a REPLICA's copy), changed in the
    PRIMARY's database (the REPLICA guard answers before the key is resolved)."""

    def __init__(self, store: Store | None, deployment: Deployment, source: StructureSource) -> None:
        super().__init__(store)
        self.deployment = deployment
        self.source = source

    def _writable(self) -> Store:
        self.deployment.require_primary()  # a REPLICA answers before the key costs an AI-Horde call
        return self.store


class Aliases(_Structure):
    """Group aliases: an alias names one canonical group (``TextStructure.resolve`` maps a name through them).
    *groups* gives the names of the text groups that have members now (none of them may become an alias)."""

    def __init__(
        self,
        store: Store | None,
        deployment: Deployment,
        source: StructureSource,
        *,
        groups: Callable[[], Container[str]],
    ) -> None:
        super().__init__(store, deployment, source)
        self.groups = groups

    def entries(self) -> GroupAliasListResponse:
        found = self.source.structure().aliases
        return GroupAliasListResponse(entries=[AliasEntry(canonical=c, aliases=a) for c, a in found.items()])

    def entry(self, canonical: str) -> AliasEntry:
        aliases = self.source.structure().aliases.get(canonical)
        if not aliases:
            raise NotFound(_no_entry(canonical))
        return AliasEntry(canonical=canonical, aliases=aliases)

    def replace(self, canonical: str, aliases: list[str], caller: Caller) -> AliasEntry:
        """X15: the canonical group's aliases become *aliases* (409 on a conflict; nothing written when they
        are the ones it has)."""
        store = self._writable()
        user = caller.user()
        with store.write() as tx:
            before = tx.aliases.of(canonical)
            if set(aliases) != set(before):
                self._check(tx, canonical, aliases)
                tx.aliases.replace(canonical, aliases)
                self._audit(tx, user, canonical, before, tx.aliases.of(canonical))
        return AliasEntry(canonical=canonical, aliases=list(aliases))

    def add(self, canonical: str, alias: str, caller: Caller) -> AliasEntry:
        """X16: one more alias (idempotent); the entry is made when needed."""
        store = self._writable()
        user = caller.user()
        if alias == canonical:
            raise AlreadyExists(f"Cannot alias '{shown(canonical)}' to itself")
        with store.write() as tx:
            before = tx.aliases.of(canonical)
            if alias in before:
                return AliasEntry(canonical=canonical, aliases=before)
            self._check(tx, canonical, [alias])
            after = sorted([*before, alias])
            tx.aliases.replace(canonical, after)
            self._audit(tx, user, canonical, before, after)
        return AliasEntry(canonical=canonical, aliases=after)

    def remove(self, canonical: str, alias: str, caller: Caller) -> AliasEntry:
        """X17: one alias less; the last one's removal deletes the entry."""
        store = self._writable()
        user = caller.user()
        with store.write() as tx:
            before = tx.aliases.of(canonical)
            if alias not in before:
                raise NotFound(f"Alias '{shown(alias)}' not found under canonical group '{shown(canonical)}'")
            after = [a for a in before if a != alias]
            tx.aliases.replace(canonical, after)
            self._audit(tx, user, canonical, before, after)
        return AliasEntry(canonical=canonical, aliases=after)

    def delete(self, canonical: str, caller: Caller) -> None:
        """X18: the whole entry."""
        store = self._writable()
        user = caller.user()
        with store.write() as tx:
            before = tx.aliases.of(canonical)
            if not before:
                raise NotFound(_no_entry(canonical))
            tx.aliases.replace(canonical, [])
            self._audit(tx, user, canonical, before, [])

    def _check(self, tx: Tx, canonical: str, aliases: list[str]) -> None:
        owners = tx.aliases.owners(aliases)
        canonicals = tx.aliases.canonicals_among(aliases)
        problem = alias_conflicts(canonical, aliases, owners, tx.aliases.owner(canonical), canonicals, self.groups())
        if problem is not None:
            raise AlreadyExists(problem)

    @staticmethod
    def _audit(tx: Tx, user: User, canonical: str, before: list[str], after: list[str]) -> None:
        _audit(tx, user, ALIAS_AUDIT_CATEGORY, canonical, _listed("aliases", before), _listed("aliases", after))


def _no_entry(canonical: str) -> str:
    return f"No alias entry for canonical group '{shown(canonical)}'"


class Families(_Structure):
    """Families of groups: informational; a group belongs to at most one (DATA.md §16.2)."""

    def families(self) -> GroupFamilyListResponse:
        found = self.source.structure().families
        return GroupFamilyListResponse(families=[Family(family_name=f, members=m) for f, m in found.items()])

    def family(self, name: str) -> Family:
        members = self.source.structure().families.get(name)
        if not members:
            raise NotFound(_no_family(name))
        return Family(family_name=name, members=members)

    def replace(self, name: str, members: list[str], caller: Caller) -> Family:
        """X22: create or replace a family (409 when empty, or a member belongs to another family; nothing
        written when it has these members already)."""
        store = self._writable()
        user = caller.user()
        if not members:
            raise AlreadyExists("A family must have at least one member group.")
        wanted = sorted(set(members))
        with store.write() as tx:
            before = tx.families.members(name)
            if set(before) == set(wanted):
                return Family(family_name=name, members=wanted)
            for group, other in tx.families.families_of(wanted).items():
                if other != name:
                    raise AlreadyExists(
                        f"Group '{shown(group)}' already belongs to family '{shown(other)}'. "
                        "Remove it from that family first."
                    )
            tx.families.replace(name, wanted)
            _audit(tx, user, FAMILY_AUDIT_CATEGORY, name, _listed("members", before), _listed("members", wanted))
        return Family(family_name=name, members=wanted)

    def add(self, name: str, group: str, caller: Caller) -> Family:
        """X23: one more member of an existing family."""
        store = self._writable()
        user = caller.user()
        with store.write() as tx:
            before = tx.families.members(name)
            if not before:
                raise NotFound(f"Family '{shown(name)}' does not exist.")
            if group in before:
                return Family(family_name=name, members=before)
            other = tx.families.families_of([group]).get(group)
            if other is not None:
                raise AlreadyExists(f"Group '{shown(group)}' already belongs to family '{shown(other)}'.")
            after = sorted([*before, group])
            tx.families.replace(name, after)
            _audit(tx, user, FAMILY_AUDIT_CATEGORY, name, _listed("members", before), _listed("members", after))
        return Family(family_name=name, members=after)

    def remove(self, name: str, group: str, caller: Caller) -> Family:
        """X24: one member less; a family emptied so is deleted."""
        store = self._writable()
        user = caller.user()
        with store.write() as tx:
            before = tx.families.members(name)
            if group not in before:
                raise NotFound(f"Group '{shown(group)}' not found in family '{shown(name)}'")
            after = [g for g in before if g != group]
            tx.families.replace(name, after)
            _audit(tx, user, FAMILY_AUDIT_CATEGORY, name, _listed("members", before), _listed("members", after))
        return Family(family_name=name, members=after)

    def delete(self, name: str, caller: Caller) -> None:
        """X25."""
        store = self._writable()
        user = caller.user()
        with store.write() as tx:
            before = tx.families.members(name)
            if not before:
                raise NotFound(_no_family(name))
            tx.families.replace(name, [])
            _audit(tx, user, FAMILY_AUDIT_CATEGORY, name, _listed("members", before), None)


def _no_family(name: str) -> str:
    return f"Family '{shown(name)}' not found"


class Schemas(_Structure):
    """Custom naming schemas: a group's overrides the one inferred from its members' names (DATA.md §16.3)."""

    def update(self, group: str, request: GroupNameSchemaUpdateRequest, caller: Caller) -> GroupNameSchemaResponse:
        """X10: the fields given, merged into the group's custom schema (or the default one) and saved. The
        group need not exist."""
        store = self._writable()
        user = caller.user()
        with store.write() as tx:
            before = tx.schemas.get(group)
            merged = request.merged_into(before)
            if merged != before:
                tx.schemas.put(group, merged)
                _audit(tx, user, SCHEMA_AUDIT_CATEGORY, group, _dumped(before), _dumped(merged))
        return GroupNameSchemaResponse(group_name=group, name_schema=merged, is_custom=True)

    def delete(self, group: str, caller: Caller) -> None:
        """X11: the group's schema is inferred again."""
        store = self._writable()
        user = caller.user()
        with store.write() as tx:
            before = tx.schemas.get(group)
            if before is None:
                raise NotFound(f"No custom naming schema found for group '{shown(group)}'")
            tx.schemas.delete(group)
            _audit(tx, user, SCHEMA_AUDIT_CATEGORY, group, _dumped(before), None)


def _listed(field: str, names: list[str]) -> dict[str, Any] | None:
    return {field: names} if names else None


def _dumped(schema: TextModelGroupNameSchema | None) -> dict[str, Any] | None:
    return None if schema is None else schema.model_dump()


def _audit(
    tx: Tx, user: User, category: str, name: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> None:
    """One audit event for a change of a structural entry (None: there was none, or is none now)."""
    operation = Operation.CREATE if before is None else Operation.DELETE if after is None else Operation.UPDATE
    payload = {"before": before, "after": after}
    tx.audit.append([EventSpec(Format.V2, category, name, operation, user.user_id, payload)])
