"""Charts as inline SVG, drawn from numbers: lines over simulated time, and bars.

No script and nothing fetched: each chart is one `<svg>` element with its
title, axes, axis labels and legend, sized by its viewBox so that it
scales with the page. Each drawn series is one or more elements of class
`mark` (a polyline, circle or rect); an empty chart says so in words.
Colours are the Okabe-Ito palette, which colour-blind readers can tell
apart; dashes and dots tell lines apart in black and white too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape
from typing import Final, final

import attrs

from orderkit.cli import _catalog as catalog
from orderkit.cli._series import at_minute


BLUE: Final = "#0072B2"
ORANGE: Final = "#E69F00"
GREEN: Final = "#009E73"
VERMILLION: Final = "#D55E00"
PURPLE: Final = "#CC79A7"
SKY: Final = "#56B4E9"
GREY: Final = "#6B6B6B"

_WIDTH: Final = 880
_LEFT: Final = 72
_RIGHT: Final = 24
_LEGEND_TOP: Final = 44
_TICK_STEPS: Final = (30, 60, 120, 180, 240, 360, 720, 1440)
_MAX_TICKS: Final = 12


@final
@attrs.frozen(slots=True)
class Line:
    """One series of a time chart.

    Attributes:
        name: What the legend calls it.
        colour: Its colour.
        points: `(minute, value)` pairs, in time order.
        dashed: Drawn dashed.
        step: The value holds until the next point (a stock level).
        dots: Each point gets a dot (a sparse series).
        ring: The dots are rings, so that a line drawn over this one
            leaves them visible.
        gap: Consecutive points further apart than this many minutes are
            not joined.
    """

    name: str
    colour: str
    points: tuple[tuple[float, float], ...]
    dashed: bool = False
    step: bool = False
    dots: bool = False
    ring: bool = False
    gap: float | None = None


@final
@attrs.frozen(slots=True)
class Span:
    """The minutes a time chart shows, and a band to shade in it.

    Attributes:
        start: The first minute shown.
        end: The minute the axis ends.
        band: Minutes to shade, `(from, to)`, with `band_label`.
        band_label: What the band is.
    """

    start: int
    end: int
    band: tuple[int, int] | None = None
    band_label: str = ""


@final
@attrs.frozen(slots=True)
class Bar:
    """One bar of a bar chart: its label, value and colour."""

    label: str
    value: int
    colour: str


def _nice_step(top: float, *, whole: bool = False) -> float:
    """A round step that cuts `0..top` into about five; `whole`: no 2.5."""
    raw = max(top, 1e-9) / 5
    magnitude = math.pow(10, math.floor(math.log10(raw)))
    for factor in (1, 2, 5, 10) if whole else (1, 2, 2.5, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover - the loop ends at 10


def _text_width(text: str) -> float:
    """Roughly how wide `text` is in 12-pixel sans-serif, for layout."""
    return sum(
        12.0 if ord(c) > 0x2E80 else 8.2 if c.isupper() or c.isdigit() else 6.6
        for c in text
    )


def _number(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.1f}"


def _svg(key: str, title: str, height: float, body: Iterable[str]) -> str:
    ident = f"chart-{key}"
    return "\n".join(
        (
            (
                f'<svg class="chart" data-chart="{key}"'
                f' viewBox="0 0 {_WIDTH} {height:g}" width="{_WIDTH}"'
                f' height="{height:g}" role="img" aria-labelledby="{ident}">'
            ),
            f'<title id="{ident}">{escape(title)}</title>',
            f'<text class="title" x="{_LEFT}" y="24">{escape(title)}</text>',
            *body,
            "</svg>",
        )
    )


def _legend_layout(names: Sequence[str]) -> list[tuple[float, float]]:
    """Where each legend entry goes, in rows that wrap at the chart's width."""
    places: list[tuple[float, float]] = []
    x, y = float(_LEFT), float(_LEGEND_TOP)
    for name in names:
        width = 32 + _text_width(name) + 20
        if x + width > _WIDTH - _RIGHT and x > _LEFT:
            x, y = float(_LEFT), y + 20
        places.append((x, y))
        x += width
    return places


def _legend(lines: Sequence[Line]) -> list[str]:
    parts: list[str] = []
    places = _legend_layout([line.name for line in lines])
    for line, (x, y) in zip(lines, places, strict=True):
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        parts.append(
            f'<g class="legend"><line x1="{x:g}" y1="{y - 4:g}" x2="{x + 26:g}"'
            f' y2="{y - 4:g}" stroke="{line.colour}" stroke-width="3"{dash}/>'
        )
        if line.dots:
            parts.append(_dot(x + 13, y - 4, line, mark=False))
        parts.append(f'<text x="{x + 32:g}" y="{y:g}">{escape(line.name)}</text></g>')
    return parts


