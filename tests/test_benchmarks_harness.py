"""The benchmark harness (benchmarks/_harness.py), with trivial callables.

Nothing here asserts on timings: a fake ``measure`` hands back fixed rates, so
the ratio math, the JSON report and the selection are checked exactly.
"""

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


HARNESS_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "_harness.py"
RESULT_KEYS = {"name", "unit", "value", "baseline", "baseline_value", "ratio"}


def _load_harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "orderkit_bench_harness", HARNESS_PATH
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


harness = _load_harness()

BENCH_ALPHA = """
from _harness import Figure


def subject() -> None:
    pass


def floor() -> None:
    pass


def transitions() -> None:
    pass


def dump() -> None:
    pass


def pydantic() -> None:
    pass


FIGURES = [
    Figure(
        name="lifecycle.apply",
        unit="ops/s",
        run=subject,
        ops_per_call=100,
        baselines={"floor": floor, "transitions": transitions},
    ),
    Figure(
        name="serde.dump",
        unit="ops/s",
        run=dump,
        ops_per_call=10,
        baselines={"pydantic": pydantic},
    ),
    Figure(
        name="serde.fast",
        unit="ops/s",
        run=dump,
        ops_per_call=10,
        requires=("orderkit_no_such_package",),
    ),
]
"""

BENCH_NEEDS_EXTRA = """
import orderkit_no_such_package

FIGURES = []
"""

# Rates (ops/s) the fake measure reports, by the callable's name.
RATES = {
    "subject": 412_000.0,
    "floor": 501_000.0,
    "transitions": 103_000.0,
    "dump": 90_000.0,
    "pydantic": 45_000.0,
}


