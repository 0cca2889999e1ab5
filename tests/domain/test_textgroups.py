"""The toolkit's reads on small inputs: composition, members and what they share, health, families."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from modelref.domain.textgroups import (
    ComposeNameRequest,
    DetectFamiliesParams,
    compose_name,
    detect_families,
    group_members,
    groups_health,
    inferred_schema,
    parse_name,
)
from modelref.domain.textnames import parse
from tests.factories import text_record


def member(name: str, group: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    return name, {**text_record(name), "text_model_group": group, **fields}


def test_compose_follows_the_part_order_and_skips_missing_parts() -> None:
    request = ComposeNameRequest(base_name="Mistral", size="7B", version="v0.1", variant="Instruct")
    assert compose_name(request, set()).composed_name == "Mistral-7B-Instruct-v0.1"
    reordered = request.model_copy(update={"part_order": ["size", "base"], "separator": " "})
    assert compose_name(reordered, set()).composed_name == "7B Mistral"
    assert compose_name(request, {"Mistral-7B-Instruct-v0.1"}).already_exists
    assert compose_name(request, set()).suggested_group == "Mistral"


def test_parse_name_of_the_worked_examples() -> None:
    parsed = parse_name("Mixtral-8x7B-Instruct-v0.1")
    assert (parsed.base_name, parsed.size, parsed.variant, parsed.version) == ("Mixtral", "8X7B", "Instruct", "v0.1")
    assert (
        parse_name("koboldcpp/sophosympatheia/StrawberryLemonade-L3-70B-v1.2").suggested_group
        == "StrawberryLemonade-L3"
    )
    assert parse_name("x", suggested_group="Alias-Target").suggested_group == "Alias-Target"


def test_members_and_what_they_share() -> None:
    records = [
        member("Org/Fam-7B", "Fam", baseline="llama", nsfw=False, tags=["a"]),
        member("Org/Fam-13B-Q4_K_M", "Fam", baseline="llama", nsfw=True, tags=["a"], name_schema_exception="legacy"),
        member("Org/Fam-70B", "Fam", baseline="llama", nsfw=False, tags=["a"]),
        member("Other-1B", "Other"),
    ]
    found = group_members("Fam", records)
    assert found is not None
    assert [m.name for m in found.members] == ["Org/Fam-7B", "Org/Fam-13B-Q4_K_M", "Org/Fam-70B"]
    assert found.common_fields == {"baseline": "llama", "tags": ["a"]}  # nsfw differs
    assert found.available_sizes == ["7B", "13B", "70B"]
    assert found.available_quants == [None, "Q4_K_M"]
    assert found.quant_usage == {"Q4_K_M": 1}
    assert [e.name for e in found.exception_members] == ["Org/Fam-13B-Q4_K_M"]
    assert found.name_format.common_author == "Org"
    assert group_members("fam", records) is None  # case counts
    schema = inferred_schema("Fam", records)
    assert schema is not None
    assert schema.is_custom is False
    assert schema.name_schema.extra_parts == []


def test_health_in_its_order() -> None:
    records = [
        member("A-7B", "A", baseline="x", description="d"),
        member("B-7B", "B", baseline="x", nsfw=True),
        member("B-13B", "B", baseline="y", nsfw=False),
        member("B-70B", "B"),
    ]
    health = groups_health(records)
    assert [(i.group_name, i.issue_type) for i in health.issues] == [
        ("A", "singleton_group"),
        ("B", "inconsistent_baseline"),
        ("B", "inconsistent_nsfw"),
        ("B", "missing_baseline"),
        ("B", "missing_description"),
    ]
    assert health.issues[1].message == "Members have different baselines: x, y"
    assert health.issues[3].message == "1 member(s) missing baseline"
    assert health.issues[4].severity == "info"
    assert (health.total_groups_checked, health.groups_with_issues) == (2, 2)


def test_families_claim_the_longest_prefix_first() -> None:
    names = ["GPT-Neo-Alpha-1B", "GPT-Neo-Beta-1B", "GPT-J-6B", "GPT-X-1B", "Solo-3B"]
    detected = detect_families([(n, text_record(n)) for n in names], DetectFamiliesParams(min_family_size=2))
    assert [(f.family_name, f.members) for f in detected.suggestions] == [
        ("GPT", ["GPT-J", "GPT-X"]),
        ("GPT-Neo", ["GPT-Neo-Alpha", "GPT-Neo-Beta"]),
    ]
    assert (detected.total_groups_analyzed, detected.groups_in_families, detected.standalone_groups) == (5, 4, 1)


# compose(parse(name)) == name wherever the parts allow it: a name written as the default schema writes it
# (author/base-size-variant-version-quant, `-` between, the parser's spelling of size and quant).
WORDS = st.from_regex(r"[A-Z][a-z]{2,7}", fullmatch=True)
BASES = st.lists(WORDS, min_size=1, max_size=3).map("-".join)
AUTHORS = st.none() | st.from_regex(r"[a-z][a-z0-9_]{1,10}", fullmatch=True)
SIZES = st.sampled_from(["7B", "13B", "1.5B", "8X7B", "350M", "70B", "2B1"])
VARIANTS = st.none() | st.sampled_from(["Instruct", "Chat", "Code", "Base", "Uncensored", "Thinking", "turbo"])
VERSIONS = st.none() | st.from_regex(r"v[0-9]{1,2}(\.[0-9]{1,2}){0,2}", fullmatch=True)
QUANTS = st.none() | st.sampled_from(["Q4_K_M", "Q8_0", "Q3", "GGUF", "AWQ", "GPTQ", "EXL2", "FP16"])


def _plain(text: str) -> bool:
    parsed = parse(text)
    parts = (parsed.size, parsed.variant, parsed.version, parsed.quant)
    return parsed.base_name == text and parts == (None, None, None, None) and not parsed.extras


@given(AUTHORS, BASES, SIZES, VARIANTS, VERSIONS, QUANTS)
@settings(max_examples=1000)
@example(None, "Llama-Three", "8B", "Instruct", None, "Q4_K_M")
@example("mistralai", "Mixtral", "8X7B", "Instruct", "v0.1", None)
def test_compose_of_parse_gives_the_name_back(
    author: str | None, base: str, size: str, variant: str | None, version: str | None, quant: str | None
) -> None:
    assume(all(_plain(word) for word in (author, base) if word))  # a part in the author or base is taken first
    name = "-".join(part for part in (base, size, variant, version, quant) if part)
    if author:
        name = f"{author}/{name}"
    parsed = parse_name(name)
    assert (parsed.size, parsed.variant, parsed.version, parsed.quant) == (size, variant, version, quant)
    prefix = f"{author}/" if author else ""
    assert parsed.base_name.startswith(prefix)
    request = ComposeNameRequest(
        author=author,  # given apart, as a form does: the base without it
        base_name=parsed.base_name.removeprefix(prefix),
        size=parsed.size or "",
        variant=parsed.variant,
        version=parsed.version,
        quant=parsed.quant,
    )
    assert compose_name(request, {name}).composed_name == name
    assert compose_name(request, {name}).already_exists


@given(st.text(min_size=1, max_size=300))
@settings(max_examples=1000)
@example("koboldcpp/")
@example("/")
@example("\x00\ud7ff\U0010ffff")
@example("4.2.0-Broken-Tutu-24B-v1-Q4_K_M-Instruct-08-2024")
def test_any_string_parses_into_parts_taken_out_of_it(name: str) -> None:
    parsed = parse_name(name)
    assert parsed.original_name == name
    assert parsed.base_name  # never empty: the name itself when nothing is left
    parts = [p for p in (parsed.size, parsed.variant, parsed.version, parsed.quant) if p]
    for part in parts:
        assert part.upper() in name.upper()
    if parsed.base_name != name:  # each part was cut out of the name, so none is left in the base as well
        taken = sum(map(len, parts)) + sum(len(e.value) for e in parsed.extras)
        assert len(parsed.base_name) + taken <= len(name)


PART_VALUES = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="/"), min_size=1, max_size=8)


@given(
    st.fixed_dictionaries(
        dict.fromkeys(("base", "size"), PART_VALUES),
        optional=dict.fromkeys(("variant", "version", "quant"), PART_VALUES),
    ),
    st.permutations(["base", "size", "variant", "version", "quant"]).flatmap(
        lambda order: st.integers(1, 5).map(lambda n: order[:n])
    ),
    st.sampled_from(["-", "_", " ", "", "--"]),
    st.none() | st.from_regex(r"[a-z]{1,8}", fullmatch=True),
)
@settings(max_examples=500)
def test_compose_joins_the_given_parts_in_the_order_named(
    values: dict[str, str], order: list[str], separator: str, author: str | None
) -> None:
    named = [values[p] for p in order if p in values]
    assume(named)  # else the request is refused (below)
    request = ComposeNameRequest(
        author=author,
        base_name=values["base"],
        size=values["size"],
        variant=values.get("variant"),
        version=values.get("version"),
        quant=values.get("quant"),
        separator=separator,
        part_order=[*order, "unknown"],
    )
    expected = separator.join(named)
    assert compose_name(request, set()).composed_name == (f"{author}/{expected}" if author else expected)


def test_a_part_order_naming_no_given_part_is_refused() -> None:
    for order in ([], ["nope"], ["variant", "quant"]):
        with pytest.raises(ValidationError, match="base, size, variant, version, quant"):
            ComposeNameRequest(base_name="Model", size="7B", part_order=order)
    assert ComposeNameRequest(base_name="M", size="7B", separator=None).separator is None
    assert compose_name(ComposeNameRequest(base_name="M", size="7B", separator=None), set()).composed_name == "M-7B"
