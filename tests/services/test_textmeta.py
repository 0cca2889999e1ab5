"""Aliases, families and naming schemas on both engines: one owner per alias, one family per group, each
change one transaction with its audit event, no lost update; a REPLICA refuses before asking who calls."""

from __future__ import annotations

import multiprocessing
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any, cast

import pytest
import sqlalchemy as sa

from modelref.domain.audit import EventSpec, Operation
from modelref.domain.categories import Category
from modelref.domain.deployment import Deployment, ReplicateMode
from modelref.domain.formats import Format
from modelref.domain.textstructure import GroupNameSchemaUpdateRequest, TextModelGroupNameSchema, TextStructure
from modelref.errors import AlreadyExists, NotFound, NotReplicated, NotWritable
from modelref.services.reads import Reads
from modelref.services.textmeta import STRUCTURAL_AUDIT_CATEGORIES, Aliases, Families, Schemas, StoredStructure
from modelref.services.textutils import TextTools
from modelref.storage.store import Store
from tests.factories import RefusingCaller, requestor, text_record
from tests.support import POSTGRES_ENV, audit_events, chain_problems


def _resolve(store: Store, name: str) -> str:
    return StoredStructure(store).structure().resolve(name)


def test_every_change_is_audited_in_the_chain(store: Store) -> None:
    aliases = Aliases(store, Deployment(), StoredStructure(store), groups=set)
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
    aliases = Aliases(store, Deployment(), StoredStructure(store), groups=set)
    aliases.replace("A", ["x"], requestor())
    with pytest.raises(AlreadyExists, match="already registered under canonical group 'A'"):
        aliases.replace("B", ["y", "x"], requestor())
    assert aliases.entries().model_dump() == {"entries": [{"canonical": "A", "aliases": ["x"]}]}
    assert _resolve(store, "x") == "A"
    assert _resolve(store, "y") == "y"


def test_concurrent_writers_leave_one_owner(store: Store) -> None:
    aliases = Aliases(store, Deployment(), StoredStructure(store), groups=set)
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
        Aliases(None, replica, received, groups=set),
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


def test_the_stored_structure_is_read_again_only_after_a_structural_event(store: Store) -> None:
    source = StoredStructure(store)
    with store.read() as tx:
        assert tx.audit.last_event_id(STRUCTURAL_AUDIT_CATEGORIES) is None
    empty = source.structure()
    assert source.structure() is empty  # nothing changed: the copy held
    with store.write() as tx:
        tx.audit.append([EventSpec(Format.V2, "image_generation", "x", Operation.CREATE, "1001", None)])
    assert source.structure() is empty  # another category's event is no structural change
    Aliases(store, Deployment(), source, groups=set).replace("Llama-3", ["L3"], requestor())
    with store.read() as tx:
        latest = tx.audit.last_event_id(STRUCTURAL_AUDIT_CATEGORIES)
    assert latest == audit_events(store)[-1].event_id
    assert source.structure().resolve("L3") == "Llama-3"


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


def test_replacing_with_what_is_there_writes_nothing(store: Store) -> None:
    aliases = Aliases(store, Deployment(), StoredStructure(store), groups=set)
    families = Families(
        store,
        Deployment(),
        StoredStructure(store),
    )
    aliases.replace("A", ["x", "y"], requestor())
    families.replace("F", ["b", "a"], requestor())
    assert aliases.replace("A", ["y", "x", "y"], requestor()).aliases == ["y", "x", "y"]  # echoed as sent
    assert aliases.add("A", "x", requestor()).aliases == ["x", "y"]
    assert aliases.replace("B", [], requestor()).model_dump() == {"canonical": "B", "aliases": []}
    assert families.replace("F", ["a", "b", "a"], requestor()).members == ["a", "b"]
    assert families.add("F", "b", requestor()).members == ["a", "b"]
    events = [e for e in audit_events(store) if e.category.startswith("text_group_")]
    assert [(e.category, e.operation) for e in events] == [
        ("text_group_aliases", "create"),
        ("text_group_families", "create"),
    ]
    assert StoredStructure(store).structure().aliases == {"A": ["x", "y"]}  # no entry made for B