class FakeMeasure:
    """Stands in for harness.measure: fixed rates, and a log of the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, Any]] = []

    def __call__(self, fn: Callable[[], object], ops: int, budget: Any) -> float:
        name = getattr(fn, "__name__", "?")
        self.calls.append((name, ops, budget))
        return RATES[name]


@pytest.fixture
def bench_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The bench modules import `_harness`; undo the registration afterwards.
    monkeypatch.setitem(sys.modules, "_harness", harness)
    (tmp_path / "bench_alpha.py").write_text(BENCH_ALPHA, encoding="utf-8")
    (tmp_path / "bench_extra.py").write_text(BENCH_NEEDS_EXTRA, encoding="utf-8")
    (tmp_path / "not_a_bench.py").write_text("raise SystemExit(1)\n", encoding="utf-8")
    for name in ("bench_alpha", "bench_extra"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return tmp_path


def _noop() -> None:
    pass


def _figure(**overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "name": "lifecycle.apply",
        "unit": "ops/s",
        "run": _noop,
        "ops_per_call": 1,
        "baselines": {"floor": _noop},
    }
    fields.update(overrides)
    return harness.Figure(**fields)


class TestRatioMath:
    """Each baseline gives one entry, with ratio = value / baseline_value."""

    def test_one_entry_per_baseline(self) -> None:
        figure = _figure(baselines={"floor": _noop, "transitions": _noop})
        results = harness.results_for(
            figure, 412_000.0, {"floor": 501_000.0, "transitions": 103_000.0}
        )
        assert results == [
            {
                "name": "lifecycle.apply",
                "unit": "ops/s",
                "value": 412_000.0,
                "baseline": "floor",
                "baseline_value": 501_000.0,
                "ratio": pytest.approx(412 / 501),
            },
            {
                "name": "lifecycle.apply",
                "unit": "ops/s",
                "value": 412_000.0,
                "baseline": "transitions",
                "baseline_value": 103_000.0,
                "ratio": pytest.approx(4.0),
            },
        ]

    def test_a_figure_without_baselines_still_reports_its_value(self) -> None:
        results = harness.results_for(_figure(baselines={}), 7.0, {})
        assert results == [
            {
                "name": "lifecycle.apply",
                "unit": "ops/s",
                "value": 7.0,
                "baseline": None,
                "baseline_value": None,
                "ratio": None,
            }
        ]

    def test_a_zero_baseline_has_no_ratio(self) -> None:
        (result,) = harness.results_for(_figure(), 7.0, {"floor": 0.0})
        assert result["ratio"] is None

    def test_ops_per_call_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="ops_per_call"):
            _figure(ops_per_call=0)

    def test_table_line(self) -> None:
        (result,) = harness.results_for(_figure(), 412_345.0, {"floor": 501_000.0})
        line = harness.format_result(result, 15)
        assert line.split() == [
            "lifecycle.apply",
            "412,000",
            "ops/s",
            "vs",
            "floor",
            "501,000",
            "ops/s",
            "0.82x",
        ]


class TestSelection:
    """--only keeps the figures whose name starts with a prefix."""

    def test_prefix(self) -> None:
        figures = [_figure(name=n) for n in ("lifecycle.apply", "serde.dump")]
        assert [f.name for f in harness.select(figures, ["serde"])] == ["serde.dump"]

    def test_no_prefix_keeps_all(self) -> None:
        figures = [_figure(name=n) for n in ("lifecycle.apply", "serde.dump")]
        assert harness.select(figures, []) == figures

    def test_only_runs_the_selected_figures(self, bench_dir: Path) -> None:
        fake = FakeMeasure()
        lines: list[str] = []
        status = harness.main(
            ["--quick", "--only", "lifecycle"],
            directory=bench_dir,
            measure=fake,
            out=lines.append,
        )
        assert status == 0
        assert [name for name, _, _ in fake.calls] == [
            "subject",
            "floor",
            "transitions",
        ]
        assert all(budget == harness.QUICK for _, _, budget in fake.calls)
        assert all(ops == 100 for _, ops, _ in fake.calls)

    def test_no_match_fails(self, bench_dir: Path) -> None:
        lines: list[str] = []
        status = harness.main(
            ["--only", "nothing"],
            directory=bench_dir,
            measure=FakeMeasure(),
            out=lines.append,
        )
        assert status == 1
        assert "no figure matches ['nothing']" in lines


class TestReport:
    """The JSON report and the skip lines."""

    def test_json_shape(self, bench_dir: Path, tmp_path: Path) -> None:
        report = tmp_path / "out" / "bench.json"
        report.parent.mkdir()
        lines: list[str] = []
        status = harness.main(
            ["--json", str(report)],
            directory=bench_dir,
            measure=FakeMeasure(),
            out=lines.append,
        )
        assert status == 0
        document = json.loads(report.read_text(encoding="utf-8"))
        assert list(document) == ["figures"]
        figures = document["figures"]
        assert all(set(entry) == RESULT_KEYS for entry in figures)
        assert [(e["name"], e["baseline"]) for e in figures] == [
            ("lifecycle.apply", "floor"),
            ("lifecycle.apply", "transitions"),
            ("serde.dump", "pydantic"),
        ]
        serde = figures[2]
        assert serde["value"] == pytest.approx(90_000.0)
        assert serde["baseline_value"] == pytest.approx(45_000.0)
        assert serde["ratio"] == pytest.approx(2.0)

    def test_missing_optional_packages_print_skip_lines(self, bench_dir: Path) -> None:
        lines: list[str] = []
        harness.main(
            ["--quick"], directory=bench_dir, measure=FakeMeasure(), out=lines.append
        )
        skips = [line for line in lines if line.startswith("skip ")]
        assert skips == [
            (
                "skip bench_extra.py: needs 'orderkit_no_such_package',"
                " which is not installed"
            ),
            "skip serde.fast: needs orderkit_no_such_package, not installed",
        ]

    def test_a_broken_import_of_orderkit_is_not_skipped(
        self, bench_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delitem(sys.modules, "bench_broken", raising=False)
        (bench_dir / "bench_broken.py").write_text(
            "from orderkit.no_such_module import x\n",
            encoding="utf-8",
        )
        with pytest.raises(ModuleNotFoundError):
            harness.discover(bench_dir)


def test_measure_returns_a_rate() -> None:
    budget = harness.Budget(warmup_s=0.0, repeats=2, repeat_s=0.001)
    assert harness.measure(_noop, 3, budget) > 0


BENCH_COMPUTED = """
from _harness import Computed, Figure

calls = []


def prepare() -> None:
    calls.append("setup")


def subject() -> None:
    pass


def floor() -> None:
    pass


def retained(context) -> float:
    calls.append(("retained", context.budget.quick))
    return 800.0


def floor_retained(context) -> float:
    calls.append(("floor_retained", context.budget.quick))
    return 200.0


def slowdown(context) -> float:
    return context.value("lifecycle.apply") / 206_000.0


def floor_slowdown(context) -> float:
    return context.value("lifecycle.apply", "floor") / 250_500.0


