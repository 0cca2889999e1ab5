"""Group aliases on both engines: one owner per alias, each change one transaction with its audit event, a
REPLICA refuses before asking who calls."""

from __future__ import annotations

import threading

import pytest

from modelref.domain.deployment import Deployment, ReplicateMode
from modelref.errors import AlreadyExists, NotServed, NotWritable
from modelref.services.textmeta import Aliases, Families
from modelref.storage.store import Store
from tests.factories import RefusingCaller, requestor
from tests.support import audit_events, chain_problems


def test_every_change_is_audited_in_the_chain(store: Store) -> None:
    aliases = Aliases(store, Deployment())
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
    assert aliases.resolve("L3") == "L3"  # deleted


def test_a_refused_change_writes_nothing(store: Store) -> None:
    aliases = Aliases(store, Deployment())
    aliases.replace("A", ["x"], requestor())
    with pytest.raises(AlreadyExists, match="already registered under canonical group 'A'"):
        aliases.replace("B", ["y", "x"], requestor())
    assert aliases.entries().model_dump() == {"entries": [{"canonical": "A", "aliases": ["x"]}]}
    assert aliases.resolve("x") == "A"
    assert aliases.resolve("y") == "y"


def test_concurrent_writers_leave_one_owner(store: Store) -> None:
    aliases = Aliases(store, Deployment())
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


def test_a_replica_refuses_before_asking_who_calls() -> None:
    aliases = Aliases(None, Deployment(ReplicateMode.REPLICA))
    caller = RefusingCaller()
    with pytest.raises(NotWritable):
        aliases.add("A", "x", caller)
    assert caller.asked == []
    with pytest.raises(NotServed):
        aliases.entries()
    assert aliases.resolve("x") == "x"


def test_concurrent_additions_to_one_family_lose_nothing(store: Store) -> None:
    families = Families(store, Deployment())
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
