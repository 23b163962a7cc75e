"""`orderkit simulate --report PATH`: one self-contained HTML file with every chart.

These tests read the file as a parser does (`test_report_browser.py`
opens it in Chromium): nothing fetched or run, every chart there with its
marks, figures that add up to the summary, the same seed's same charts,
and the workers' series added up.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from orderkit.cli import _catalog as catalog
from orderkit.cli import main
from orderkit.cli._charts import CHARTS
from orderkit.cli._report import CSP, render
from orderkit.cli._series import LedgerSeries, Recorded, at_minute, sla_by_hour


Day = tuple[dict[str, Any], str]


class Page(HTMLParser):
    """A page's elements (tag, attributes, the chart they are in) and chart texts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], str | None]] = []
        self.texts: dict[str, list[str]] = {}
        self._chart: str | None = None
        self._in_text = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "svg":
            self._chart = found.get("data-chart", "")
        self._in_text = tag == "text"
        self.elements.append((tag, found, self._chart))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None
        self._in_text = False

    def handle_data(self, data: str) -> None:
        if self._chart is not None and self._in_text:
            self.texts.setdefault(self._chart, []).append(data)

    def charts(self) -> list[str]:
        return [a.get("data-chart", "") for tag, a, _ in self.elements if tag == "svg"]

    def marks(self, chart: str) -> list[tuple[str, dict[str, str]]]:
        return [
            (tag, attrs)
            for tag, attrs, inside in self.elements
            if inside == chart and "mark" in attrs.get("class", "").split()
        ]

    def legend_totals(self, chart: str) -> dict[str, int]:
        """The chart's `name (1,234)` legend entries, as `{name: 1234}`."""
        totals = {}
        for text in self.texts.get(chart, []):
            found = re.fullmatch(r"(.+) \(([\d,]+)\)", text)
            if found:
                totals[found[1]] = int(found[2].replace(",", ""))
        return totals