def _dot(x: float, y: float, line: Line, *, mark: bool = True) -> str:
    kind = f' class="mark" data-series="{escape(line.name)}"' if mark else ""
    if line.ring:
        return (
            f'<circle{kind} cx="{x:.1f}" cy="{y:.1f}" r="5.5" fill="#fff"'
            f' stroke="{line.colour}" stroke-width="2"/>'
        )
    return f'<circle{kind} cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{line.colour}"/>'


def _time_ticks(span: Span) -> list[tuple[int, str, str]]:
    """Tick minutes with the time and, where the day changes, the date."""
    length = span.end - span.start
    every = next((s for s in _TICK_STEPS if length / s <= _MAX_TICKS), 1440)
    first = math.ceil(span.start / every) * every
    ticks: list[tuple[int, str, str]] = []
    last_day = ""
    for minute in range(first, span.end + 1, every):
        local = at_minute(minute).in_timezone(catalog.OFFICE_ZONE)
        day = local.format("MMM D")
        ticks.append((minute, local.format("HH:mm"), day if day != last_day else ""))
        last_day = day
    return ticks


def _path(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def _pieces(line: Line, span: Span) -> list[list[tuple[float, float]]]:
    """The line's points within the span, cut at its gaps; steps made square."""
    points = list(line.points)
    if line.step:
        before = [p for p in points if p[0] <= span.start]
        inside = [p for p in points if span.start < p[0] <= span.end]
        start = [(float(span.start), before[-1][1])] if before else []
        squared: list[tuple[float, float]] = []
        for x, y in [*start, *inside]:
            if squared:
                squared.append((x, squared[-1][1]))
            squared.append((x, y))
        if squared:
            squared.append((float(span.end), squared[-1][1]))
        return [squared] if squared else []
    pieces: list[list[tuple[float, float]]] = []
    for x, y in points:
        if not span.start <= x <= span.end:
            continue
        if not pieces or (line.gap is not None and x - pieces[-1][-1][0] > line.gap):
            pieces.append([])
        pieces[-1].append((x, y))
    return pieces


@final
@attrs.frozen(slots=True)
class _Frame:
    """The plot area of a time chart and its scales."""

    span: Span
    top: float
    bottom: float
    right: float
    y_top: float

    def x(self, minute: float) -> float:
        span = self.span
        return _LEFT + (minute - span.start) / (span.end - span.start) * (
            self.right - _LEFT
        )

    def y(self, value: float) -> float:
        return self.bottom - value / self.y_top * (self.bottom - self.top)


def _band(frame: _Frame) -> list[str]:
    span = frame.span
    if span.band is None:
        return []
    low, high = (frame.x(max(span.start, min(span.end, b))) for b in span.band)
    return [
        (
            f'<rect class="band" x="{low:.1f}" y="{frame.top}" width="{high - low:.1f}"'
            f' height="{frame.bottom - frame.top}"/>'
        ),
        (
            f'<text class="band-label" x="{low:.1f}" y="{frame.top - 5}">'
            f"{escape(span.band_label)}</text>"
        ),
    ]


def _y_grid(frame: _Frame, step: float, *, percent: bool) -> list[str]:
    parts: list[str] = []
    for index in range(round(frame.y_top / step) + 1):
        value = index * step
        y = frame.y(value)
        shown = f"{_number(value)}%" if percent else _number(value)
        parts += [
            (
                f'<line class="grid" x1="{_LEFT}" y1="{y:.1f}" x2="{frame.right}"'
                f' y2="{y:.1f}"/>'
            ),
            (
                f'<text class="tick" x="{_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">'
                f"{shown}</text>"
            ),
        ]
    return parts


def _x_axis(frame: _Frame) -> list[str]:
    parts: list[str] = []
    bottom = frame.bottom
    for minute, clock, day in _time_ticks(frame.span):
        x = frame.x(minute)
        parts += [
            (
                f'<line class="axis" x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}"'
                f' y2="{bottom + 5}"/>'
            ),
            (
                f'<text class="tick" x="{x:.1f}" y="{bottom + 19}"'
                f' text-anchor="middle">'
                f"{clock}</text>"
            ),
        ]
        if day:
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{bottom + 33}"'
                f' text-anchor="middle">{day}</text>'
            )
    return parts


def _axes(frame: _Frame, height: float, y_label: str) -> list[str]:
    top, bottom, right = frame.top, frame.bottom, frame.right
    middle = (top + bottom) / 2
    return [
        f'<line class="axis" x1="{_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}"/>',
        f'<line class="axis" x1="{_LEFT}" y1="{top}" x2="{_LEFT}" y2="{bottom}"/>',
        (
            f'<text class="axis-label" x="{(_LEFT + right) / 2:g}" y="{height - 8}"'
            ' text-anchor="middle">time in Shanghai (UTC+8), November 2026</text>'
        ),
        (
            f'<text class="axis-label" transform="translate(16 {middle:g})'
            f' rotate(-90)" text-anchor="middle">{escape(y_label)}</text>'
        ),
    ]


