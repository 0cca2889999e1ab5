"""The structure's rules: a document that breaks them is refused, and an alias never names a group with members."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from modelref.domain.textstructure import TextStructureDocument, alias_conflicts


def test_a_structure_document_keeps_the_rules() -> None:
    whole = {"aliases": {"A": ["a"]}, "families": {"F": ["A", "B"]}, "schemas": {"A": {"separator": "_"}}}
    assert TextStructureDocument.model_validate(whole).structure().resolve("a") == "A"
    broken = [
        ({}, "Field required"),
        ({"detail": "maintenance"}, "Field required"),
        ({**whole, "detail": "x"}, "Extra inputs are not permitted"),
        ({**whole, "aliases": {"A": ["A"]}}, "'A' is its own alias"),
        ({**whole, "aliases": {"A": ["x"], "B": ["x"]}}, "alias 'x' is listed under 'A' and 'B'"),
        ({**whole, "aliases": {"A": []}}, "'A' has an empty alias list"),
        ({**whole, "families": {"F": []}}, "family 'F' has no member"),
        ({**whole, "families": {"F": ["A"], "G": ["A"]}}, "group 'A' is listed in family 'F' and 'G'"),
    ]
    for document, problem in broken:
        with pytest.raises(ValidationError, match=problem):
            TextStructureDocument.model_validate(document)


def test_an_alias_may_not_name_a_group_with_members() -> None:
    problem = alias_conflicts("Llama-3", ["L3", "Marx"], {}, None, set(), {"Marx", "Llama-3"})
    assert problem == "'Marx' is a group of its own (text models are in it); it cannot be an alias of 'Llama-3'"
    assert alias_conflicts("Llama-3", ["L3"], {}, None, set(), {"Marx", "Llama-3"}) is None
