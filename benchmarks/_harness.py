"""The benchmark harness: every figure beside its baselines, as rates.

A benchmark module is a file ``benchmarks/bench_*.py`` that defines
``FIGURES: list[Figure]``. A figure names what it measures (``lifecycle.apply``),
its unit (``ops/s``), the callable under test and a mapping of baselines
(``{"floor": ..., "transitions": ...}``). Every callable performs the same
fixed number of operations per call (``ops_per_call``), so the harness can
turn seconds into rates: higher is better, and ``ratio = value /
baseline_value`` says how the subject compares (above 1.0 it is faster).

A figure may name a ``setup`` callable: the harness calls it once, untimed,
before measuring the figure and its baselines, so that a module can build
large state lazily (importing it stays cheap) and only when the figure is
selected.

A ``Computed`` figure is not timed by the harness: its callables are called
once each, given a ``Context``, and return the value themselves. It serves
values that are not the rate of a repeatable call: memory per item, a
one-off sweep that consumes what it works on, or a figure derived from
figures measured earlier in the same run (``Context.value``). A computed
figure may be ``lower_is_better`` (bytes, seconds, a slowdown); its ratio is
then ``baseline_value / value``, so above 1.0 still means the subject does
better. ``Context.budget.quick`` tells a computed figure that this is a
smoke run, in which it may scale its work down.

A module that cannot be imported because an optional package is missing is
skipped with a line that names the package; so is a figure whose
``requires`` names a missing package, and a computed figure that needs a
value this run did not measure (because ``--only`` left it out or it was
skipped).
"""

import argparse
import gc
import importlib.util
import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TypedDict


BENCH_DIR = Path(__file__).resolve().parent
HARNESS_MODULE = "_harness"


@dataclass(frozen=True)
class Figure:
    """One measured subject and the baselines it is compared with."""

    name: str
    unit: str
    run: Callable[[], object]
    ops_per_call: int
    baselines: Mapping[str, Callable[[], object]] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    description: str = ""
    setup: Callable[[], object] | None = None

    def __post_init__(self) -> None:
        if self.ops_per_call < 1:
            raise ValueError(f"{self.name}: ops_per_call must be at least 1")


class Result(TypedDict):
    """One line of the report: a figure's rate beside one baseline's."""

    name: str
    unit: str
    value: float
    baseline: str | None
    baseline_value: float | None
    ratio: float | None


@dataclass(frozen=True)
class Budget:
    """How long to measure one callable; ``quick`` marks a smoke run."""

    warmup_s: float
    repeats: int
    repeat_s: float
    quick: bool = False


FULL = Budget(warmup_s=0.2, repeats=7, repeat_s=0.2)
QUICK = Budget(warmup_s=0.02, repeats=3, repeat_s=0.03, quick=True)


class NotMeasured(LookupError):
    """A computed figure asked for a value that this run did not measure."""


@dataclass(frozen=True)
class Context:
    """What the callables of a `Computed` figure are given."""

    budget: Budget
    measured: Mapping[tuple[str, str | None], float]

    def value(self, name: str, baseline: str | None = None) -> float:
        """The value of figure ``name`` (or of its ``baseline``) measured so far."""
        try:
            return self.measured[name, baseline]
        except KeyError:
            label = name if baseline is None else f"{name} ({baseline})"
            raise NotMeasured(label) from None


@dataclass(frozen=True)
class Computed:
    """A figure whose callables are called once and return its value."""

    name: str
    unit: str
    run: Callable[[Context], float]
    baselines: Mapping[str, Callable[[Context], float]] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    description: str = ""
    lower_is_better: bool = False


AnyFigure = Figure | Computed

Measure = Callable[[Callable[[], object], int, Budget], float]


