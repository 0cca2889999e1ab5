"""The server-drawn SVG charts: well-formed, proportional, escaped and free of anything a strict CSP would block."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup, escape

from modelref.web import charts
from modelref.web.charts import bar_chart, split_bar

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "Tom & Jerry", 'it\'s a "quote" &amp;']


def parse(chart: Markup) -> ET.Element:
    """The chart as an element tree (raises on malformed XML)."""
    return ET.fromstring(str(chart))


def find(root: ET.Element, tag: str, cls: str | None = None) -> list[ET.Element]:
    """Every *tag* element under *root* (in document order), optionally only those with class *cls*."""
    return [e for e in root.iter(SVG + tag) if cls is None or cls in e.get("class", "").split()]


def bars(root: ET.Element) -> list[ET.Element]:
    return [e for e in find(root, "rect") if {"chart-bar", "chart-bar-alt"} & set(e.get("class", "").split())]


def own_text(element: ET.Element) -> str:
    """The text of *element* itself, not of a nested hover ``<title>``."""
    return element.text or ""


def full_label(element: ET.Element) -> str:
    """The label a ``<text>`` stands for: its hover ``<title>`` when it was truncated, else its own text."""
    titles = find(element, "title")
    return titles[0].text or "" if titles else own_text(element)


def view_box(root: ET.Element) -> list[float]:
    return [float(v) for v in root.get("viewBox", "").split()]


def labelled_title(root: ET.Element) -> str:
    """The text of the ``<title>`` that the svg's aria-labelledby points to."""
    target = root.get("aria-labelledby")
    titles = [t for t in find(root, "title") if t.get("id") == target]
    assert len(titles) == 1
    return titles[0].text or ""


def test_bar_chart_is_an_accessible_scalable_svg() -> None:
    chart = bar_chart("Downloads", [("alpha", 3), ("beta", 1)])
    root = parse(chart)
    assert root.tag == SVG + "svg"
    assert root.get("role") == "img"
    assert root.get("width") == "100%"
    assert root.get("height") is None
    assert "chart" in root.get("class", "").split()
    assert view_box(root)[:3] == [0, 0, charts.WIDTH]
    assert labelled_title(root) == "Downloads"
    assert isinstance(chart, Markup)
    assert escape(chart) == chart  # already safe: Jinja will not escape it a second time


def test_one_bar_per_row_in_the_order_given() -> None:
    root = parse(bar_chart("t", [("b", 1), ("a", 5), ("c", 2)]))
    assert len(bars(root)) == 3
    assert [own_text(t) for t in find(root, "text", "chart-label")] == ["b", "a", "c"]
    assert [t.text for t in find(root, "text", "chart-value")] == ["1", "5", "2"]


def test_bar_widths_are_proportional_and_the_largest_is_full_width() -> None:
    root = parse(bar_chart("t", [("a", 50), ("b", 200), ("c", 25), ("d", 0)]))
    widths = [float(b.get("width", "nan")) for b in bars(root)]
    assert widths == pytest.approx([charts.BAR_WIDTH / 4, charts.BAR_WIDTH, charts.BAR_WIDTH / 8, 0], abs=0.01)
    assert len({b.get("x") for b in bars(root)}) == 1  # every bar starts at the axis


def test_height_is_proportional_to_the_number_of_rows() -> None:
    def height(n: int) -> float:
        return view_box(parse(bar_chart("t", [(f"r{i}", i + 1) for i in range(n)])))[3]

    assert height(2) - height(1) == charts.ROW_HEIGHT
    assert height(10) - height(5) == pytest.approx(5 * charts.ROW_HEIGHT)
    rows = bars(parse(bar_chart("t", [(f"r{i}", 1) for i in range(10)])))
    assert all(float(r.get("y", "nan")) + float(r.get("height", "nan")) <= height(10) for r in rows)


def test_rows_past_the_limit_fold_into_other() -> None:
    rows = [(f"r{i}", float(i)) for i in range(1, 26)]
    root = parse(bar_chart("t", rows, limit=20))
    assert len(bars(root)) == 20
    labels = [own_text(t) for t in find(root, "text", "chart-label")]
    assert labels[:19] == [f"r{i}" for i in range(1, 20)]
    assert labels[19] == "other (6)"
    assert find(root, "text", "chart-value")[19].text == str(sum(range(20, 26)))
    assert bars(root)[19].get("class") == "chart-bar-alt"
    assert [b.get("class") for b in bars(root)[:19]] == ["chart-bar"] * 19
    # the folded row is the largest here: it takes the full width
    assert float(bars(root)[19].get("width", "nan")) == pytest.approx(charts.BAR_WIDTH)


