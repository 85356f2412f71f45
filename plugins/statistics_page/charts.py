"""Static SVG charts drawn at build time: stacked columns and horizontal bars.

Our own small code, no library and no script: each chart is one `<svg role="img">`
with a `<title>` and a `<desc>`, filled with colours that pass 3:1 contrast on white
and patterns (stripes, dots…), so colour is never the only cue; totals are written
beside the bars, and the page puts the table of the same numbers next to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["PALETTE", "Series", "bars", "patterns", "stacked_columns", "swatch"]

# (colour, pattern) per series; each colour has at least 4.5:1 contrast on white.
PALETTE: tuple[tuple[str, str], ...] = (
    ("#a50e0e", "solid"),
    ("#1456b8", "diagonal"),
    ("#2e7d32", "dots"),
    ("#6a1b9a", "horizontal"),
    ("#9a4a00", "cross"),
    ("#37474f", "vertical"),
)
OTHER = ("#545454", "diagonal")  # items without a value ("Chưa phân loại")
PATTERN_PREFIX = "tk-pattern-"
FONT = 'font-family="system-ui, sans-serif"'


@dataclass(frozen=True)
class Series:
    """One stacked series: its label, its tone (index in PALETTE, -1: OTHER), its values."""

    label: str
    tone: int
    values: tuple[int, ...]


def tone(index: int) -> tuple[str, str]:
    """Return the (colour, pattern) of a tone index."""
    return OTHER if index < 0 else PALETTE[index % len(PALETTE)]


def _pattern_shapes(kind: str) -> str:
    """Return the white marks of a 8×8 pattern tile."""
    stroke = 'stroke="#fff" stroke-width="1.5"'
    return {
        "diagonal": f'<path d="M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4" {stroke}/>',
        "dots": '<circle cx="4" cy="4" r="1.6" fill="#fff"/>',
        "horizontal": f'<path d="M0,4 h8" {stroke}/>',
        "cross": f'<path d="M0,0 l8,8 M8,0 l-8,8" {stroke}/>',
        "vertical": f'<path d="M4,0 v8" {stroke}/>',
    }.get(kind, "")


def patterns() -> Markup:
    """Return one hidden <svg> defining every pattern the charts and swatches use."""
    defs = []
    for kind in {kind for _, kind in (*PALETTE, OTHER)}:
        if kind == "solid":
            continue
        defs.append(
            f'<pattern id="{PATTERN_PREFIX}{kind}" width="8" height="8"'
            f' patternUnits="userSpaceOnUse">{_pattern_shapes(kind)}</pattern>'
        )
    return Markup(
        '<svg class="chart-defs" width="0" height="0" aria-hidden="true" focusable="false">'
        f"<defs>{''.join(sorted(defs))}</defs></svg>"
    )


def _rect(x: float, y: float, w: float, h: float, index: int) -> str:
    """Return a rectangle in a tone's colour with its pattern over it."""
    colour, kind = tone(index)
    box = f'x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}"'
    shapes = f'<rect {box} fill="{colour}" stroke="#fff" stroke-width="1"/>'
    if kind != "solid":
        shapes += f'<rect {box} fill="url(#{PATTERN_PREFIX}{kind})"/>'
    return shapes


def swatch(index: int) -> Markup:
    """Return a small legend swatch of a tone (decorative: the label is beside it)."""
    return Markup(
        '<svg class="swatch" width="16" height="16" viewBox="0 0 16 16"'
        f' aria-hidden="true" focusable="false">{_rect(0, 0, 16, 16, index)}</svg>'
    )


def nice_max(value: int) -> int:
    """Return a round axis maximum at or above value (at least 1)."""
    if value <= 5:
        return max(value, 1)
    step = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * step:
            return int(factor * step)
    return value  # pragma: no cover


def ticks(top: int) -> list[int]:
    """Return up to six evenly spaced whole ticks from 0 to top."""
    step = max(1, math.ceil(top / 5))
    return list(range(0, top + 1, step))


def _open(chart_id: str, width: int, height: int, title: str, desc: str) -> str:
    """Return the opening of an accessible chart with its title and description."""
    return (
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" role="img"'
        f' aria-labelledby="{chart_id}-title {chart_id}-desc" {FONT}>'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
    )


def stacked_columns(
    chart_id: str,
    title: str,
    desc: str,
    categories: Sequence[str],
    series: Sequence[Series],
) -> Markup:
    """Return a column chart: one column per category, its series stacked, total on top."""
    left, right, top_margin, bottom = 36, 8, 24, 32
    plot_h = 200
    width = max(400, left + right + 56 * len(categories))
    band = (width - left - right) / max(len(categories), 1)
    height = top_margin + plot_h + bottom
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    top = nice_max(max(totals, default=0))
    scale = plot_h / top
    base = top_margin + plot_h
    parts = [_open(chart_id, width, height, title, desc)]
    for tick in ticks(top):
        y = base - tick * scale
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"'
            ' stroke="#ddd6cb" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12"'
            f' fill="#545454">{tick}</text>'
        )
    for i, category in enumerate(categories):
        w = min(band * 0.7, 48)
        x = left + i * band + (band - w) / 2
        y = base
        for one in series:
            value = one.values[i]
            if value:
                h = value * scale
                y -= h
                parts.append(_rect(x, y, w, h, one.tone))
        centre = x + w / 2
        parts.append(
            f'<text x="{centre:.1f}" y="{y - 6:.1f}" text-anchor="middle"'
            f' font-size="13" font-weight="700" fill="#1b1b1b">{totals[i]}</text>'
            f'<text x="{centre:.1f}" y="{base + 20}" text-anchor="middle"'
            f' font-size="13" fill="#1b1b1b">{escape(category)}</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{base}" y2="{base}"'
        ' stroke="#1b1b1b" stroke-width="1"/></svg>'
    )
    return Markup("".join(parts))


def bars(
    chart_id: str, title: str, desc: str, rows: Sequence[tuple[str, int]]
) -> Markup:
    """Return a horizontal bar chart: one labelled bar per row, its value at its end."""
    row_h, label_w, width, top_margin = 28, 132, 400, 8
    plot_w = width - label_w - 40
    height = top_margin * 2 + row_h * max(len(rows), 1)
    top = max((value for _, value in rows), default=0) or 1
    parts = [_open(chart_id, width, height, title, desc)]
    for i, (label, value) in enumerate(rows):
        y = top_margin + i * row_h
        w = plot_w * value / top
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" font-size="13"'
            f' fill="#1b1b1b">{escape(label)}</text>'
        )
        if value:
            parts.append(_rect(label_w, y + 4, w, row_h - 8, 0))
        parts.append(
            f'<text x="{label_w + w + 6:.1f}" y="{y + 18}" font-size="13"'
            f' font-weight="700" fill="#1b1b1b">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
