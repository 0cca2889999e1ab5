from __future__ import annotations

import pytest

from modelref.domain.textnames import ExtraPartType, base_name, parse

CASES = [
    # name, base_name, size, variant, quant, version, base_name()
    ("Llama-3-8B-Instruct-Q4_K_M", "Llama-3", "8B", "Instruct", "Q4_K_M", None, "Llama-3"),
    ("Mistral-7B-v0.1", "Mistral", "7B", None, None, "v0.1", "Mistral"),
    ("Mixtral-8x7B-Instruct-v0.1", "Mixtral", "8X7B", "Instruct", None, "v0.1", "Mixtral"),
    (
        "koboldcpp/sophosympatheia/StrawberryLemonade-L3-70B-v1.2",
        "koboldcpp/sophosympatheia/StrawberryLemonade-L3",
        "70B",
        None,
        None,
        "v1.2",
        "StrawberryLemonade-L3",
    ),
    ("aphrodite/ReadyArt/Broken-Tutu-24B", "aphrodite/ReadyArt/Broken-Tutu", "24B", None, None, None, "Broken-Tutu"),
    ("Lumimaid-v0.2-8B-Q8_0", "Lumimaid", "8B", None, "Q8_0", "v0.2", "Lumimaid"),
    ("L3-8B-Stheno-v3.2", "L3-Stheno", "8B", None, None, "v3.2", "L3-Stheno"),
    ("acrastt/Marx-3B-V3", "acrastt/Marx", "3B", None, None, "V3", "Marx"),
    ("google/gemma-4-E4B-it", "google/gemma-4-E4B-it", None, None, None, None, "gemma-4-E4B-it"),
    (
        "NousResearch/Hermes-3-Llama-3.1-405B-FP8",
        "NousResearch/Hermes-3-Llama-3.1-FP8",
        "405B",
        None,
        None,
        None,
        "Hermes-3-Llama-3.1-FP8",
    ),
    (
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B-AWQ",
        "deepseek-ai/DeepSeek-R1-Distill-Qwen",
        "32B",
        None,
        "AWQ",
        None,
        "DeepSeek-R1-Distill-Qwen",
    ),
    ("gpt2-xl", "gpt2-xl", None, None, None, None, "gpt2-xl"),
    ("Model_Q4_K_M", "Model_Q4_K_M", None, None, None, None, "Model_Q4_K_M"),
]


@pytest.mark.parametrize(("name", "base", "size", "variant", "quant", "version", "group"), CASES)
def test_parse_matches_the_verified_examples(
    name: str, base: str, size: str | None, variant: str | None, quant: str | None, version: str | None, group: str
) -> None:
    parsed = parse(name)
    assert (parsed.base_name, parsed.size, parsed.variant, parsed.quant, parsed.version) == (
        base,
        size,
        variant,
        quant,
        version,
    )
    assert base_name(name) == group


def test_dates_and_leading_versions_are_extras_with_positions() -> None:
    dated = parse("c4ai-command-r-08-2024")
    assert dated.base_name == "c4ai-command-r"
    assert [(e.value, e.position, e.inferred_type) for e in dated.extras] == [("08-2024", 3, ExtraPartType.DATE)]
    qwen = parse("Qwen/Qwen3-235B-A22B-Thinking-2507")
    assert (qwen.base_name, qwen.size, qwen.variant) == ("Qwen/Qwen3-A22B", "235B", "Thinking")
    assert [(e.value, e.position) for e in qwen.extras] == [("2507", 2)]
    leading = parse("4.2.0-Broken-Tutu-24B")
    assert leading.base_name == "Broken-Tutu"
    assert leading.extras[0].inferred_type is ExtraPartType.LEADING_VERSION


def test_quant_false_positive_is_kept_as_upstream() -> None:
    parsed = parse("Q3.5-BlueStar-27B")
    assert (parsed.quant, parsed.size, parsed.base_name) == ("Q3", "27B", "5-BlueStar")
    assert parsed.is_quantized