def test_exactly_limit_rows_are_not_folded_and_limit_one_folds_everything() -> None:
    root = parse(bar_chart("t", [("a", 1), ("b", 2), ("c", 3)], limit=3))
    assert [own_text(t) for t in find(root, "text", "chart-label")] == ["a", "b", "c"]
    root = parse(bar_chart("t", [("a", 1), ("b", 2), ("c", 3)], limit=1))
    assert [own_text(t) for t in find(root, "text", "chart-label")] == ["other (3)"]
    assert [t.text for t in find(root, "text", "chart-value")] == ["6"]


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        bar_chart("t", [("a", 1)], limit=0)


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (12345, "", "12,345"),
        (1234567.0, "", "1,234,567"),
        (1234.56, "", "1,234.6"),
        (3.04, "", "3"),
        (0.25, "", "0.2"),
        (9.96, "", "10"),
        (12345, "GB", "12,345\u2009GB"),
        (2.5, "%", "2.5\u2009%"),
    ],
)
def test_values_are_formatted(value: float, unit: str, shown: str) -> None:
    root = parse(bar_chart("t", [("a", value)], unit=unit))
    assert [t.text for t in find(root, "text", "chart-value")] == [shown]


def test_labels_link_with_href_but_not_the_other_row() -> None:
    root = parse(bar_chart("t", [("a b", 3), ("c", 2), ("d", 1)], limit=2, href=lambda label: f"/models/{label}"))
    links = find(root, "a")
    assert [link.get("href") for link in links] == ["/models/a b"]
    assert [own_text(t) for link in links for t in find(link, "text")] == ["a b"]
    assert own_text(find(root, "text", "chart-label")[1]) == "other (2)"
    assert root.get("role") == "group"  # an img would hide its links from assistive technology
    assert find(parse(bar_chart("t", [("a", 1)])), "a") == []


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_is_escaped_in_bar_chart(hostile: str) -> None:
    chart = bar_chart(hostile, [(hostile, 1), ("x", 2)], unit=hostile, href=lambda label: label)
    assert "<script" not in chart
    assert "<img" not in chart
    root = parse(chart)
    assert labelled_title(root) == hostile
    assert own_text(find(root, "text", "chart-label")[0]) == hostile
    assert find(root, "a")[0].get("href") == hostile
    assert find(root, "text", "chart-value")[0].text == f"1\u2009{hostile}"
    assert [e.tag for e in root.iter() if e.tag in {SVG + "script", SVG + "img", "script", "img"}] == []


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_is_escaped_in_split_bar(hostile: str) -> None:
    chart = split_bar(hostile, [(hostile, 1), ("x", 1)])
    assert "<script" not in chart
    assert "<img" not in chart
    root = parse(chart)
    assert labelled_title(root) == hostile
    assert full_label(find(root, "text", "chart-label")[0]) == hostile


@pytest.mark.parametrize(
    "chart",
    [
        bar_chart(HOSTILE[1], [(h, i + 1) for i, h in enumerate(HOSTILE)], unit=HOSTILE[0], href=lambda s: s),
        bar_chart("t", [("x" * 100, 1)] * 30),
        bar_chart("t", []),
        split_bar(HOSTILE[0], [(h, i) for i, h in enumerate(HOSTILE)]),
        split_bar("t", []),
    ],
)
def test_nothing_a_strict_csp_would_block(chart: Markup) -> None:
    root = parse(chart)
    elements = list(root.iter())
    assert [e.tag for e in elements if e.tag.removeprefix(SVG) in {"style", "script", "foreignObject"}] == []
    attributes = {name.lower() for e in elements for name in e.attrib}
    assert "style" not in attributes
    assert [name for name in attributes if name.startswith("on")] == []
    assert [v for e in elements for v in e.attrib.values() if "javascript:" in v.lower()] == []


@pytest.mark.parametrize(
    "rows",
    [[], [("a", 0)], [("a", 0), ("b", 0.0)], [("a", math.nan)], [("a", math.inf)], [("a", -math.inf)], [("a", -5)]],
)
def test_no_data(rows: list[tuple[str, float]]) -> None:
    for chart in (bar_chart("Empty", rows), split_bar("Empty", rows)):
        root = parse(chart)
        texts = find(root, "text")
        assert [(t.get("class"), t.text) for t in texts] == [("chart-empty", "No data")]
        assert find(root, "rect") == []
        assert labelled_title(root) == "Empty"
        assert root.get("width") == "100%"


def numbers_in_attributes(root: ET.Element) -> list[float]:
    """Every number in every geometry attribute."""
    names = {"x", "y", "x1", "x2", "y1", "y2", "width", "height", "viewBox", "dx", "rx"}
    found = [v for e in root.iter() for name, v in e.attrib.items() if name in names and v != "100%"]
    return [float(n) for v in found for n in v.split()]


def test_nan_infinity_and_negatives_count_as_zero_beside_real_values() -> None:
    rows = [("a", 10.0), ("nan", math.nan), ("inf", math.inf), ("-inf", -math.inf), ("neg", -3.0), ("zero", -0.0)]
    root = parse(bar_chart("t", rows))
    assert [float(b.get("width", "nan")) for b in bars(root)] == pytest.approx([charts.BAR_WIDTH, 0, 0, 0, 0, 0])
    assert [t.text for t in find(root, "text", "chart-value")] == ["10", "0", "0", "0", "0", "0"]
    assert all(math.isfinite(n) and n >= 0 for n in numbers_in_attributes(root))
    split = parse(split_bar("t", rows))
    assert all(math.isfinite(n) and n >= 0 for n in numbers_in_attributes(split))
    assert float(find(split, "rect")[0].get("width", "nan")) == pytest.approx(charts.WIDTH)


