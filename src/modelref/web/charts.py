"""Charts drawn on the server as inline SVG, safe under a strict Content-Security-Policy.

The SVG carries no ``style`` attribute, no ``<style>`` or ``<script>`` element and no event handler: colour comes
from the page's stylesheet through the classes ``chart``, ``chart-bar``, ``chart-bar-alt``, ``chart-label``,
``chart-value``, ``chart-axis`` and ``chart-empty``. Every piece of user text (titles, labels, links) is escaped.

Ids are derived from a hash of the chart's content, so the same data gives the same bytes while different
charts on one page get different ids.
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
from collections.abc import Callable, Iterable, Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "split_bar"]

WIDTH = 760
"""Width of every chart's viewBox in user units (the svg itself is ``width="100%"``)."""
ROW_HEIGHT = 24
BAR_HEIGHT = 16
PAD = 6
LABEL_WIDTH = 280
"""The left column holding the labels; the bars start here."""
VALUE_WIDTH = 110
"""The right column holding the formatted values."""
BAR_WIDTH = WIDTH - LABEL_WIDTH - VALUE_WIDTH
"""Width of the largest bar."""
EMPTY_HEIGHT = 40
FONT_SIZE = 12
LABEL_CHARS = 40
LEGEND_CHARS = 24
LEGEND_COLUMNS = 3
SPLIT_BAR_HEIGHT = 28
MIN_INLINE_PERCENT_WIDTH = 48
"""A split segment narrower than this shows its percentage only in the legend."""
THIN_SPACE = "\u2009"
ELLIPSIS = "…"

