"""The HTML report of `orderkit simulate --report PATH`: one file, charts inline.

The page opens without a network and runs nothing: the charts are inline
SVG from `_charts`, the styles inline, and a Content-Security-Policy meta
tag forbids anything else, so a browser would refuse (and log) any fetch.
On top, the invariants that must be 0, then the day's key figures, five
charts, and the whole summary as a table.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Final

import orderkit
from orderkit.cli._charts import day_charts, sla_on_time
from orderkit.cli._series import LedgerSeries, Recorded
from orderkit.cli._summary import KEYS, MUST_BE_ZERO, failed


CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""Nothing but the page's own inline styles: no script, no fetch."""

_STYLE: Final = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1d1d1f; background: #f6f6f4; margin: 0; }
main { max-width: 940px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 10px; }
.run { color: #555; margin: 0 0 20px; }
.verdict { font-size: 20px; font-weight: 700; padding: 12px 16px;
  border-radius: 8px; margin: 0 0 14px; }
.verdict.ok { background: #dff3e8; color: #0b5d36; border: 2px solid #009E73; }
.verdict.bad { background: #fbe3da; color: #8a2500; border: 2px solid #D55E00; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr));
  gap: 12px; }
.tile { background: #fff; border-radius: 8px; padding: 12px 14px;
  border: 1px solid #ddd; }
.tile .figure { font-size: 34px; font-weight: 700; line-height: 1.1; }
.tile .what { color: #444; font-size: 13px; }
.tile.ok .figure { color: #0b7a4b; }
.tile.bad { border: 2px solid #D55E00; }
.tile.bad .figure { color: #b83200; }
.tile.fact .figure { font-size: 26px; }
.tiles.facts { grid-template-columns: repeat(auto-fit, minmax(135px, 1fr)); }
figure { background: #fff; border: 1px solid #ddd; border-radius: 8px;
  margin: 0 0 18px; padding: 10px 8px 12px; }
figcaption { color: #444; font-size: 13.5px; padding: 4px 12px 0; }
svg.chart { display: block; max-width: 100%; height: auto; }
svg text { font: 12px system-ui, sans-serif; fill: #333; }
svg .title { font-size: 16px; font-weight: 700; fill: #1d1d1f; }
svg .axis { stroke: #333; stroke-width: 1; }
svg .grid { stroke: #e3e3e3; stroke-width: 1; }
svg .axis-label { font-size: 12.5px; fill: #222; }
svg .band { fill: #E69F00; opacity: 0.12; }
svg .band-label { fill: #8a5a00; font-size: 11.5px; }
svg .value { font-weight: 600; }
svg .nothing { fill: #777; font-style: italic; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: 13.5px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #eee;
  vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.must td { font-weight: 600; }
tr.bad td { color: #b83200; }
.ok-mark { color: #0b7a4b; } .bad-mark { color: #b83200; }
ul.problems { color: #8a2500; }
footer { color: #666; font-size: 12.5px; margin-top: 28px; }
"""


def write_report(
    path: str, summary: Mapping[str, object], recorded: Recorded, ledger: LedgerSeries
) -> None:
    """Write the report to `path`.

    Raises:
        OSError: The file cannot be written.
    """
    Path(path).write_text(render(summary, recorded, ledger), encoding="utf-8")


def render(
    summary: Mapping[str, object], recorded: Recorded, ledger: LedgerSeries
) -> str:
    """The report as one HTML page."""
    orders = int(_figure(summary, "orders_generated"))
    title = f"orderkit simulate: {orders:,} orders, seed {summary.get('seed')}"
    body = [
        "<main>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="run">{escape(_run_line(summary))}</p>',
        *_invariants(summary),
        "<h2>The day in figures</h2>",
        *_facts(summary, recorded),
        "<h2>The day in charts</h2>",
        *day_charts(recorded, ledger),
        "<h2>The summary</h2>",
        _table(summary),
        (
            f"<footer>Made by orderkit {escape(orderkit.__version__)}. One"
            " self-contained file: it loads nothing and runs no script. Times are"
            " simulated, shown in Shanghai time.</footer>"
        ),
        "</main>",
    ]
    return "\n".join(
        (
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>{_STYLE}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        )
    )


def _figure(summary: Mapping[str, object], key: str) -> float:
    value = summary.get(key, 0)
    return float(value) if isinstance(value, int | float) else 0.0


def _run_line(summary: Mapping[str, object]) -> str:
    return (
        f"seed {summary.get('seed')} · {summary.get('workers')} worker(s) ·"
        f" {summary.get('db')} · {_figure(summary, 'elapsed_s'):,.1f} s wall clock ·"
        f" {_figure(summary, 'orders_per_s'):,.0f} orders/s"
    )


def _meaning(key: str) -> str:
    meaning = dict(KEYS).get(key, key)
    return meaning.replace(" (must be 0)", "").strip()


def _invariants(summary: Mapping[str, object]) -> list[str]:
    bad = failed(summary)
    verdict = "INVARIANTS BROKEN" if bad else "Every invariant holds"
    parts = [
        (
            f'<p class="verdict {"bad" if bad else "ok"}">{verdict}: checked on the'
            " stores at the end of the run</p>"
        ),
        '<div class="tiles invariants">',
    ]
    for key in MUST_BE_ZERO:
        value = int(_figure(summary, key))
        state = "bad" if value else "ok"
        parts.append(
            f'<div class="tile {state}" data-key="{key}"><div class="figure">'
            f"{value:,}</div><div><b>{key.replace('_', ' ')}</b></div>"
            f'<div class="what">{escape(_meaning(key))}; must be 0</div></div>'
        )
    parts.append("</div>")
    problems = [*_listed(summary, "violations"), *_listed(summary, "errors_seen")]
    if problems:
        parts.append('<ul class="problems">')
        parts.extend(f"<li>{escape(p)}</li>" for p in problems)
        parts.append("</ul>")
    return parts


def _listed(summary: Mapping[str, object], key: str) -> list[str]:
    value = summary.get(key)
    return [str(v) for v in value] if isinstance(value, list) else []


def _facts(summary: Mapping[str, object], recorded: Recorded) -> list[str]:
    kept, total = sla_on_time(recorded)
    refused = _figure(summary, "refused_by_limits") + _figure(
        summary, "refused_out_of_stock"
    )
    facts = [
        ("orders_generated", _figure(summary, "orders_generated"), "orders sent"),
        ("accepted", _figure(summary, "accepted"), "accepted, stock held"),
        ("held_for_review", _figure(summary, "held_for_review"), "held for review"),
        ("refused", refused, "refused (limits, stock)"),
        ("shipped", _figure(summary, "shipped"), "shipped"),
    ]
    parts = ['<div class="tiles facts">']
    parts.extend(
        f'<div class="tile fact" data-key="{key}"><div class="figure">{value:,.0f}'
        f'</div><div class="what">{escape(what)}</div></div>'
        for key, value, what in facts
    )
    on_time = f"{kept / total:.1%}" if total else "n/a"
    parts.append(
        f'<div class="tile fact" data-key="sla_on_time"><div class="figure">{on_time}'
        f'</div><div class="what">shipped on time ({total:,} with a promise)</div>'
        "</div></div>"
    )
    return parts


def _table(summary: Mapping[str, object]) -> str:
    rows = ["<table>", "<tr><th>figure</th><th>value</th><th>what it counts</th></tr>"]
    for key, meaning in KEYS:
        value = summary.get(key, "")
        row, mark = "", ""
        if key in MUST_BE_ZERO:
            row = ' class="must bad"' if value else ' class="must"'
            mark = (
                ' <span class="bad-mark">FAILED</span>'
                if value
                else ' <span class="ok-mark">ok</span>'
            )
        rows.append(
            f"<tr{row}><td>{key}</td><td class='n'>{escape(_shown(value))}</td>"
            f"<td>{escape(meaning.strip())}{mark}</td></tr>"
        )
    for key in ("by_channel", "price_change_roles", "outbox_messages", "other_counts"):
        counts = summary.get(key)
        if isinstance(counts, Mapping) and counts:
            shown = ", ".join(f"{name} {_shown(n)}" for name, n in counts.items())
            rows.append(f"<tr><td>{key}</td><td colspan='2'>{escape(shown)}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)