def test_huge_values_do_not_overflow() -> None:
    huge = [("a", 1e308), ("b", 1e308), ("c", 1e308)]
    for root in (parse(bar_chart("t", huge, limit=1)), parse(split_bar("t", huge))):
        assert bars(root)
        assert all(math.isfinite(n) for n in numbers_in_attributes(root))
    assert [float(b.get("width", "nan")) for b in bars(parse(split_bar("t", huge)))][::2] == pytest.approx(
        [charts.WIDTH / 3] * 3, abs=0.01
    )


def test_long_labels_are_truncated_with_the_full_label_on_hover() -> None:
    label = "a-very-long-model-name-" * 5
    root = parse(bar_chart("t", [(label, 1), ("short", 2)]))
    long_text, short_text = find(root, "text", "chart-label")
    assert own_text(long_text).endswith("…")
    assert len(own_text(long_text)) <= charts.LABEL_CHARS
    assert label.startswith(own_text(long_text)[:-1])
    assert [t.text for t in find(long_text, "title")] == [label]
    assert find(short_text, "title") == []
    assert own_text(short_text) == "short"


def test_characters_xml_cannot_hold_are_replaced() -> None:
    label = "a\x00b\x1bc\ud800d"
    root = parse(bar_chart(label, [(label, 1)], href=lambda s: f"/m/{s}"))
    assert own_text(find(root, "text", "chart-label")[0]) == "a\ufffdb\ufffdc\ufffdd"
    assert labelled_title(root) == "a\ufffdb\ufffdc\ufffdd"
    assert parse(split_bar(label, [(label, 1)]))


def test_ids_are_unique_across_charts_and_stable_for_the_same_chart() -> None:
    first = bar_chart("Downloads", [("a", 1), ("b", 2)])
    second = bar_chart("Downloads", [("a", 1), ("b", 3)])
    third = split_bar("Downloads", [("a", 1), ("b", 2)])
    page = ET.fromstring(f"<div>{first}{second}{third}{bar_chart('Empty', [])}</div>")
    ids = [e.get("id") for e in page.iter() if e.get("id") is not None]
    assert len(ids) >= 8
    assert len(ids) == len(set(ids))
    for svg in page:
        assert svg.get("aria-labelledby") in {e.get("id") for e in svg.iter()}
        assert svg.get("aria-describedby") in {e.get("id") for e in svg.iter()}
    assert bar_chart("Downloads", [("a", 1), ("b", 2)]) == first  # same data, same bytes (stable ETags)


def test_split_bar_shares_sum_to_a_hundred_and_fill_the_width() -> None:
    parts = [("NSFW", 1234.0), ("SFW", 5678.0), ("unknown", 99.0), ("other", 1.0)]
    root = parse(split_bar("Content", parts))
    segments = [r for r in bars(root) if r.get("height") == str(charts.SPLIT_BAR_HEIGHT)]
    assert len(segments) == 4
    assert [s.get("class") for s in segments] == ["chart-bar", "chart-bar-alt", "chart-bar", "chart-bar-alt"]
    widths = [float(s.get("width", "nan")) for s in segments]
    assert sum(widths) == pytest.approx(charts.WIDTH, abs=0.05)
    assert widths[1] / widths[0] == pytest.approx(5678 / 1234, rel=1e-3)
    starts = [float(s.get("x", "nan")) for s in segments]
    assert starts == pytest.approx([0, *[sum(widths[: i + 1]) for i in range(3)]], abs=0.05)
    legend = [t.text for t in find(root, "tspan", "chart-value")]
    shares = [float(m) for text in legend for m in re.findall(r"\(([\d.]+)%\)", text or "")]
    assert len(shares) == 4
    assert sum(shares) == pytest.approx(100, abs=0.2)
    assert legend[0] == "1,234 (17.6%)"
    assert [own_text(t) for t in find(root, "text", "chart-label")] == ["NSFW", "SFW", "unknown", "other"]


def test_split_bar_labels_wide_segments_with_their_share() -> None:
    root = parse(split_bar("Content", [("NSFW", 30), ("SFW", 70), ("tiny", 0.1)]))
    inline = [t.text for t in find(root, "text", "chart-value")]
    assert inline == ["30%", "69.9%"]  # the tiny segment is too narrow: its share is in the legend only
    assert len(find(root, "rect", "chart-bar")) + len(find(root, "rect", "chart-bar-alt")) == 6  # segments + swatches
    assert root.get("role") == "img"
    assert labelled_title(root) == "Content"


def test_split_bar_height_grows_with_the_legend() -> None:
    def height(n: int) -> float:
        return view_box(parse(split_bar("t", [(f"p{i}", 1) for i in range(n)])))[3]

    assert height(1) == height(charts.LEGEND_COLUMNS)
    assert height(charts.LEGEND_COLUMNS + 1) == height(charts.LEGEND_COLUMNS) + charts.ROW_HEIGHT