def _time_calls(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return time.perf_counter() - start


def measure(fn: Callable[[], object], ops_per_call: int, budget: Budget) -> float:
    """Best rate (operations per second) of ``fn`` over the budget's repeats.

    Warms up, sizes a batch of calls to take about ``budget.repeat_s``, then
    times ``budget.repeats`` batches and keeps the fastest: noise only ever
    slows a run down. The garbage collector is off while a batch runs, as in
    ``timeit``.
    """
    gc.collect()
    deadline = time.perf_counter() + budget.warmup_s
    calls = 1
    elapsed = _time_calls(fn, calls)
    while time.perf_counter() < deadline or elapsed < budget.repeat_s / 10:
        calls *= 2
        elapsed = _time_calls(fn, calls)
    calls = max(1, round(calls * budget.repeat_s / max(elapsed, 1e-9)))

    best = 0.0
    for _ in range(budget.repeats):
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            elapsed = _time_calls(fn, calls)
        finally:
            if gc_was_enabled:
                gc.enable()
        best = max(best, calls * ops_per_call / max(elapsed, 1e-9))
    return best


def _ratio(figure: AnyFigure, value: float, baseline_value: float) -> float | None:
    if isinstance(figure, Computed) and figure.lower_is_better:
        return baseline_value / value if value > 0 else None
    return value / baseline_value if baseline_value > 0 else None


def results_for(
    figure: AnyFigure, value: float, baseline_values: Mapping[str, float]
) -> list[Result]:
    """The report lines of one figure, one per baseline, from measured values.

    The ratio is ``value / baseline_value``, or ``baseline_value / value``
    for a computed figure that is lower-is-better: above 1.0 the subject
    does better either way.
    """
    if not baseline_values:
        return [
            Result(
                name=figure.name,
                unit=figure.unit,
                value=value,
                baseline=None,
                baseline_value=None,
                ratio=None,
            )
        ]
    return [
        Result(
            name=figure.name,
            unit=figure.unit,
            value=value,
            baseline=baseline,
            baseline_value=baseline_value,
            ratio=_ratio(figure, value, baseline_value),
        )
        for baseline, baseline_value in baseline_values.items()
    ]


def select(figures: Iterable[AnyFigure], prefixes: Sequence[str]) -> list[AnyFigure]:
    """The figures whose name starts with one of ``prefixes`` (all if none)."""
    return [f for f in figures if not prefixes or f.name.startswith(tuple(prefixes))]


def missing_requirements(figure: AnyFigure) -> list[str]:
    """The packages ``figure.requires`` that cannot be imported here."""
    return [r for r in figure.requires if importlib.util.find_spec(r) is None]


@dataclass(frozen=True)
class Discovery:
    """The figures found in a directory and the modules skipped there."""

    figures: list[AnyFigure]
    skipped: list[str]


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


def discover(directory: Path = BENCH_DIR) -> Discovery:
    """Load every ``bench_*.py`` in ``directory`` and collect its FIGURES."""
    # Benchmark modules say `from _harness import Figure`; make that this module
    # however the harness itself was loaded, so isinstance checks hold.
    sys.modules.setdefault(HARNESS_MODULE, sys.modules[__name__])
    figures: list[AnyFigure] = []
    skipped: list[str] = []
    for path in sorted(directory.glob("bench_*.py")):
        try:
            module = _load(path)
        except ModuleNotFoundError as error:
            missing = (error.name or "").partition(".")[0]
            if missing in {"", "orderkit", HARNESS_MODULE}:
                raise
            skipped.append(
                f"skip {path.name}: needs {missing!r}, which is not installed"
            )
            continue
        found = getattr(module, "FIGURES", None)
        if not isinstance(found, list) or not all(
            isinstance(f, Figure | Computed) for f in found
        ):
            raise TypeError(f"{path.name}: FIGURES must be a list of Figure/Computed")
        figures.extend(found)
    names = [f.name for f in figures]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"figure names used twice: {', '.join(duplicates)}")
    return Discovery(figures, skipped)


def _human(value: float) -> str:
    if value >= 100:
        digits = len(str(int(value))) - 3
        return f"{round(value, -digits):,.0f}"
    return f"{value:.3g}"


def _ratio_text(ratio: float) -> str:
    # Two decimals, or two significant digits below 0.1 (0.0054x, not 0.01x).
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"


def format_result(result: Result, name_width: int, baseline_width: int = 8) -> str:
    """One table line: figure, value, baseline, baseline value, ratio."""
    value = _human(result["value"])
    line = f"{result['name']:<{name_width}}  {value:>13} {result['unit']}"
    if result["baseline"] is None or result["baseline_value"] is None:
        return line
    ratio = "n/a" if result["ratio"] is None else _ratio_text(result["ratio"])
    return (
        f"{line}  vs {result['baseline']:<{baseline_width}} "
        f"{_human(result['baseline_value']):>13} {result['unit']}  {ratio:>7}"
    )


def _values(
    figure: AnyFigure, budget: Budget, measure: Measure, context: Context
) -> tuple[float, dict[str, float]]:
    if isinstance(figure, Computed):
        return figure.run(context), {
            name: fn(context) for name, fn in figure.baselines.items()
        }
    if figure.setup is not None:
        figure.setup()
    value = measure(figure.run, figure.ops_per_call, budget)
    return value, {
        name: measure(fn, figure.ops_per_call, budget)
        for name, fn in figure.baselines.items()
    }


def run_figures(
    figures: Sequence[AnyFigure],
    budget: Budget,
    *,
    measure: Measure = measure,
    out: Callable[[str], None] = print,
) -> list[Result]:
    """Measure each figure and its baselines, printing the table as it goes."""
    name_width = max((len(f.name) for f in figures), default=0)
    baseline_width = max((len(b) for f in figures for b in f.baselines), default=0)
    results: list[Result] = []
    measured: dict[tuple[str, str | None], float] = {}
    context = Context(budget, measured)
    for figure in figures:
        missing = missing_requirements(figure)
        if missing:
            out(f"skip {figure.name}: needs {', '.join(missing)}, not installed")
            continue
        try:
            value, baseline_values = _values(figure, budget, measure, context)
        except NotMeasured as error:
            out(f"skip {figure.name}: needs {error}, which did not run")
            continue
        measured[figure.name, None] = value
        for name, baseline_value in baseline_values.items():
            measured[figure.name, name] = baseline_value
        for result in results_for(figure, value, baseline_values):
            out(format_result(result, name_width, baseline_width))
            results.append(result)
    return results


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line of benchmarks/run.py."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Print every benchmark figure beside its baselines.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer, shorter repeats (a smoke run)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PREFIX",
        help="run only figures whose name starts with PREFIX (repeatable)",
    )
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help='write {"figures": [...]} to PATH'
    )
    return parser.parse_args(argv)


def main(
    argv: Sequence[str] | None = None,
    *,
    directory: Path = BENCH_DIR,
    measure: Measure = measure,
    out: Callable[[str], None] = print,
) -> int:
    """Run the benchmarks; the exit status is 1 if nothing was selected."""
    args = parse_args(argv)
    discovery = discover(directory)
    for line in discovery.skipped:
        out(line)
    figures = select(discovery.figures, args.only)
    if not figures:
        out(f"no figure matches {args.only}" if args.only else "no figures found")
        return 1
    budget = QUICK if args.quick else FULL
    results = run_figures(figures, budget, measure=measure, out=out)
    if args.json is not None:
        args.json.write_text(
            json.dumps({"figures": results}, indent=2) + "\n", encoding="utf-8"
        )
        out(f"wrote {args.json}")
    return 0
