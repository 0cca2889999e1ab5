"""Deletion risk: flags, critical and warning, grouping, presets, paging and the summary (DATA.md §14)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from modelref.domain.categories import Category
from modelref.domain.risk import RiskPolicy, RiskPreset, analyse, deletion_risk, summarize
from modelref.domain.risk import grouped as group
from modelref.domain.usage import HordeModelStatus, HordeStats, HordeUsage, UsageIndex
from tests.factories import image_record, text_record

IMAGE = Category.IMAGE_GENERATION
TEXT = Category.TEXT_GENERATION
POLICY = RiskPolicy()


def usage(workers: dict[str, int], month: dict[str, int], day: dict[str, int] | None = None) -> UsageIndex:
    status = tuple(HordeModelStatus(name=n, count=c) for n, c in workers.items())
    total = {n: m * 10 for n, m in month.items()}
    return UsageIndex(HordeUsage(status, HordeStats(day=day or {}, month=month, total=total)))


def hosted(name: str, *urls: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    downloads = [{"file_name": f"{name}.ckpt", "file_url": u, "sha256sum": "a" * 64} for u in urls]
    return name, image_record(name, config={"download": downloads}, **fields)


def by_name(analysis: Any) -> dict[str, Any]:
    return {m.name: m for m in analysis.models}


def test_a_model_nobody_uses_or_serves_is_flagged_and_critical() -> None:
    """The existing service leaves every zero-usage flag off for a model the AI-Horde reports nothing about,
    so it never becomes critical (DATA.md §14.1 "Trap"); here it is."""
    models = [hosted("Used", "https://huggingface.co/a"), hosted("Dead", "https://huggingface.co/b")]
    analysis = analyse(IMAGE, models, usage({"Used": 3}, {"Used": 100}, {"Used": 4}), POLICY)
    dead = by_name(analysis)["Dead"]
    flags = dead.deletion_risk_flags
    assert flags.zero_usage_day
    assert flags.zero_usage_month
    assert flags.zero_usage_total
    assert flags.no_active_workers
    assert flags.low_usage  # 0 % of the category's month
    assert dead.is_critical
    assert dead.at_risk
    assert dead.risk_score == 5
    used = by_name(analysis)["Used"]
    assert not used.at_risk
    assert not used.is_critical
    assert used.risk_score == 0
    assert used.usage_percentage_of_category == 100.0
    assert used.usage_trend.day_to_month_ratio == 0.04
    assert used.usage_trend.month_to_total_ratio == 0.1
    assert [m.name for m in analysis.models] == ["Used", "Dead"]  # most used first
    assert analysis.category_total_month_usage == 100


def test_download_hosts() -> None:
    models = [
        hosted("Two", "https://huggingface.co/a", "https://civitai.com/b"),
        hosted("Elsewhere", "https://civitai.com/c"),
        hosted("Broken", "not a url", "https://huggingface.co/d"),
        hosted("Bad port", "http://[::1"),
        hosted("None"),
    ]
    found = by_name(analyse(IMAGE, models, usage({}, {}), POLICY))
    assert found["Two"].deletion_risk_flags.has_multiple_hosts
    assert not found["Two"].deletion_risk_flags.has_non_preferred_host
    assert found["Two"].download_hosts == ["huggingface.co", "civitai.com"]
    assert found["Two"].download_count == 2
    assert found["Elsewhere"].deletion_risk_flags.has_non_preferred_host
    assert found["Elsewhere"].has_warning
    assert not found["Broken"].deletion_risk_flags.has_unknown_host  # no scheme: not valid, but parsed
    assert found["Broken"].download_hosts == ["huggingface.co"]
    assert found["Bad port"].deletion_risk_flags.has_unknown_host
    assert found["Bad port"].deletion_risk_flags.no_download_urls
    assert found["None"].deletion_risk_flags.no_download_urls
    assert found["None"].download_count == 0
    custom = by_name(analyse(IMAGE, models, usage({}, {}), RiskPolicy(preferred_hosts=("civitai.com",))))
    assert not custom["Elsewhere"].deletion_risk_flags.has_non_preferred_host


def test_text_download_flags_stay_off_and_text_critical_uses_thresholds() -> None:
    models = [
        ("Org/Quiet-7B", text_record("Org/Quiet-7B", description="quiet", baseline="llama")),
        ("Org/Busy-7B", text_record("Org/Busy-7B")),
    ]
    found = by_name(
        analyse(
            TEXT,
            models,
            usage(
                {"koboldcpp/Busy-7B": 0, "koboldcpp/Quiet-7B": 1}, {"koboldcpp/Quiet-7B": 9, "koboldcpp/Busy-7B": 500}
            ),
            POLICY,
        )
    )
    quiet, busy = found["Org/Quiet-7B"], found["Org/Busy-7B"]
    assert not quiet.deletion_risk_flags.no_download_urls
    assert not quiet.has_warning
    assert not quiet.is_critical  # a worker serves it
    assert busy.deletion_risk_flags.missing_description
    assert busy.deletion_risk_flags.missing_baseline
    assert not busy.is_critical  # used
    lonely = by_name(analyse(TEXT, models, usage({}, {"koboldcpp/Quiet-7B": 9}), POLICY))["Org/Quiet-7B"]
    assert lonely.is_critical  # 9 < 10 requests a month and no worker


def test_size_and_cost_benefit() -> None:
    models = [
        hosted("Big", "https://huggingface.co/a", size_on_disk_bytes=2 * 1024**3),
        hosted("Tiny", "https://huggingface.co/b", size_on_disk_bytes=1000),
    ]
    found = by_name(analyse(IMAGE, models, usage({}, {"Big": 50}), POLICY))
    assert found["Big"].size_gb == 2.0
    assert found["Big"].cost_benefit_score == 25.0
    assert found["Tiny"].size_gb == 0.0
    assert found["Tiny"].cost_benefit_score is None


def test_grouping_merges_variants() -> None:
    models = [
        ("Org/Fam-7B", text_record("Org/Fam-7B", description="d", baseline="b")),
        ("Org/Fam-13B", text_record("Org/Fam-13B")),
        ("Solo-3B", text_record("Solo-3B", description="d", baseline="b")),
    ]
    index = usage({"koboldcpp/Fam-7B": 2, "koboldcpp/Fam-13B": 5}, {"koboldcpp/Fam-7B": 40}, {"koboldcpp/Fam-7B": 4})
    plain = analyse(TEXT, models, index, POLICY)
    grouped = group(plain, POLICY)
    assert [m.name for m in grouped.models] == ["Fam", "Solo"]
    fam = grouped.models[0]
    members = [m for m in plain.models if m.name.startswith("Org/Fam")]
    assert fam.usage_month == sum(m.usage_month for m in members)  # each member carries the group's usage
    assert fam.worker_count == 5  # the most any member has
    assert fam.deletion_risk_flags.missing_description  # OR-ed: the 13B has none
    assert not fam.has_description
    assert fam.usage_trend.day_to_month_ratio == pytest.approx(0.1)
    assert grouped.ungrouped_count == 3
    assert grouped.summary.total_models == 2
    response = deletion_risk(grouped)
    assert response.total_count == 3
    assert response.returned_count == 2


def test_backend_variations_only_for_ungrouped_text() -> None:
    models = [("Org/Fam-7B", text_record("Org/Fam-7B"))]
    index = usage({"koboldcpp/Fam-7B": 2}, {"koboldcpp/Fam-7B": 40, "koboldcpp/Fam-13B": 1000})
    with_variations = analyse(TEXT, models, index, POLICY, variations=True).models[0]
    assert with_variations.usage_month == 40  # its own size only
    assert with_variations.backend_variations is not None
    assert [v.backend for v in with_variations.backend_variations] == ["koboldcpp"]
    assert analyse(TEXT, models, index, POLICY).models[0].usage_month == 1040
    assert group(analyse(TEXT, models, index, POLICY, variations=True), POLICY).models[0].backend_variations is None


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        (RiskPreset.DELETION_CANDIDATES, {"Unused", "Undescribed", "Elsewhere"}),
        (RiskPreset.ZERO_USAGE, {"Unused"}),
        (RiskPreset.NO_WORKERS, {"Unused"}),
        (RiskPreset.MISSING_DATA, {"Undescribed"}),
        (RiskPreset.HOST_ISSUES, {"Elsewhere"}),
        (RiskPreset.CRITICAL, {"Unused"}),
        (RiskPreset.LOW_USAGE, {"Unused"}),
    ],
)
def test_each_preset_keeps_its_models(preset: RiskPreset, expected: set[str]) -> None:
    models = [
        hosted("Fine", "https://huggingface.co/a", description="ok", baseline="sdxl"),
        hosted("Unused", "https://huggingface.co/b", description="ok", baseline="sdxl"),
        hosted("Undescribed", "https://huggingface.co/c", description=" ", baseline="sdxl"),
        hosted("Elsewhere", "https://civitai.com/d", description="ok", baseline="sdxl"),
    ]
    workers = {"Fine": 3, "Undescribed": 1, "Elsewhere": 2}
    month = {"Fine": 10_000, "Undescribed": 5_000, "Elsewhere": 5_000}
    analysis = analyse(IMAGE, models, usage(workers, month, dict.fromkeys(month, 1)), POLICY)
    response = deletion_risk(analysis, preset)
    assert {m.name for m in response.models} == expected
    assert response.total_count == 4
    assert response.returned_count == len(expected)
    assert response.summary == summarize(response.models)


def test_paging_keeps_the_summary_of_every_model() -> None:
    models = [hosted(f"M{i}", "https://huggingface.co/x") for i in range(5)]
    analysis = analyse(IMAGE, models, usage({}, {f"M{i}": 10 * i for i in range(5)}), POLICY)
    page = deletion_risk(analysis, None, limit=2, offset=1)
    assert [m.name for m in page.models] == ["M3", "M2"]
    assert (page.total_count, page.returned_count, page.offset, page.limit) == (5, 2, 1, 2)
    assert page.summary.total_models == 5
    assert deletion_risk(analysis, None, limit=2, offset=10).models == []
    assert page.summary.average_risk_score == round(sum(m.risk_score for m in analysis.models) / 5, 2)


def test_the_policy_sets_the_thresholds() -> None:
    models = [("Org/Quiet-7B", text_record("Org/Quiet-7B")), ("Org/Busy-7B", text_record("Org/Busy-7B"))]
    index = usage({}, {"koboldcpp/Quiet-7B": 9, "koboldcpp/Busy-7B": 991})
    quiet = by_name(analyse(TEXT, models, index, POLICY))["Org/Quiet-7B"]
    assert quiet.is_critical  # 9 < 10
    assert quiet.deletion_risk_flags.low_usage is False  # 0.9 % ≥ 0.02 %
    strict = RiskPolicy(text_critical_usage=5, text_low_usage_percent=1.0)
    quiet = by_name(analyse(TEXT, models, index, strict))["Org/Quiet-7B"]
    assert not quiet.is_critical
    assert quiet.deletion_risk_flags.low_usage
    with pytest.raises(ValidationError):
        RiskPolicy(text_critical_usage=-1)