def _marks(frame: _Frame, line: Line) -> list[str]:
    parts: list[str] = []
    dash = ' stroke-dasharray="6 4"' if line.dashed else ""
    for piece in _pieces(line, frame.span):
        scaled = [(frame.x(x), frame.y(y)) for x, y in piece]
        if len(scaled) > 1:  # a lone point is its dot
            parts.append(
                f'<polyline class="mark" data-series="{escape(line.name)}"'
                f' fill="none" stroke="{line.colour}" stroke-width="2"{dash}'
                f' points="{_path(scaled)}"/>'
            )
        if line.dots:
            parts.extend(_dot(x, y, line) for x, y in scaled)
    return parts


def time_chart(  # noqa: PLR0913 - a chart needs its name, title, data, span and labels
    key: str,
    title: str,
    lines: Sequence[Line],
    span: Span,
    *,
    y_label: str,
    percent: bool = False,
) -> str:
    """A chart of `lines` over the minutes of `span`, times shown in Shanghai."""
    last_row = max((y for _, y in _legend_layout([ln.name for ln in lines])), default=0)
    top = max(last_row, _LEGEND_TOP) + 26
    height = top + 286
    values = [y for line in lines for _, y in line.points]
    highest = 100.0 if percent else max([1.0, *values])
    step = 20.0 if percent else _nice_step(highest)
    frame = _Frame(
        span, top, height - 64, _WIDTH - _RIGHT, math.ceil(highest / step) * step
    )
    body = _legend(lines)
    body += _band(frame)
    body += _y_grid(frame, step, percent=percent)
    body += _x_axis(frame)
    body += _axes(frame, height, y_label)
    marks = [mark for line in lines for mark in _marks(frame, line)]
    body += marks or [_nothing((_LEFT + frame.right) / 2, (top + frame.bottom) / 2)]
    return _svg(key, title, height, body)


def bar_chart(key: str, title: str, bars: Sequence[Bar], *, x_label: str) -> str:
    """Horizontal bars, one per `bars`, labelled with their values."""
    left = _LEFT + 8 + max([_text_width(b.label) for b in bars] or [0.0])
    top, right = 48, _WIDTH - _RIGHT - 60
    bottom = top + 36 * max(len(bars), 1)
    height = bottom + 56
    highest = max([1, *(b.value for b in bars)])
    step = max(1.0, _nice_step(highest, whole=True))
    ticks = math.ceil(highest / step)

    def sx(value: float) -> float:
        return left + value / (ticks * step) * (right - left)

    body: list[str] = []
    for index in range(ticks + 1):
        x = sx(index * step)
        body += [
            f'<line class="grid" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}"/>',
            (
                f'<text class="tick" x="{x:.1f}" y="{bottom + 18}"'
                f' text-anchor="middle">'
                f"{_number(index * step)}</text>"
            ),
        ]
    for row, bar in enumerate(bars):
        y = top + 36 * row + 8
        body.append(
            f'<text class="tick" x="{left - 8:g}" y="{y + 15}" text-anchor="end">'
            f"{escape(bar.label)}</text>"
        )
        if bar.value:
            body.append(
                f'<rect class="mark" data-series="{escape(bar.label)}"'
                f' data-value="{bar.value}" x="{left:g}"'
                f' y="{y}" width="{sx(bar.value) - left:.1f}" height="22"'
                f' fill="{bar.colour}"/>'
            )
        body.append(
            f'<text class="value" x="{sx(bar.value) + 6:.1f}" y="{y + 15}">'
            f"{bar.value:,}</text>"
        )
    body += [
        f'<line class="axis" x1="{left:g}" y1="{bottom}" x2="{right}" y2="{bottom}"/>',
        f'<line class="axis" x1="{left:g}" y1="{top}" x2="{left:g}" y2="{bottom}"/>',
        (
            f'<text class="axis-label" x="{(left + right) / 2:g}" y="{height - 10}"'
            f' text-anchor="middle">{escape(x_label)}</text>'
        ),
    ]
    if not any(b.value for b in bars):
        body.append(_nothing((left + right) / 2, (top + bottom) / 2))
    return _svg(key, title, height, body)


def _nothing(x: float, y: float) -> str:
    return (
        f'<text class="nothing" x="{x:g}" y="{y:g}" text-anchor="middle">'
        "nothing of this happened in this run</text>"
    )
