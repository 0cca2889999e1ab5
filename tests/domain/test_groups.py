from __future__ import annotations

import json
from decimal import Decimal

import pytest

from modelref.domain.groups import group_summary, size_sort_key, with_group_info
from tests.support import LEGACY_TEXT


@pytest.mark.parametrize(
    ("size", "billions"),
    [
        ("9B", "9"),
        ("1.5B", "1.5"),
        ("1.B", "1"),
        ("350M", "0.35"),
        ("3K", "0.000003"),
        ("8X7B", "56"),
        ("4X8B", "32"),
        ("7B1", "7.1"),  # bloom-7b1: digits after the unit are decimals
        ("1.5B2", "0"),  # two decimal parts: not one number
        ("7\u212a", "0"),  # the Kelvin sign passes the parser's case-insensitive [BMK], but is no unit here
        ("\u0663B", "3"),  # an Arabic-Indic three
    ],
)
def test_size_sort_key_reads_sizes_as_billions(size: str, billions: str) -> None:
    assert size_sort_key(size) == (Decimal(billions), size)


def test_size_sort_key_takes_sizes_of_any_length() -> None:
    huge = "9" * 5000 + "B"
    assert sorted([huge, "1" + "0" * 5000 + "X2B", "70B"], key=size_sort_key)[0] == "70B"


def test_group_summary_lists_sizes_in_size_order_and_quants_as_text() -> None:
    names = ["magnum-123B", "magnum-9B-Q8_0", "magnum-12B-Q4_K_M", "magnum-350M", "magnum-8x7B", "magnum-56B"]
    summary = group_summary({name: {} for name in names})
    # 56B and 8X7B are both 56 billion: the tie goes by text.
    assert summary["available_sizes"] == ["350M", "9B", "12B", "56B", "8X7B", "123B"]
    assert summary["available_quants"] == ["Q4_K_M", "Q8_0"]


def test_real_groups_list_sizes_in_size_order() -> None:
    db = json.loads((LEGACY_TEXT / "db.json").read_bytes())
    summaries = {entry["text_model_group"]: entry["text_model_group_summary"] for entry in with_group_info(db).values()}
    assert summaries["magnum"]["available_sizes"] == ["9B", "12B", "22B", "27B", "34B", "72B", "123B"]
    assert summaries["bloom"]["available_sizes"] == ["560M", "1B7", "3B", "7B1"]
    assert summaries["opt"]["available_sizes"] == ["125M", "350M", "1.3B", "2.7B", "6.7B", "13B", "30B", "66B"]
