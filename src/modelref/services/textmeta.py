"""The text toolkit's structural metadata on a PRIMARY: group aliases and families (API.md X13–X25, DATA.md
§16.1, §16.2).

Each change is one transaction with its audit event. Not on a REPLICA yet (503, G-STORE).
"""

from __future__ import annotations

from modelref.domain.audit import EventSpec, Operation
from modelref.domain.changes import User
from modelref.domain.deployment import Deployment
from modelref.domain.formats import Format
from modelref.domain.inputs import shown
from modelref.domain.textgroups import (
    AliasEntry,
    Family,
    GroupAliasListResponse,
    GroupFamilyListResponse,
    alias_conflicts,
)
from modelref.errors import AlreadyExists, NotFound, NotServed
from modelref.services.auth import Caller
from modelref.services.primary import OnPrimary
from modelref.storage.store import Store, Tx

AUDIT_CATEGORY = "text_group_aliases"
NO_STORE = "Text group aliases are kept on the PRIMARY only (a REPLICA does not receive them yet)."


class _Structure(OnPrimary):
    """Structural metadata in the PRIMARY's database: read there (503 on a REPLICA, which does not receive it
    yet), changed there (the REPLICA guard answers before the key is resolved)."""

    not_held = NO_STORE

    def __init__(self, store: Store | None, deployment: Deployment) -> None:
        super().__init__(store)
        self.deployment = deployment

    def _held(self) -> Store:
        if not self.deployment.writable:
            raise NotServed(self.not_held)
        return self.store

    def _writable(self) -> Store:
        self.deployment.require_primary()  # a REPLICA answers before the key costs an AI-Horde call
        return self.store


class Aliases(_Structure):
    """Group aliases: an alias names one canonical group; ``resolve`` maps a name through them."""

    def entries(self) -> GroupAliasListResponse:
        with self._held().read() as tx:
            found = tx.aliases.entries()
        return GroupAliasListResponse(entries=[AliasEntry(canonical=c, aliases=a) for c, a in found.items()])

    def entry(self, canonical: str) -> AliasEntry:
        with self._held().read() as tx:
            aliases = tx.aliases.of(canonical)
        if not aliases:
            raise NotFound(_no_entry(canonical))
        return AliasEntry(canonical=canonical, aliases=aliases)

    def held(self) -> dict[str, list[str]]:
        """Every canonical group with its aliases; nothing on a REPLICA (it does not receive them yet)."""
        if self._store is None:
            return {}
        with self._store.read() as tx:
            return tx.aliases.entries()

    def resolve(self, name: str) -> str:
        """The canonical group *name* is an alias of, else *name* (no store: *name*)."""
        if self._store is None:
            return name
        with self._store.read() as tx:
            return tx.aliases.owner(name) or name

    def replace(self, canonical: str, aliases: list[str], caller: Caller) -> AliasEntry:
        """X15: the canonical group's aliases become *aliases* (409 on a conflict)."""
        store = self._writable()
        user = caller.user()
        with store.write() as tx:
            self._check(tx, canonical, aliases)
            before = tx.aliases.of(canonical)
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
            self._check(tx, canonical, [alias])
            after = sorted({*before, alias})
            if after != before:
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

    @staticmethod
    def _check(tx: Tx, canonical: str, aliases: list[str]) -> None:
        owners = tx.aliases.owners(aliases)
        canonicals = tx.aliases.canonicals_among(aliases)
        problem = alias_conflicts(canonical, aliases, owners, tx.aliases.owner(canonical), canonicals)
        if problem is not None:
            raise AlreadyExists(problem)

    @staticmethod
    def _audit(tx: Tx, user: User, canonical: str, before: list[str], after: list[str]) -> None:
        _audit(tx, user, AUDIT_CATEGORY, canonical, "aliases", before, after)


def _no_entry(canonical: str) -> str:
    return f"No alias entry for canonical group '{shown(canonical)}'"


FAMILY_AUDIT_CATEGORY = "text_group_families"


class Families(_Structure):
    """Families of groups: informational; a group belongs to at most one (DATA.md §16.2)."""

    not_held = "Text group families are kept on the PRIMARY only (a REPLICA does not receive them yet)."

    def families(self) -> GroupFamilyListResponse:
        with self._held().read() as tx:
            found = tx.families.families()
        return GroupFamilyListResponse(families=[Family(family_name=f, members=m) for f, m in found.items()])

    def family(self, name: str) -> Family:
        with self._held().read() as tx:
            members = tx.families.members(name)
        if not members:
            raise NotFound(_no_family(name))
        return Family(family_name=name, members=members)

    def held(self) -> dict[str, list[str]]:
        """Every family with its members; nothing on a REPLICA (it does not receive them yet)."""
        if self._store is None:
            return {}
        with self._store.read() as tx:
            return tx.families.families()

    def related(self, group: str) -> Family | None:
        """The family *group* belongs to, if any."""
        if self._store is None:
            return None
        with self._store.read() as tx:
            family = tx.families.families_of([group]).get(group)
            return None if family is None else Family(family_name=family, members=tx.families.members(family))

    def replace(self, name: str, members: list[str], caller: Caller) -> Family:
        """X22: create or replace a family (409 when empty, or a member belongs to another family)."""
        store = self._writable()
        user = caller.user()
        if not members:
            raise AlreadyExists("A family must have at least one member group.")
        wanted = sorted(set(members))
        with store.write() as tx:
            for group, other in tx.families.families_of(wanted).items():
                if other != name:
                    raise AlreadyExists(
                        f"Group '{shown(group)}' already belongs to family '{shown(other)}'. "
                        "Remove it from that family first."
                    )
            before = tx.families.members(name)
            tx.families.replace(name, wanted)
            _audit(tx, user, FAMILY_AUDIT_CATEGORY, name, "members", before, wanted)
        return Family(family_name=name, members=wanted)

    def add(self, name: str, group: str, caller: Caller) -> Family:
        """X23: one more member of an existing family."""
        store = self._writable()
        user = caller.user()
        with store.write() as tx:
            before = tx.families.members(name)
            if not before:
                raise NotFound(f"Family '{shown(name)}' does not exist.")
            other = tx.families.families_of([group]).get(group)
            if other is not None and other != name:
                raise AlreadyExists(f"Group '{shown(group)}' already belongs to family '{shown(other)}'.")
            after = sorted({*before, group})
            if after != before:
                tx.families.replace(name, after)
                _audit(tx, user, FAMILY_AUDIT_CATEGORY, name, "members", before, after)
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
            _audit(tx, user, FAMILY_AUDIT_CATEGORY, name, "members", before, after)
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
            _audit(tx, user, FAMILY_AUDIT_CATEGORY, name, "members", before, [])


def _no_family(name: str) -> str:
    return f"Family '{shown(name)}' not found"


def _audit(tx: Tx, user: User, category: str, name: str, field: str, before: list[str], after: list[str]) -> None:
    """One audit event for a change of a structural entry (its list *field* before and after)."""
    operation = Operation.CREATE if not before else Operation.DELETE if not after else Operation.UPDATE
    payload = {"before": {field: before} if before else None, "after": {field: after} if after else None}
    tx.audit.append([EventSpec(Format.V2, category, name, operation, user.user_id, payload)])
