from __future__ import annotations

import json

import pytest

from modelref.domain.legacy_text import (
    auto_display_name,
    csv_to_v2,
    db_entries,
    db_json_to_v2,
    dump_db_json,
    format_billions,
    size_tag,
    v2_to_csv,
    v2_to_db,
)
from modelref.domain.records import TextGenerationModelRecord
from modelref.errors import InvalidRecord
from tests.support import LEGACY_TEXT

HEADER = "name,parameters_bn,display_name,url,baseline,description,style,tags,instruct_format,settings\n"


@pytest.fixture(scope="module")
def csv_records() -> list[TextGenerationModelRecord]:
    records, _ = csv_to_v2((LEGACY_TEXT / "models.csv").read_text())
    return records


def test_models_csv_gives_719_base_records_and_db_json_byte_for_byte(
    csv_records: list[TextGenerationModelRecord],
) -> None:
    assert len(csv_records) == 719
    assert dump_db_json(v2_to_db(csv_records)) == (LEGACY_TEXT / "db.json").read_text()


def test_db_json_round_trips_byte_for_byte() -> None:
    raw = (LEGACY_TEXT / "db.json").read_text()
    records, _ = db_json_to_v2(json.loads(raw))
    assert len(records) == 719
    assert dump_db_json(v2_to_db(records)) == raw


def test_exported_csv_reads_back_to_the_same_records(csv_records: list[TextGenerationModelRecord]) -> None:
    again, warnings = csv_to_v2(v2_to_csv(csv_records))
    assert warnings == []
    assert [r.to_document() for r in again] == [r.to_document() for r in csv_records]


def test_text_records_are_normalized(csv_records: list[TextGenerationModelRecord]) -> None:
    marx = csv_records[0].to_document()
    assert marx["name"] == "acrastt/Marx-3B-V3"
    assert marx["parameters"] == 3_000_000_000
    assert marx["text_model_group"] == "Marx"
    assert "style" not in marx  # empty CSV cell → absent, not ""
    assert all(r.nsfw is False for r in csv_records)
    assert len({r.text_model_group for r in csv_records}) == 419


def test_backend_variants_are_generated_in_order() -> None:
    record = TextGenerationModelRecord(name="ReadyArt/Broken-Tutu-24B", parameters_count=24_000_000_000)
    entries = db_entries(record)
    assert list(entries) == [
        "ReadyArt/Broken-Tutu-24B",
        "aphrodite/ReadyArt/Broken-Tutu-24B",
        "koboldcpp/Broken-Tutu-24B",
    ]
    assert {e["model_name"] for e in entries.values()} == {"Broken-Tutu-24B"}
    assert entries["koboldcpp/Broken-Tutu-24B"]["tags"] == ["24B"]
    assert entries["koboldcpp/Broken-Tutu-24B"]["display_name"] == "Broken Tutu 24B"


@pytest.mark.parametrize(
    ("billions", "tag"), [(0.5, "0B"), (1.5, "2B"), (2.5, "2B"), (4.5, "4B"), (7.5, "8B"), (0.125, "0B"), (70, "70B")]
)
def test_size_tags_round_half_to_even(billions: float, tag: str) -> None:
    assert size_tag(billions) == tag


def test_parameter_counts_format_as_the_csv_does() -> None:
    assert format_billions(3_000_000_000) == "3"
    assert format_billions(560_000_000) == "0.56"
    assert auto_display_name("my_model--7B") == "my model 7B"


def test_csv_duplicates_later_row_wins_at_first_position() -> None:
    text = HEADER + "A/one,1,,,,first,,,,\nA/two,2,,,,,,,,\nA/one,3,,,,second,,,,\n"
    records, warnings = csv_to_v2(text)
    assert [r.name for r in records] == ["A/one", "A/two"]
    assert records[0].description == "second"
    assert records[0].parameters_count == 3_000_000_000
    assert any("duplicate" in w for w in warnings)


def test_csv_skips_bad_rows_with_warnings() -> None:
    text = (
        HEADER
        + "koboldcpp/X,1,,,,,,,,\n"
        + "A/nan,lots,,,,,,,,\n"
        + 'A/badjson,1,,,,,,,,"{not json"\n'
        + "A/empty,,,,,,,,,\n"
        + ",1,,,,,,,,\n"
    )
    records, warnings = csv_to_v2(text)
    assert [r.name for r in records] == ["A/empty"]
    assert records[0].parameters_count == 0
    assert len(warnings) == 4


def test_csv_with_a_wrong_header_is_an_error() -> None:
    with pytest.raises(InvalidRecord, match="header must be"):
        csv_to_v2("name,params\nx,1\n")


def test_csv_with_missing_columns_is_an_error_naming_the_line() -> None:
    with pytest.raises(InvalidRecord, match="line 2"):
        csv_to_v2(HEADER + "A/short,1\n")


def test_db_json_of_wrong_shape_is_an_error() -> None:
    with pytest.raises(InvalidRecord, match="record 'x': field 'parameters'"):
        db_json_to_v2({"x": {"parameters": "many"}})
    with pytest.raises(InvalidRecord, match="must be a JSON object"):
        db_json_to_v2([])