# Characters XML 1.0 does not allow (controls, lone surrogates, U+FFFE/U+FFFF): they would make the SVG malformed.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def bar_chart(
    title: str,
    rows: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    limit: int = 20,
    href: Callable[[str], str] | None = None,
) -> Markup:
    """Horizontal bars, one per ``(label, value)`` row in the order given, at most *limit* of them.

    Rows past the limit are summed into a last row ``other (N)`` (class ``chart-bar-alt``, never a link). Bars scale
    to the largest value; NaN, infinities and negatives count as 0. With *href*, each label links to
    ``href(label)``. No rows, or nothing above 0, gives a single ``No data`` text.

    The svg has ``role="img"``, except with *href* where it is ``role="group"``: an img's children are hidden from
    assistive technology, and the links would be too.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    cleaned = [(label, _clean(value)) for label, value in rows]
    folded = 0
    if len(cleaned) > limit:
        rest = cleaned[limit - 1 :]
        folded = len(rest)
        cleaned = [*cleaned[: limit - 1], (f"other ({folded})", _sum(value for _, value in rest))]
    largest = max((value for _, value in cleaned), default=0.0)
    if largest <= 0:
        return _empty("bar", title)

    height = 2 * PAD + len(cleaned) * ROW_HEIGHT
    body: list[Markup] = []
    summary: list[str] = []
    for index, (label, value) in enumerate(cleaned):
        is_other = folded > 0 and index == len(cleaned) - 1
        top = PAD + index * ROW_HEIGHT
        middle = top + ROW_HEIGHT / 2
        shown = _format_number(value) + (THIN_SPACE + unit if unit else "")
        summary.append(f"{label}: {shown}")
        label_text = Markup(
            '<text class="chart-label" x="{x}" y="{y}" text-anchor="end" dominant-baseline="middle">{text}</text>'
        ).format(x=_n(LABEL_WIDTH - 8), y=_n(middle), text=_truncated(label, LABEL_CHARS))
        if href is not None and not is_other:
            label_text = Markup('<a href="{href}">{text}</a>').format(href=_xml_text(href(label)), text=label_text)
        body.append(label_text)
        body.append(
            Markup('<rect class="{cls}" x="{x}" y="{y}" width="{w}" height="{h}" rx="2"/>').format(
                cls="chart-bar-alt" if is_other else "chart-bar",
                x=_n(LABEL_WIDTH),
                y=_n(top + (ROW_HEIGHT - BAR_HEIGHT) / 2),
                w=_n(value / largest * BAR_WIDTH),
                h=_n(BAR_HEIGHT),
            )
        )
        body.append(
            Markup(
                '<text class="chart-value" x="{x}" y="{y}" text-anchor="end" dominant-baseline="middle">{text}</text>'
            ).format(x=_n(WIDTH), y=_n(middle), text=_xml_text(shown))
        )
    body.append(
        Markup('<line class="chart-axis" x1="{x}" y1="{y1}" x2="{x}" y2="{y2}"/>').format(
            x=_n(LABEL_WIDTH), y1=_n(PAD), y2=_n(height - PAD)
        )
    )
    return _svg("bar", title, height, "; ".join(summary), Markup("").join(body), "img" if href is None else "group")


def split_bar(title: str, parts: Sequence[tuple[str, float]]) -> Markup:
    """One stacked horizontal bar split into *parts*, each segment labelled with its share in percent.

    A legend under the bar names each part with its value and share. Segments alternate ``chart-bar`` and
    ``chart-bar-alt``; NaN, infinities and negatives count as 0; no parts, or nothing above 0, gives ``No data``.
    """
    cleaned = [(label, _clean(value)) for label, value in parts]
    largest = max((value for _, value in cleaned), default=0.0)
    if largest <= 0:
        return _empty("split", title)
    total = math.fsum(value / largest for _, value in cleaned)  # scaled first: a sum of huge values cannot overflow

    legend_rows = math.ceil(len(cleaned) / LEGEND_COLUMNS)
    legend_top = PAD + SPLIT_BAR_HEIGHT + PAD
    height = legend_top + legend_rows * ROW_HEIGHT + PAD
    column_width = WIDTH / min(len(cleaned), LEGEND_COLUMNS)
    body: list[Markup] = []
    summary: list[str] = []
    left = 0.0
    for index, (label, value) in enumerate(cleaned):
        cls = "chart-bar" if index % 2 == 0 else "chart-bar-alt"
        share = value / largest / total * 100
        width = value / largest / total * WIDTH
        shown = f"{_format_number(value)} ({_format_number(share)}%)"
        summary.append(f"{label}: {shown}")
        body.append(
            Markup('<rect class="{cls}" x="{x}" y="{y}" width="{w}" height="{h}"/>').format(
                cls=cls, x=_n(left), y=_n(PAD), w=_n(width), h=_n(SPLIT_BAR_HEIGHT)
            )
        )
        if width >= MIN_INLINE_PERCENT_WIDTH:
            body.append(
                Markup(
                    '<text class="chart-value" x="{x}" y="{y}" text-anchor="middle" dominant-baseline="middle">'
                    "{text}</text>"
                ).format(x=_n(left + width / 2), y=_n(PAD + SPLIT_BAR_HEIGHT / 2), text=f"{_format_number(share)}%")
            )
        left += width
        column, row = index % LEGEND_COLUMNS, index // LEGEND_COLUMNS
        x = column * column_width
        middle = legend_top + row * ROW_HEIGHT + ROW_HEIGHT / 2
        body.append(
            Markup('<rect class="{cls}" x="{x}" y="{y}" width="12" height="12" rx="2"/>').format(
                cls=cls, x=_n(x), y=_n(middle - 6)
            )
        )
        body.append(
            Markup(
                '<text class="chart-label" x="{x}" y="{y}" dominant-baseline="middle">{label}'
                '<tspan class="chart-value" dx="6">{value}</tspan></text>'
            ).format(x=_n(x + 18), y=_n(middle), label=_truncated(label, LEGEND_CHARS), value=shown)
        )
    return _svg("split", title, height, "; ".join(summary), Markup("").join(body), "img")


def _svg(kind: str, title: str, height: float, description: str, body: Markup, role: str) -> Markup:
    """Wrap *body* in the outer svg with its title, description, viewBox and a content-derived id."""
    title_text, description_text = _xml_text(title), _xml_text(description)
    digest = hashlib.sha256("\0".join([kind, title_text, description_text, str(body)]).encode()).hexdigest()
    chart_id = f"chart-{digest[:12]}"
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="{role}" width="100%" viewBox="0 0 {w} {h}" '
        'preserveAspectRatio="xMinYMin meet" font-size="{font}" aria-labelledby="{id}-title" '
        'aria-describedby="{id}-desc"><title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
        "{body}</svg>"
    ).format(
        role=role,
        w=_n(WIDTH),
        h=_n(height),
        font=_n(FONT_SIZE),
        id=chart_id,
        title=title_text,
        desc=description_text,
        body=body,
    )


def _empty(kind: str, title: str) -> Markup:
    """An svg that says ``No data``, keeping the title for assistive technology."""
    body = Markup(
        '<text class="chart-empty" x="{x}" y="{y}" text-anchor="middle" dominant-baseline="middle">No data</text>'
    ).format(x=_n(WIDTH / 2), y=_n(EMPTY_HEIGHT / 2))
    return _svg(kind, title, EMPTY_HEIGHT, "No data", body, "img")


def _clean(value: float) -> float:
    """*value* as a finite number of at least 0 (NaN, infinities, negatives and non-numbers become 0)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return number if math.isfinite(number) and number > 0 else 0.0


def _sum(values: Iterable[float]) -> float:
    """The sum of finite non-negative *values*, held at the largest float rather than overflowing to infinity."""
    try:
        return math.fsum(values)
    except OverflowError:
        return sys.float_info.max


def _format_number(value: float) -> str:
    """Thousands separators and at most one decimal: ``12,345``, ``1,234.5``."""
    text = f"{value:,.1f}"
    return text.removesuffix(".0")


def _n(value: float) -> str:
    """A coordinate for an attribute: at most two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _xml_text(text: str) -> str:
    """*text* without the characters XML cannot hold (escaping is left to Markup.format)."""
    return _NOT_XML.sub("\ufffd", text)


def _truncated(label: str, limit: int) -> Markup:
    """*label* escaped, cut to *limit* characters with an ellipsis and the full text in a hover ``<title>``."""
    text = _xml_text(label)
    if len(text) <= limit:
        return escape(text)
    return Markup("{short}<title>{full}</title>").format(short=text[: limit - 1].rstrip() + ELLIPSIS, full=text)