def simulate(path: Path, *args: str) -> Day:
    """Run `orderkit simulate --json --report path`; the summary and the page."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["simulate", "--json", "--report", str(path), *args])
    summary: dict[str, Any] = json.loads(out.getvalue())
    assert code == 0, summary["violations"]
    return summary, path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    """One small day in memory and its report, shared by the tests that read it."""
    path = tmp_path_factory.mktemp("report") / "day.html"
    return simulate(path, "--orders", "300", "--seed", "5", "--db", ":memory:")


def decided(summary: dict[str, Any]) -> int:
    keys = ("accepted", "held_for_review", "refused_by_limits", "refused_out_of_stock")
    return sum(summary[key] for key in keys)


class TestSelfContained:
    def test_nothing_is_fetched_and_nothing_runs(self, day: Day) -> None:
        _, html = day
        page = Page(html)
        tags = Counter(tag for tag, _, _ in page.elements)
        for tag in ("script", "link", "iframe", "object", "embed", "img"):
            assert tags[tag] == 0, tag
        for tag, attrs, _ in page.elements:
            for name, value in attrs.items():
                if name in {"src", "href", "xlink:href", "action", "srcset"}:
                    assert not re.match(r"\s*(https?:)?//", value), (tag, name, value)
        assert not re.search(r"<script|https?://|url\(|@import", html, re.IGNORECASE)

    def test_a_content_security_policy_forbids_scripts_and_fetches(
        self, day: Day
    ) -> None:
        _, html = day
        policies = [
            attrs["content"]
            for tag, attrs, _ in Page(html).elements
            if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"
        ]
        assert policies == [CSP]
        assert "default-src 'none'" in CSP
        assert "script-src" not in CSP


class TestCharts:
    def test_every_chart_is_there_with_its_title_axes_and_marks(self, day: Day) -> None:
        page = Page(day[1])
        assert page.charts() == list(CHARTS)
        for chart in CHARTS:
            kinds = Counter(
                attrs.get("class")
                for _, attrs, inside in page.elements
                if inside == chart
            )
            assert kinds["title"] == 1, chart
            assert kinds["axis"] >= 2, chart
            assert kinds["axis-label"] >= 1, chart
            marks = page.marks(chart)
            assert marks, f"{chart}: nothing drawn"
            for tag, attrs in marks:
                if tag == "polyline":
                    assert len(attrs["points"].split()) >= 2, chart
                elif tag == "rect":
                    assert float(attrs["width"]) > 0, chart
        assert "nothing of this happened" not in day[1]

    def test_time_charts_have_a_legend_entry_per_series(self, day: Day) -> None:
        page = Page(day[1])
        for chart in ("orders", "stock", "holds", "sla"):
            legend = [
                a
                for _, a, c in page.elements
                if c == chart and a.get("class") == "legend"
            ]
            series = {a["data-series"] for _, a in page.marks(chart)}
            assert len(legend) == len(series) >= 2, chart

    def test_the_orders_chart_adds_up_to_each_channels_orders(self, day: Day) -> None:
        summary, html = day
        totals = Page(html).legend_totals("orders")
        assert totals == summary["by_channel"]
        assert sum(totals.values()) == decided(summary)

    def test_the_holds_chart_counts_what_the_stores_say(self, day: Day) -> None:
        summary, html = day
        totals = Page(html).legend_totals("holds")
        assert totals["expired"] == summary["holds_expired"]
        assert totals["placed"] >= totals["committed"] + totals["expired"]

    def test_the_held_chart_counts_every_held_order(self, day: Day) -> None:
        summary, html = day
        bars = [int(attrs["data-value"]) for _, attrs in Page(html).marks("held")]
        assert sum(bars) == summary["held_for_review"] > 0

    def test_the_invariants_come_first_and_say_ok(self, day: Day) -> None:
        summary, html = day
        assert html.index("Every invariant holds") < html.index("<svg")
        for key in (
            "oversold",
            "refunds_over_captured",
            "payment_discrepancies",
            "invariant_violations",
        ):
            assert summary[key] == 0
            assert re.search(
                rf'class="tile ok" data-key="{key}"><div class="figure">0<', html
            ), key


def test_the_same_seed_draws_the_same_charts(tmp_path: Path) -> None:
    args = ("--orders", "60", "--seed", "9", "--db", ":memory:")
    first = simulate(tmp_path / "a.html", *args)[1]
    second = simulate(tmp_path / "b.html", *args)[1]

    def charts(html: str) -> str:
        return html[html.index("<figure>") : html.rindex("</figure>")]

    assert charts(first) == charts(second)


def test_two_workers_series_are_merged(tmp_path: Path) -> None:
    db = str(tmp_path / "day.db")
    summary, html = simulate(
        tmp_path / "day.html", "--orders", "80", "--workers", "2", "--db", db
    )
    page = Page(html)
    assert page.legend_totals("orders") == summary["by_channel"]
    assert sum(page.legend_totals("orders").values()) == decided(summary)
    assert all(page.marks(chart) for chart in CHARTS)


def test_a_broken_run_is_shown_broken_and_empty_charts_say_so() -> None:
    summary = {"orders_generated": 0, "seed": 1, "oversold": 3, "violations": ["x"]}
    html = render(summary, Recorded(), LedgerSeries(Counter(), {}))
    assert "INVARIANTS BROKEN" in html
    assert re.search(
        r'class="tile bad" data-key="oversold"><div class="figure">3<', html
    )
    page = Page(html)
    assert page.charts() == list(CHARTS)
    assert not any(page.marks(chart) for chart in CHARTS)
    assert html.count("nothing of this happened in this run") == len(CHARTS)


@pytest.mark.parametrize(
    ("where", "says"),
    [("missing/day.html", "there is no directory"), (".", "is a directory")],
)
def test_a_report_path_that_cannot_be_written_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str, says: str
) -> None:
    code = main(["simulate", "--report", str(tmp_path / where), "--orders", "50"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert says in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_a_report_path_no_file_can_be_made_in_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """/proc refuses a new file even to root, as a read-only directory would."""
    code = main(["simulate", "--report", "/proc/orderkit-day.html", "--orders", "50"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith("orderkit simulate: error: --report /proc/orderkit-day.html")
    assert "cannot be written" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root may write in a read-only directory",
)
def test_a_report_in_a_read_only_directory_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code = main(
            ["simulate", "--report", str(locked / "day.html"), "--orders", "50"]
        )
    finally:
        locked.chmod(0o755)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "cannot be written" in err
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm", "-journal"])
def test_a_report_over_the_kept_database_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    """The report would replace the database the user asked to keep."""
    db = tmp_path / "day.db"
    report = tmp_path / ".." / tmp_path.name / f"day.db{suffix}"
    code = main(
        ["simulate", "--orders", "20", "--db", str(db), "--report", str(report)]
    )
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "is the database" in err
    assert len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_report_that_fails_late_keeps_the_summary(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A disk that fills up during the run: the summary is printed, then exit 3."""

    def full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("orderkit.cli._run.write_report", full)
    path = tmp_path / "day.html"
    code = main(["simulate", "--json", "--report", str(path), "--orders", "40"])
    out, err = capsys.readouterr()
    assert code == 3
    assert json.loads(out)["orders_generated"] == 40
    assert err == "orderkit simulate: failed: [Errno 28] No space left on device\n"
    assert not path.exists()


def test_late_parcels_count_as_late_by_each_regions_promise() -> None:
    # The simulated parcels all ship within hours, so the report's SLA
    # chart shows 100%: this day pays across cut-offs, days off and
    # holidays, and ships on time, just in time, and days late.
    slas = {
        region: sla
        for region in ("CN", "US")
        if (sla := catalog.desk_policy(region).sla) is not None
    }
    shipped: Counter[tuple[str, int, int]] = Counter()
    for region in slas:
        for paid in range(-600, 4 * 1440, 23):
            for delay in (20, 1440, 3 * 1440, 6 * 1440):
                shipped[region, paid, paid + delay] += 1
    expected: dict[str, dict[int, tuple[int, int]]] = {}
    for (region, paid, shipped_in), count in shipped.items():
        due = slas[region].ship_by(at_minute(paid)).due
        kept, total = expected.setdefault(region, {}).get(shipped_in // 60, (0, 0))
        on_time = at_minute(shipped_in) < due
        expected[region][shipped_in // 60] = (kept + count * on_time, total + count)
    assert sla_by_hour(shipped, slas) == expected
    kept = sum(k for hours in expected.values() for k, _ in hours.values())
    assert 0 < kept < sum(shipped.values())