def test_an_alias_may_not_name_a_group_with_members(store: Store) -> None:
    groups = {"Marx"}
    aliases = Aliases(store, Deployment(), StoredStructure(store), groups=lambda: groups)
    with pytest.raises(AlreadyExists, match="'Marx' is a group of its own"):
        aliases.replace("A", ["x", "Marx"], requestor())
    with pytest.raises(AlreadyExists, match="'Marx' is a group of its own"):
        aliases.add("A", "Marx", requestor())
    aliases.replace("A", ["G"], requestor())
    groups.add("G")  # models were put in a group of that name since
    assert aliases.replace("A", ["G"], requestor()).aliases == ["G"]  # nothing changes: nothing to refuse
    with pytest.raises(AlreadyExists, match="'G' is a group of its own"):
        aliases.replace("A", ["G", "h"], requestor())
    assert StoredStructure(store).structure().aliases == {"A": ["G"]}


def test_a_change_through_another_store_is_seen_at_once(store: Store, database_url: str) -> None:
    held = StoredStructure(store)
    first = held.structure()
    assert held.structure() is first  # kept while nothing changed
    other = Store(database_url)
    try:
        Aliases(other, Deployment(), StoredStructure(other), groups=set).replace("A", ["x"], requestor())
        Schemas(other, Deployment(), StoredStructure(other)).update(
            "A", GroupNameSchemaUpdateRequest(separator="_"), requestor()
        )
        seen = held.structure()
        assert (seen.aliases, seen.schemas["A"].separator) == ({"A": ["x"]}, "_")
        assert held.structure() is seen
        Families(other, Deployment(), StoredStructure(other)).replace("F", ["A"], requestor())
        assert held.structure().families == {"F": ["A"]}
    finally:
        other.close()


@pytest.fixture
def icu_store() -> Iterator[Store]:
    """A PostgreSQL database whose collation is ICU's English one (ORDER BY: ``a`` before ``B``)."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    admin_url = sa.make_url(url)
    name = f"modelref_icu_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            sa.text(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8'"
            )
        )
    store = Store(admin_url.set(database=name).render_as_string(hide_password=False))
    try:
        store.migrate()
        yield store
    finally:
        store.close()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_the_order_is_the_same_under_any_collation(icu_store: Store) -> None:
    aliases = Aliases(icu_store, Deployment(), StoredStructure(icu_store), groups=set)
    families = Families(icu_store, Deployment(), StoredStructure(icu_store))
    names = ["b", "B", "a", "_x", "Z"]
    aliases.replace("A", names, requestor())
    families.replace("F", names, requestor())
    families.replace("g", ["q"], requestor())
    families.replace("G", ["r"], requestor())
    structure = StoredStructure(icu_store).structure()
    assert structure.aliases == {"A": sorted(names)}  # by code point: B Z _x a b
    assert list(structure.families) == ["F", "G", "g"]
    assert structure.families["F"] == sorted(names)
    aliases.add("A", "a", requestor())
    families.add("F", "a", requestor())
    assert len([e for e in audit_events(icu_store) if e.category.startswith("text_group_")]) == 4  # adds: none


class TextSnapshot:
    """The text category at one version, as ``Reads`` gives it; counts how often its records are walked."""

    fingerprint = "one-version"

    def __init__(self, documents: list[tuple[str, dict[str, Any]]]) -> None:
        self._documents = documents
        self.records = dict(documents)
        self.walks = 0

    def documents(self) -> list[tuple[str, dict[str, Any]]]:
        self.walks += 1
        return list(self._documents)

    def snapshot(self, category: Category) -> TextSnapshot:
        assert category is Category.TEXT_GENERATION
        return self


def test_names_of_no_group_do_not_crowd_out_the_answers_kept() -> None:
    text = TextSnapshot(
        [(n, text_record(n, text_model_group=g)) for n, g in [("A-7B", "A"), ("A-13B", "A"), ("B-1B", "B")]]
    )
    tools = TextTools(cast(Reads[Any], text), Received(TextStructure()))
    summary, health, group = tools.summary(), tools.health(), tools.group("A")
    walked = text.walks
    for i in range(500):
        with pytest.raises(NotFound, match=f"No models found in group 'nope{i}'"):
            tools.group(f"nope{i}")
        with pytest.raises(NotFound):
            tools.name_schema(f"nope{i}")
    assert (tools.summary(), tools.health(), tools.group("A")) == (summary, health, group)
    assert tools.summary() is summary
    assert text.walks == walked  # nothing made again, and no miss walked the records
    assert [m.name for m in group.members] == ["A-7B", "A-13B"]
    assert tools.groups().groups == ["A", "B"]