def needs_missing(context) -> float:
    return context.value("no.such.figure")


FIGURES = [
    Figure(
        name="lifecycle.apply",
        unit="ops/s",
        run=subject,
        ops_per_call=100,
        baselines={"floor": floor},
        setup=prepare,
    ),
    Computed(
        name="ledger.bytes",
        unit="bytes",
        run=retained,
        baselines={"floor": floor_retained},
        lower_is_better=True,
    ),
    Computed(
        name="ledger.scaling",
        unit="x slower",
        run=slowdown,
        baselines={"floor": floor_slowdown},
        lower_is_better=True,
    ),
    Computed(name="ledger.orphan", unit="x", run=needs_missing),
    Computed(
        name="ledger.extra",
        unit="x",
        run=needs_missing,
        requires=("orderkit_no_such_package",),
    ),
]
"""


@pytest.fixture
def computed_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setitem(sys.modules, "_harness", harness)
    monkeypatch.delitem(sys.modules, "bench_computed", raising=False)
    (tmp_path / "bench_computed.py").write_text(BENCH_COMPUTED, encoding="utf-8")
    return tmp_path


class TestComputed:
    """Computed figures, lower-is-better ratios and untimed setup."""

    def test_lower_is_better_ratio_is_baseline_over_value(self) -> None:
        figure = harness.Computed(
            name="ledger.bytes", unit="bytes", run=lambda _: 0.0, lower_is_better=True
        )
        (result,) = harness.results_for(figure, 800.0, {"floor": 200.0})
        assert result["ratio"] == pytest.approx(0.25)
        (zero,) = harness.results_for(figure, 0.0, {"floor": 200.0})
        assert zero["ratio"] is None

    def test_higher_is_better_by_default(self) -> None:
        figure = harness.Computed(
            name="ledger.sweep", unit="holds/s", run=lambda _: 0.0
        )
        (result,) = harness.results_for(figure, 800.0, {"floor": 200.0})
        assert result["ratio"] == pytest.approx(4.0)

    def test_context_value(self) -> None:
        context = harness.Context(harness.FULL, {("a", None): 1.0, ("a", "floor"): 2.0})
        assert context.value("a") == 1.0
        assert context.value("a", "floor") == 2.0
        with pytest.raises(harness.NotMeasured, match=r"a \(raw\)"):
            context.value("a", "raw")

    def test_only_quick_is_quick(self) -> None:
        assert harness.QUICK.quick
        assert not harness.FULL.quick

    def test_run(self, computed_dir: Path) -> None:
        fake = FakeMeasure()
        lines: list[str] = []
        status = harness.main(
            ["--quick"], directory=computed_dir, measure=fake, out=lines.append
        )
        assert status == 0
        module = sys.modules["bench_computed"]
        # setup ran once, before the timed callables; computed ones ran once each
        assert module.calls == [
            "setup",
            ("retained", True),
            ("floor_retained", True),
        ]
        assert [name for name, _, _ in fake.calls] == ["subject", "floor"]
        assert [" ".join(line.split()) for line in lines] == [
            "lifecycle.apply 412,000 ops/s vs floor 501,000 ops/s 0.82x",
            "ledger.bytes 800 bytes vs floor 200 bytes 0.25x",
            "ledger.scaling 2 x slower vs floor 2 x slower 1.00x",
            "skip ledger.orphan: needs no.such.figure, which did not run",
            "skip ledger.extra: needs orderkit_no_such_package, not installed",
        ]

    def test_json_of_computed_figures(self, computed_dir: Path, tmp_path: Path) -> None:
        report = tmp_path / "bench.json"
        harness.main(
            ["--json", str(report), "--only", "ledger.bytes"],
            directory=computed_dir,
            measure=FakeMeasure(),
            out=lambda _: None,
        )
        (entry,) = json.loads(report.read_text(encoding="utf-8"))["figures"]
        assert entry == {
            "name": "ledger.bytes",
            "unit": "bytes",
            "value": 800.0,
            "baseline": "floor",
            "baseline_value": 200.0,
            "ratio": 0.25,
        }

    def test_small_ratios_keep_two_significant_digits(self) -> None:
        (result,) = harness.results_for(_figure(), 5_400.0, {"floor": 1_000_000.0})
        assert harness.format_result(result, 15).split()[-1] == "0.0054x"
