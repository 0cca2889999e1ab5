"""Aliases, families and naming schemas on both engines: one owner per alias, one family per group, each
change one transaction with its audit event, no lost update; a REPLICA refuses before asking who calls."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from modelref.domain.deployment import Deployment, ReplicateMode
from modelref.domain.textgroups import GroupNameSchemaUpdateRequest, TextModelGroupNameSchema, TextStructure
from modelref.errors import AlreadyExists, NotFound, NotReplicated, NotWritable
from modelref.services.textmeta import Aliases, Families, Schemas, StoredStructure
from modelref.storage.store import Store
from tests.factories import RefusingCaller, requestor
from tests.support import audit_events, chain_problems


def _resolve(store: Store, name: str) -> str:
    return StoredStructure(store).structure().resolve(name)


def test_every_change_is_audited_in_the_chain(store: Store) -> None:
    aliases = Aliases(store, Deployment(), StoredStructure(store))
    aliases.replace("Llama-3", ["Meta-Llama-3"], requestor())
    aliases.add("Llama-3", "L3", requestor())
    aliases.add("Llama-3", "L3", requestor())  # nothing changes: no event
    aliases.remove("Llama-3", "Meta-Llama-3", requestor())
    aliases.delete("Llama-3", requestor())
    events = [e for e in audit_events(store) if e.category == "text_group_aliases"]
    assert [(e.operation, e.payload_value()["after"]) for e in events] == [
        ("create", {"aliases": ["Meta-Llama-3"]}),
        ("update", {"aliases": ["L3", "Meta-Llama-3"]}),
        ("update", {"aliases": ["L3"]}),
        ("delete", None),
    ]
    assert chain_problems(store) == []
    assert _resolve(store, "L3") == "L3"  # deleted


def test_a_refused_change_writes_nothing(store: Store) -> None:
    aliases = Aliases(store, Deployment(), StoredStructure(store))
    aliases.replace("A", ["x"], requestor())
    with pytest.raises(AlreadyExists, match="already registered under canonical group 'A'"):
        aliases.replace("B", ["y", "x"], requestor())
    assert aliases.entries().model_dump() == {"entries": [{"canonical": "A", "aliases": ["x"]}]}
    assert _resolve(store, "x") == "A"
    assert _resolve(store, "y") == "y"


def test_concurrent_writers_leave_one_owner(store: Store) -> None:
    aliases = Aliases(store, Deployment(), StoredStructure(store))
    outcomes: list[str] = []

    def claim(canonical: str) -> None:
        try:
            aliases.add(canonical, "contested", requestor())
            outcomes.append("added")
        except AlreadyExists:
            outcomes.append("refused")

    threads = [threading.Thread(target=claim, args=(f"G{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["added"] + ["refused"] * 5
    assert len(aliases.entries().entries) == 1


class Received:
    """A REPLICA's copy of its PRIMARY's structure (None: not received yet)."""

    def __init__(self, structure: TextStructure | None) -> None:
        self.held = structure

    def structure(self) -> TextStructure:
        if self.held is None:
            raise NotReplicated("not received yet")
        return self.held


def test_a_replica_reads_what_it_received_and_refuses_changes_before_asking_who_calls() -> None:
    received = Received(None)
    replica = Deployment(ReplicateMode.REPLICA)
    aliases, families, schemas = (
        Aliases(None, replica, received),
        Families(None, replica, received),
        Schemas(None, replica, received),
    )
    caller = RefusingCaller()
    with pytest.raises(NotWritable):
        aliases.add("A", "x", caller)
    with pytest.raises(NotWritable):
        families.replace("F", ["A"], caller)
    with pytest.raises(NotWritable):
        schemas.update("A", GroupNameSchemaUpdateRequest(separator="_"), caller)
    with pytest.raises(NotWritable):
        schemas.delete("A", caller)
    assert caller.asked == []
    with pytest.raises(NotReplicated):
        aliases.entries()
    received.held = TextStructure(aliases={"A": ["x"]}, families={"F": ["A", "B"]})
    assert aliases.entry("A").aliases == ["x"]
    assert families.family("F").members == ["A", "B"]
    with pytest.raises(NotFound):
        families.family("G")


def test_concurrent_additions_to_one_family_lose_nothing(store: Store) -> None:
    families = Families(store, Deployment(), StoredStructure(store))
    families.replace("F", ["base"], requestor())
    threads = [threading.Thread(target=families.add, args=("F", f"g{i}", requestor())) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert families.family("F").members == ["base"] + [f"g{i}" for i in range(6)]
    events = [e for e in audit_events(store) if e.category == "text_group_families"]
    assert len(events) == 7
    assert chain_problems(store) == []
    with pytest.raises(AlreadyExists, match="already belongs to family 'F'"):
        families.replace("G", ["g1"], requestor())


def test_a_schema_update_merges_into_the_one_held_and_is_audited(store: Store) -> None:
    schemas = Schemas(store, Deployment(), StoredStructure(store))
    first = schemas.update("Llama-3", GroupNameSchemaUpdateRequest(separator="_"), requestor())
    assert first.is_custom
    assert first.name_schema == TextModelGroupNameSchema(separator="_")  # merged into the default one
    second = schemas.update("Llama-3", GroupNameSchemaUpdateRequest(template="{base}_{size}"), requestor())
    assert second.name_schema == TextModelGroupNameSchema(separator="_", template="{base}_{size}")
    schemas.update("Llama-3", GroupNameSchemaUpdateRequest(template="{base}_{size}"), requestor())  # no change
    assert StoredStructure(store).structure().schemas == {"Llama-3": second.name_schema}
    schemas.delete("Llama-3", requestor())
    with pytest.raises(NotFound, match="No custom naming schema found for group 'Llama-3'"):
        schemas.delete("Llama-3", requestor())
    events = [e for e in audit_events(store) if e.category == "text_group_schemas"]
    assert [e.operation for e in events] == ["create", "update", "delete"]
    assert events[1].payload_value()["before"]["template"] is None
    assert events[1].payload_value()["after"]["template"] == "{base}_{size}"
    assert chain_problems(store) == []
    assert StoredStructure(store).structure().schemas == {}


def test_concurrent_schema_updates_of_different_fields_lose_nothing(store: Store) -> None:
    schemas = Schemas(store, Deployment(), StoredStructure(store))
    updates = [
        GroupNameSchemaUpdateRequest(separator="_"),
        GroupNameSchemaUpdateRequest(template="{base}"),
        GroupNameSchemaUpdateRequest(common_author="meta"),
        GroupNameSchemaUpdateRequest(author_included=False),
        GroupNameSchemaUpdateRequest(extra_parts=["DATE"]),
    ]
    threads = [threading.Thread(target=schemas.update, args=("G", u, requestor())) for u in updates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    held = StoredStructure(store).structure().schemas["G"]
    assert held == TextModelGroupNameSchema(
        separator="_", template="{base}", common_author="meta", author_included=False, extra_parts=["DATE"]
    )


def test_a_schema_is_found_under_the_group_an_alias_names() -> None:
    structure = TextStructure(aliases={"Llama-3": ["Meta-Llama-3"]}, schemas={"Llama-3": TextModelGroupNameSchema()})
    assert structure.schema_of("Meta-Llama-3") == TextModelGroupNameSchema()
    assert structure.schema_of("Llama-3") == TextModelGroupNameSchema()
    assert structure.schema_of("other") is None


def _edit_family(database_url: str, prefix: str, count: int) -> None:
    """In a process of its own: add *count* groups to family F, then take one out again."""
    store = Store(database_url)
    families = Families(store, Deployment(), StoredStructure(store))
    for i in range(count):
        families.add("F", f"{prefix}{i}", requestor())
    families.remove("F", f"{prefix}0", requestor())
    store.close()


def test_two_processes_editing_one_family_lose_nothing(store: Store, database_url: str) -> None:
    Families(store, Deployment(), StoredStructure(store)).replace("F", ["base"], requestor())
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_edit_family, args=(database_url, prefix, 8)) for prefix in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    members = StoredStructure(store).structure().families["F"]
    assert members == sorted(["base", *(f"{p}{i}" for p in "ab" for i in range(1, 8))])
    assert len([e for e in audit_events(store) if e.category == "text_group_families"]) == 1 + 2 * 9
    assert chain_problems(store) == []
