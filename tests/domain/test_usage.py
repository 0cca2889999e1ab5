"""Joining AI-Horde data to reference models and ranking them (DATA.md §15.2–15.3)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from modelref.domain.usage import (
    LARGEST,
    Backend,
    HordeModelStatus,
    HordeStats,
    HordeUsage,
    HordeWorker,
    PopularSort,
    UsageIndex,
    WithStatsParams,
    model_variants,
    popular,
    with_stats,
    without_nulls,
)
from tests.factories import image_record, text_record


def status(name: str, count: int, **fields: Any) -> HordeModelStatus:
    return HordeModelStatus(name=name, count=count, performance=1.5, queued=10, jobs=2, eta=30, **fields)


def worker(id: str, *models: str, online: bool = True) -> HordeWorker:
    return HordeWorker(
        id=id, name=f"worker {id}", models=list(models), performance="9 tokens per second", online=online
    )


def index(
    statuses: list[HordeModelStatus] = (),  # type: ignore[assignment]
    day: dict[str, int] | None = None,
    month: dict[str, int] | None = None,
    total: dict[str, int] | None = None,
    workers: list[HordeWorker] | None = None,
) -> UsageIndex:
    stats = HordeStats(day=day or {}, month=month or {}, total=total or {})
    return UsageIndex(HordeUsage(tuple(statuses), stats, tuple(workers) if workers is not None else None, 1234))


def test_variants_of_a_text_name_with_organisation() -> None:
    assert model_variants("ReadyArt/Broken-Tutu-24B") == (
        "ReadyArt/Broken-Tutu-24B",
        "aphrodite/ReadyArt/Broken-Tutu-24B",
        "koboldcpp/Broken-Tutu-24B",
    )


def test_status_takes_the_variant_with_most_workers_whatever_its_case() -> None:
    found = index([status("aphrodite/readyart/broken-tutu-24b", 2), status("KOBOLDCPP/Broken-Tutu-24B", 5)])
    stats = found.combined("ReadyArt/Broken-Tutu-24B")
    assert stats.worker_count == 5
    assert stats.queued_jobs == 2
    assert stats.performance == 1.5
    assert stats.eta == 30


def test_usage_sums_every_name_of_the_model_and_of_its_group() -> None:
    found = index(
        day={
            "koboldcpp/Lumimaid-v0.2-8B": 1,
            "aphrodite/NeverSleep/Lumimaid-v0.2-8B": 2,
            "koboldcpp/lumimaid-v0.2-12B": 4,
        },
        month={"koboldcpp/Lumimaid-v0.2-8B-Q8_0": 10, "Other-7B": 100},
        total={"NeverSleep/Lumimaid-v0.2-8B": 1000},
    )
    stats = found.combined("NeverSleep/Lumimaid-v0.2-8B")
    assert stats.usage_stats is not None
    # the 12B sibling counts too: the group's usage (DATA.md §15.2, the existing service's aggregation)
    assert (stats.usage_stats.day, stats.usage_stats.month, stats.usage_stats.total) == (7, 10, 1000)
    assert found.combined("Unknown-3B").usage_stats is None


def test_names_differing_only_in_case_add_up() -> None:
    found = index(month={"koboldcpp/Tiny-1B": 3, "KoboldCpp/tiny-1b": 4, "koboldcpp/TINY-1B": 5})
    stats = found.combined("Tiny-1B")
    assert stats.usage_stats is not None
    assert stats.usage_stats.month == 12


def test_backend_variations_keep_sizes_apart_and_add_quantizations() -> None:
    found = index(
        [status("koboldcpp/Lumimaid-v0.2-8B", 3), status("aphrodite/NeverSleep/Lumimaid-v0.2-8B", 1)],
        month={
            "koboldcpp/Lumimaid-v0.2-8B": 10,
            "koboldcpp/Lumimaid-v0.2-8B-Q4_K_M": 5,
            "koboldcpp/Lumimaid-v0.2-12B": 1000,
            "aphrodite/NeverSleep/Lumimaid-v0.2-8B": 7,
            "NeverSleep/Lumimaid-v0.2-8B": 1,
        },
    )
    stats = found.combined("NeverSleep/Lumimaid-v0.2-8B", variations=True)
    assert stats.usage_stats is not None
    assert stats.usage_stats.month == 23
    variations = stats.backend_variations
    assert variations is not None
    assert list(variations) == [Backend.CANONICAL, Backend.APHRODITE, Backend.KOBOLDCPP]
    assert variations[Backend.KOBOLDCPP].usage_month == 15
    assert variations[Backend.KOBOLDCPP].worker_count == 3
    assert variations[Backend.KOBOLDCPP].variant_name == "koboldcpp/Lumimaid-v0.2-8B"
    assert variations[Backend.APHRODITE].usage_month == 7
    assert variations[Backend.CANONICAL].worker_count == 0
    assert variations[Backend.CANONICAL].usage_month == 1


def test_workers_are_matched_under_every_name_and_counted_once() -> None:
    found = index(
        [status("koboldcpp/Tiny-1B", 9)],
        workers=[
            worker("a", "koboldcpp/tiny-1b"),
            worker("b", "Tiny-1B", "koboldcpp/Tiny-1B"),
            worker("c", "Other"),
        ],
    )
    stats = found.combined("Tiny-1B", workers=True)
    assert stats.worker_summaries is not None
    assert sorted(stats.worker_summaries) == ["a", "b"]
    assert stats.worker_count == 2  # the workers seen, not the status count
    assert found.combined("Tiny-1B").worker_count == 9  # without workers: the status count
    other = found.combined("Other", workers=True).worker_summaries
    assert other is not None
    assert list(other) == ["c"]
    assert other["c"].name == "worker c"
    assert other["c"].online


def test_worker_count_falls_back_to_the_status_when_no_worker_lists_the_model() -> None:
    found = index([status("Tiny-1B", 4)], workers=[worker("a", "Other")])
    stats = found.combined("Tiny-1B", workers=True)
    assert stats.worker_summaries is None
    assert stats.worker_count == 4


def models(*names: str) -> list[tuple[str, dict[str, Any]]]:
    return [(n, image_record(n, description=None)) for n in names]


def test_popular_ranks_by_the_metric_keeping_ties_in_category_order() -> None:
    found = index(
        [status("B", 5), status("C", 5), status("D", 1)],
        day={"D": 50, "A": 10},
        month={"A": 300},
    )
    ranked = popular(models("A", "B", "C", "D"), found, PopularSort.WORKER_COUNT, 10)
    assert [r.name for r in ranked] == ["B", "C", "D", "A"]
    assert [r.name for r in popular(models("A", "B", "C", "D"), found, PopularSort.USAGE_DAY, 2)] == ["D", "A"]
    assert [r.name for r in popular(models("A", "B", "C", "D"), found, PopularSort.USAGE_MONTH, 4)] == [
        "A",
        "B",
        "C",
        "D",
    ]
    first = ranked[0]
    assert "description" not in first.record  # null fields left out
    assert first.record["name"] == "B"
    assert first.stats.worker_count == 5


def test_with_stats_filters_and_sorts() -> None:
    found = index([status("A", 1), status("B", 3)], month={"C": 5, "A": 1})
    everything = with_stats(models("A", "B", "C"), found, WithStatsParams())
    assert list(everything) == ["A", "B", "C"]  # no sort_by: the category's order
    assert everything["C"].worker_count == 0
    assert everything["C"].queued is None
    assert list(with_stats(models("A", "B", "C"), found, WithStatsParams(sort_by="worker_count"))) == ["B", "A", "C"]
    assert list(with_stats(models("A", "B", "C"), found, WithStatsParams(sort_by="name", sort_desc=False))) == [
        "A",
        "B",
        "C",
    ]
    assert list(with_stats(models("A", "B", "C"), found, WithStatsParams(sort_by="usage_month"))) == ["C", "A", "B"]
    assert list(with_stats(models("A", "B", "C"), found, WithStatsParams(min_worker_count=1))) == ["A", "B"]
    assert list(with_stats(models("A", "B", "C"), found, WithStatsParams(sort_by="bogus"))) == ["A", "B", "C"]


def test_text_records_join_under_their_backend_names() -> None:
    found = index([status("koboldcpp/Test-7B", 2)], month={"aphrodite/Org/Test-7B": 8})
    ranked = popular([("Org/Test-7B", text_record())], found, PopularSort.USAGE_MONTH, 1)
    assert ranked[0].stats.worker_count == 2
    assert ranked[0].stats.usage_stats is not None
    assert ranked[0].stats.usage_stats.month == 8


def test_payloads_take_the_floats_the_ai_horde_sends() -> None:
    parsed = HordeModelStatus.model_validate(
        {"name": "x", "count": 2, "queued": 3145728.0, "jobs": 2.0, "eta": 7, "performance": 0.5}
    )
    assert parsed.queued == 3145728
    assert parsed.jobs == 2
    with pytest.raises(ValidationError, match="count"):
        HordeModelStatus.model_validate({"name": "x", "count": "many"})


def test_without_nulls_at_any_depth() -> None:
    assert without_nulls({"a": None, "b": {"c": None, "d": [1, {"e": None}]}}) == {"b": {"d": [1, {}]}}


def test_a_variation_without_a_status_is_named_as_the_ai_horde_names_it() -> None:
    found = index(month={"koboldcpp/Model-7B": 3, "aphrodite/Org/Model-7B": 2})
    variations = found.combined("Org/Model-7B", variations=True).backend_variations
    assert variations is not None
    assert variations[Backend.KOBOLDCPP].variant_name == "koboldcpp/Model-7B"  # no organisation under koboldcpp
    assert variations[Backend.APHRODITE].variant_name == "aphrodite/Org/Model-7B"


def test_counters_beyond_any_real_one_are_cut_so_sums_stay_in_64_bits() -> None:
    huge = HordeModelStatus.model_validate({"name": "x", "count": 1e30, "jobs": 10**30})
    assert huge.count == huge.jobs == LARGEST
    found = index([huge], month={"x": 10**40, "X": 10**40})
    stats = found.combined("x")
    assert stats.usage_stats is not None
    assert stats.usage_stats.month == 2 * LARGEST < 2**63


def test_with_stats_sorts_only_by_known_fields() -> None:
    assert WithStatsParams(sort_by="bogus").sort_by is None  # the existing service's no-op
    assert WithStatsParams(sort_by="usage_total").sort_by == "usage_total"
    with pytest.raises(ValidationError, match="at most 64"):
        WithStatsParams(sort_by="x" * 65)
