"""The report's five charts of the day, from the recorded and ledger series.

Orders per minute by channel, the hot SKUs' stock, holds placed,
committed and expired, orders held for review by reason, and the shipping
promise's on-time rate: each an SVG from `_svg` in a `<figure>` with a
caption that says how to read it. All time charts share one axis: the
simulated day from its first minute to the last order, hold or shipment.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from html import escape
from typing import Final

from orderkit.calendar import SlaPolicy
from orderkit.cli import _catalog as catalog
from orderkit.cli._series import LedgerSeries, Recorded, minute_of, sla_by_hour
from orderkit.cli._svg import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    PURPLE,
    SKY,
    VERMILLION,
    Bar,
    Line,
    Span,
    bar_chart,
    time_chart,
)


CHARTS: Final = ("orders", "stock", "holds", "held", "sla")
"""The `data-chart` names of the charts, in page order."""

_CHANNEL_COLOURS: Final = {
    "taobao": VERMILLION,
    "magento": BLUE,
    "shopify": GREEN,
    "woocommerce": PURPLE,
}
_SKU_COLOURS: Final = (ORANGE, GREEN, BLUE)
_HOLD_COLOURS: Final = {
    "placed": BLUE,
    "committed": GREEN,
    "expired": VERMILLION,
    "released": GREY,
}
_REASONS: Final = {
    "pricing": "below a price floor",
    "duplicate": "suspected duplicate (疑似重复)",
    "duplicate+pricing": "both: below a floor and a duplicate",
}
_SLA_COLOURS: Final = {"CN": VERMILLION, "US": BLUE, "EU": PURPLE}
_BIN_WIDTHS: Final = (1, 2, 5, 10, 15, 30, 60)
_MAX_BINS: Final = 300
_LONGEST: Final = catalog.SPAN.total_seconds() // 60 + 24 * 60


def sla_on_time(recorded: Recorded) -> tuple[int, int]:
    """Shipments on time, and shipments with a promise, over the whole run."""
    rates = sla_by_hour(recorded.shipped, _slas())
    kept = sum(k for hours in rates.values() for k, _ in hours.values())
    total = sum(t for hours in rates.values() for _, t in hours.values())
    return kept, total


def _slas() -> dict[str, SlaPolicy]:
    found: dict[str, SlaPolicy] = {}
    for region in catalog.REGIONS:
        sla = catalog.desk_policy(region).sla
        if sla is not None:
            found[region] = sla
    return found


def _span(recorded: Recorded, ledger: LedgerSeries) -> Span:
    minutes = [m for _, m in recorded.orders]
    minutes += [m for _, _, m in recorded.shipped]
    minutes += [m for kind, m in ledger.holds if kind != "released"]
    day = int(catalog.SPAN.total_seconds() // 60)
    last = max([day, *(m for m in minutes if m <= _LONGEST)])
    flash = minute_of(catalog.FLASH_START)
    length = int(catalog.FLASH_LENGTH.total_seconds() // 60)
    return Span(
        0,
        math.ceil((last + 1) / 60) * 60,
        band=(flash, flash + length),
        band_label="flash sale",
    )


def _per_minute(
    counts: Mapping[int, int], span: Span
) -> tuple[int, tuple[tuple[float, float], ...]]:
    """Counts as per-minute averages over bins: the bin width and the points."""
    length = span.end - span.start
    width = next((w for w in _BIN_WIDTHS if length / w <= _MAX_BINS), _BIN_WIDTHS[-1])
    sums: Counter[int] = Counter()
    for minute, count in counts.items():
        if span.start <= minute < span.end:
            sums[(minute - span.start) // width] += count
    if not sums:
        return width, ()
    bins = math.ceil(length / width)
    points = tuple(
        (span.start + b * width + width / 2, sums[b] / width) for b in range(bins)
    )
    return width, points


def _averaged(width: int) -> str:
    return (
        "each point the average over one minute"
        if width == 1
        else (f"each point the average over {width} minutes")
    )


def day_charts(recorded: Recorded, ledger: LedgerSeries) -> list[str]:
    """The five charts, each in its `<figure>`, as lines of HTML."""
    span = _span(recorded, ledger)
    return [
        *_orders(recorded, span),
        *_stock(ledger, span),
        *_holds(ledger, span),
        *_held(recorded),
        *_sla(recorded, span),
    ]


def _orders(recorded: Recorded, span: Span) -> list[str]:
    lines, width = [], 1
    for channel in catalog.CHANNELS:
        counts = {m: n for (c, m), n in recorded.orders.items() if c == channel.name}
        width, points = _per_minute(counts, span)
        name = f"{channel.name} ({sum(counts.values()):,})"
        lines.append(Line(name, _CHANNEL_COLOURS.get(channel.name, GREY), points))
    chart = time_chart(
        "orders",
        "Orders per minute by channel",
        lines,
        span,
        y_label="orders per minute",
    )
    return _figure_of(
        chart,
        "Orders the desk decided (accepted, held or refused), by the channel that"
        f" sent them, {_averaged(width)}; the legend gives each channel's total."
        " The flash sale opens at midnight in Shanghai.",
    )


def _stock(ledger: LedgerSeries, span: Span) -> list[str]:
    lines = []
    for sku, colour in zip(catalog.HOT, _SKU_COLOURS, strict=True):
        levels = ledger.stock.get(sku.code, ())
        available = tuple((float(v.minute), float(v.available)) for v in levels)
        on_hand = tuple((float(v.minute), float(v.on_hand)) for v in levels)
        lines.append(Line(f"{sku.code} available", colour, available, step=True))
        lines.append(
            Line(f"{sku.code} on hand", colour, on_hand, dashed=True, step=True)
        )
    chart = time_chart(
        "stock",
        "Stock of the hot SKUs over time",
        lines,
        span,
        y_label="units, all warehouses",
    )
    return _figure_of(
        chart,
        "From the ledger's movements, summed over every warehouse. Solid: units"
        " the channels may still sell (on hand less held and allocated); dashed:"
        " units in the warehouses. A solid line below 0 would be stock sold twice.",
    )


def _holds(ledger: LedgerSeries, span: Span) -> list[str]:
    lines, width = [], 1
    for kind, colour in _HOLD_COLOURS.items():
        counts = {m: n for (k, m), n in ledger.holds.items() if k == kind}
        if kind == "released" and not counts:
            continue
        width, points = _per_minute(counts, span)
        name = f"{kind} ({sum(counts.values()):,})"
        lines.append(Line(name, colour, points, dashed=kind == "expired"))
    chart = time_chart(
        "holds",
        "Stock holds created, committed and expired",
        lines,
        span,
        y_label="holds per minute",
    )
    return _figure_of(
        chart,
        "From the ledger's movements, one hold per SKU and warehouse of an order:"
        " placed when the order is accepted, committed when it is paid, expired"
        " when a checkout is abandoned and its payment window passes;"
        f" {_averaged(width)}.",
    )


def _held(recorded: Recorded) -> list[str]:
    reasons = [(r, recorded.held.get(r, 0)) for r in _REASONS]
    reasons += sorted((r, n) for r, n in recorded.held.items() if r not in _REASONS)
    colours = (VERMILLION, BLUE, PURPLE, GREY, SKY)
    bars = [
        Bar(_REASONS.get(reason, reason), count, colours[i % len(colours)])
        for i, (reason, count) in enumerate(reasons)
    ]
    chart = bar_chart(
        "held", "Orders held for review, by reason", bars, x_label="orders held"
    )
    return _figure_of(
        chart,
        "Orders the desk stored without stock until a person looks at them:"
        " priced below a floor (coupons stacked on the flash discount), a"
        " suspected duplicate of an order on the other Chinese channel, or both.",
    )


def _sla(recorded: Recorded, span: Span) -> list[str]:
    slas = _slas()
    lines: list[Line] = []
    for region, hours in sorted(sla_by_hour(recorded.shipped, slas).items()):
        kept = sum(k for k, _ in hours.values())
        total = sum(t for _, t in hours.values())
        points = tuple(
            (hour * 60 + 30.0, 100.0 * k / t) for hour, (k, t) in sorted(hours.items())
        )
        # The first region's dots are rings, so the next region's show inside.
        lines.append(
            Line(
                f"{region}: {kept / total:.1%} of {total:,} on time",
                _SLA_COLOURS.get(region, GREY),
                points,
                dots=True,
                ring=not lines,
                dashed=bool(lines),
                gap=60,
            )
        )
    chart = time_chart(
        "sla",
        "Shipping promise (SLA) on-time rate, by hour shipped",
        lines,
        span,
        y_label="shipped on time, %",
        percent=True,
    )
    promises = "; ".join(
        f"{region}, {sla.business_days} business day(s) after payment, cut-off"
        f" {sla.cutoff:%H:%M} in {sla.zone}"
        for region, sla in slas.items()
        if sla.cutoff is not None
    )
    return _figure_of(
        chart,
        "The share of parcels shipped before their ship-by deadline, by the hour"
        f" they shipped. The promises: {promises}. Regions without one are left"
        " out.",
    )


def _figure_of(svg: str, caption: str) -> list[str]:
    return ["<figure>", svg, f"<figcaption>{escape(caption)}</figcaption>", "</figure>"]
