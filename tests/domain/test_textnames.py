"""The text-model name parser (DATA.md §9): the verified examples, the reference patterns, adversarial names."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from modelref.domain.textnames import ExtraPartType, base_name, parse
from tests.support import LEGACY_TEXT, reference_base_name, reference_parse

DATE, LEADING = ExtraPartType.DATE, ExtraPartType.LEADING_VERSION
VERIFIED = [
    # DATA.md §9.3, row by row: name, base_name, size, variant, quant, version, extras, base_name()
    ("Llama-3-8B-Instruct-Q4_K_M", "Llama-3", "8B", "Instruct", "Q4_K_M", None, [], "Llama-3"),
    ("Mistral-7B-v0.1", "Mistral", "7B", None, None, "v0.1", [], "Mistral"),
    ("Mixtral-8x7B-Instruct-v0.1", "Mixtral", "8X7B", "Instruct", None, "v0.1", [], "Mixtral"),
    (
        "koboldcpp/sophosympatheia/StrawberryLemonade-L3-70B-v1.2",
        "koboldcpp/sophosympatheia/StrawberryLemonade-L3",
        "70B",
        None,
        None,
        "v1.2",
        [],
        "StrawberryLemonade-L3",
    ),
    (
        "aphrodite/ReadyArt/Broken-Tutu-24B",
        "aphrodite/ReadyArt/Broken-Tutu",
        "24B",
        None,
        None,
        None,
        [],
        "Broken-Tutu",
    ),
    ("c4ai-command-r-08-2024", "c4ai-command-r", None, None, None, None, [(DATE, "08-2024", 3)], "c4ai-command-r"),
    ("4.2.0-Broken-Tutu-24B", "Broken-Tutu", "24B", None, None, None, [(LEADING, "4.2.0", 0)], "Broken-Tutu"),
    ("Lumimaid-v0.2-8B-Q8_0", "Lumimaid", "8B", None, "Q8_0", "v0.2", [], "Lumimaid"),
    ("L3-8B-Stheno-v3.2", "L3-Stheno", "8B", None, None, "v3.2", [], "L3-Stheno"),
    ("acrastt/Marx-3B-V3", "acrastt/Marx", "3B", None, None, "V3", [], "Marx"),
    ("google/gemma-4-E4B-it", "google/gemma-4-E4B-it", None, None, None, None, [], "gemma-4-E4B-it"),
    (
        "Qwen/Qwen3-235B-A22B-Thinking-2507",
        "Qwen/Qwen3-A22B",
        "235B",
        "Thinking",
        None,
        None,
        [(DATE, "2507", 2)],
        "Qwen3-A22B",
    ),
    (
        "NousResearch/Hermes-3-Llama-3.1-405B-FP8",
        "NousResearch/Hermes-3-Llama-3.1-FP8",
        "405B",
        None,
        None,
        None,
        [],
        "Hermes-3-Llama-3.1-FP8",
    ),
    (
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B-AWQ",
        "deepseek-ai/DeepSeek-R1-Distill-Qwen",
        "32B",
        None,
        "AWQ",
        None,
        [],
        "DeepSeek-R1-Distill-Qwen",
    ),
    # The table prints `zerofata/5-BlueStar`, but §9.1 strips separators only at the ends of the whole name, and
    # the reference patterns give `zerofata/.5-BlueStar` (base_name() drops the organisation first: `5-BlueStar`).
    ("zerofata/Q3.5-BlueStar-27B", "zerofata/.5-BlueStar", "27B", None, "Q3", None, [], "5-BlueStar"),
    ("gpt2-xl", "gpt2-xl", None, None, None, None, [], "gpt2-xl"),
    # The traps under the table and the examples in §9.1.
    ("Model_Q4_K_M", "Model_Q4_K_M", None, None, None, None, [], "Model_Q4_K_M"),
    ("bloom-7b1", "bloom", "7B1", None, None, None, [], "bloom"),
    ("Llama-2-7B-13B-chat", "Llama-2-13B", "7B", "chat", None, None, [], "Llama-2-13B"),
    ("Foo--7B--Bar", "Foo-Bar", "7B", None, None, None, [], "Foo-Bar"),
    ("7B", "7B", "7B", None, None, None, [], "7B"),
]


@pytest.mark.parametrize(("name", "base", "size", "variant", "quant", "version", "extras", "group"), VERIFIED)
def test_parse_matches_the_verified_examples(
    name: str,
    base: str,
    size: str | None,
    variant: str | None,
    quant: str | None,
    version: str | None,
    extras: list[tuple[ExtraPartType, str, int]],
    group: str,
) -> None:
    parsed = parse(name)
    assert (parsed.base_name, parsed.size, parsed.variant, parsed.quant, parsed.version) == (
        base,
        size,
        variant,
        quant,
        version,
    )
    assert [(e.inferred_type, e.value, e.position) for e in parsed.extras] == extras
    assert parsed.is_quantized is (quant is not None)
    assert base_name(name) == group


def test_normalized_name_is_the_base_in_snake_case() -> None:
    assert parse("NousResearch/Hermes-3-Llama-3.1-405B-FP8").normalized_name == "nousresearch/hermes_3_llama_3_1_fp8"
    assert parse("My  Model..-X-7B").normalized_name == "my_model_x"


# Characters that steer the patterns, weighted towards digits. The last six: four that `re` folds into the classes
# under IGNORECASE (İ ı ſ K into [a-zA-Z], K into [BMK]), an Arabic-Indic three (\d) and a superscript two (not \d).
CHARACTERS = list("0123456789" * 3 + "..BMKbmkxXvVQq_- /aeEiLlst" + "İıſK٣²")
TOKENS = [
    *("1", "12", "08", "2024", "1.5", "0.1", ".", "B", "b", "M", "K", "x", "X", "E", "v", "V", "v1.", "-", "_", " "),
    *("/", "Q4_K_M", "Q8_0", "Q3", "GGUF", "fp16", "Instruct", "chat", "08-2024", "2024-08", "4.2.0-", "koboldcpp/"),
    *("ſ", "K", "٣"),
]
names = st.one_of(
    st.text(alphabet=st.sampled_from(CHARACTERS), max_size=40),
    st.lists(st.sampled_from(TOKENS), max_size=12).map("".join),
)


@given(names)
@settings(max_examples=2000)
@example("1" * 30 + "a")
@example("a12.5b3c")
@example("E44B-8x7b")
@example("Model-7\u212a-v2")  # the Kelvin sign is a unit under IGNORECASE
@example("\u017f12b3\u0131")  # long s and dotless i are letters under IGNORECASE
@example("Qwen-\u0663\u0665B")  # Arabic-Indic digits are \d
def test_parse_agrees_with_the_reference_patterns(name: str) -> None:
    assert parse(name) == reference_parse(name)
    assert base_name(name) == reference_base_name(name)


def test_every_real_text_model_name_parses_as_with_the_reference_patterns() -> None:
    names = list(json.loads((LEGACY_TEXT / "db.json").read_bytes()))
    assert len(names) > 2000
    differing = [name for name in names if parse(name) != reference_parse(name)]
    differing += [name for name in names if base_name(name) != reference_base_name(name)]
    assert differing == []


# Adversarial names: id, the name for a length n, and what it parses to as (size, version, base_name, extras).
Expected = tuple[str | None, str | None, str, list[str]]
ADVERSARIAL: list[tuple[str, Callable[[int], str], Callable[[str], Expected]]] = [
    ("digits, B", lambda n: "1" * (n - 1) + "B", lambda name: (name, None, name, [])),
    ("digits, letter", lambda n: "1" * (n - 1) + "a", lambda name: (None, None, name, [])),
    ("digits, x", lambda n: "1" * (n - 1) + "x", lambda name: (None, None, name, [])),
    (
        "digits x digits B, letter",
        lambda n: "1" * (n // 2) + "x" + "1" * (n // 2 - 3) + "Ba",
        lambda name: (None, None, name, []),
    ),
    (
        "digits . digits, letter",
        lambda n: "1" * (n // 2) + "." + "1" * (n // 2 - 2) + "a",
        lambda name: (None, None, name, []),
    ),
    ("v, digits, dot", lambda n: "v" + "1" * (n - 2) + ".", lambda name: (None, None, name[:-1], [])),
    ("1.1.1", lambda n: "1." * (n // 2), lambda name: (None, None, name[:-1], [])),
    ("v1.v1.v1.", lambda n: "v1." * (n // 3), lambda name: (None, None, name[:-1], [])),
    ("v1.1.1, letter", lambda n: "v" + "1." * (n // 2 - 1) + "1a", lambda name: (None, name[:-3], "1a", [])),
    ("12-12-12-", lambda n: "12-" * (n // 3), lambda name: (None, None, name[:-1], [])),
    ("1234-1234-", lambda n: "1234-" * (n // 5), lambda name: (None, None, name[5:-1], ["1234"])),
    ("Q4_Q4_Q4_", lambda n: "Q4_" * (n // 3), lambda name: (None, None, name[:-1], [])),
    ("E11E11E11", lambda n: "E11" * (n // 3), lambda name: (None, None, name, [])),
    ("1B1B1B", lambda n: "1B" * (n // 2), lambda name: ("1B", None, name[2:], [])),
    ("separators", lambda n: "-_ ." * (n // 4) + "-" * (n // 2), lambda name: (None, None, name, [])),
]
ADVERSARIAL_IDS = [case_id for case_id, _, _ in ADVERSARIAL]


@pytest.mark.parametrize(("make", "expect"), [(make, expect) for _, make, expect in ADVERSARIAL], ids=ADVERSARIAL_IDS)
def test_adversarial_shapes_agree_with_the_reference_patterns(
    make: Callable[[int], str], expect: Callable[[str], Expected]
) -> None:
    name = make(300)
    parsed = parse(name)
    assert parsed == reference_parse(name)
    assert (parsed.size, parsed.version, parsed.base_name, [e.value for e in parsed.extras]) == expect(name)


# A backtracking regex holds the GIL, so a thread cannot watch it: the 10,000-character names are parsed in a child
# process that is killed when it overruns. Run by `re`, the size patterns take minutes on "digits, letter" alone.
WATCHDOG_SECONDS = 20
_WORKER = """
import json, sys
from modelref.domain.textnames import parse
for name in json.load(sys.stdin):
    p = parse(name)
    print(json.dumps([p.size, p.version, p.base_name, [e.value for e in p.extras]]), flush=True)
"""


@pytest.fixture(scope="module")
def parsed_10k() -> list[list[object]]:
    """What the child printed for each 10,000-character name, in order, up to the watchdog."""
    names = [make(10_000) for _, make, _ in ADVERSARIAL]
    try:
        done = subprocess.run(
            [sys.executable, "-c", _WORKER],
            input=json.dumps(names).encode(),
            capture_output=True,
            timeout=WATCHDOG_SECONDS,
            check=True,
        ).stdout
    except subprocess.TimeoutExpired as overrun:
        done = overrun.stdout or b""
    return [json.loads(line) for line in done.decode().splitlines()]


@pytest.mark.parametrize("index", range(len(ADVERSARIAL)), ids=ADVERSARIAL_IDS)
def test_adversarial_names_of_10k_characters_parse(parsed_10k: list[list[object]], index: int) -> None:
    case_id, make, expect = ADVERSARIAL[index]
    if index >= len(parsed_10k):
        stuck = ADVERSARIAL_IDS[len(parsed_10k)]
        pytest.fail(f"parse() was still on {stuck!r} after {WATCHDOG_SECONDS} s (watchdog), {case_id!r} not reached")
    name = make(10_000)
    assert len(name) >= 9_990
    assert parsed_10k[index] == list(expect(name))
