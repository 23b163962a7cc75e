"""docs/benchmarks.md shows the figures of docs/benchmarks.json, goals checked."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


DOCS = Path(__file__).resolve().parents[2] / "docs"
RESULT_KEYS = {"name", "unit", "value", "baseline", "baseline_value", "ratio"}
STAMP = {
    "date": "2026-11-11",
    "command": "python benchmarks/run.py --quick",
    "cpus": 2,
    "system": "Linux",
    "machine": "x86_64",
    "python": "3.11.7",
}


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "orderkit_docs_gen_benchmarks", DOCS / "_gen_benchmarks.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def result(
    name: str, value: float, baseline: str, baseline_value: float, unit: str
) -> dict[str, Any]:
    return {
        "name": name,
        "unit": unit,
        "value": value,
        "baseline": baseline,
        "baseline_value": baseline_value,
        "ratio": value / baseline_value,
    }


def rendered(*results: dict[str, Any]) -> str:
    text: str = gen.render({"figures": list(results), "measured": STAMP})
    return text


class TestCommittedPage:
    """The committed page and JSON agree, so the figures cannot go stale silently."""

    def test_the_page_shows_the_committed_json(self) -> None:
        page = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
        data = json.loads((DOCS / "benchmarks.json").read_text(encoding="utf-8"))

        assert page == gen.splice(page, gen.render(data)), (
            "docs/benchmarks.md is stale: run python docs/_gen_benchmarks.py"
        )

    def test_the_json_is_the_benchmark_commands_output_with_a_stamp(self) -> None:
        data = json.loads((DOCS / "benchmarks.json").read_text(encoding="utf-8"))

        assert data["figures"]
        assert all(set(figure) == RESULT_KEYS for figure in data["figures"])
        assert set(data["measured"]) == set(STAMP)


class TestRendering:
    """Each figure is shown beside its baseline, its ratio and its issue's goal."""

    def test_a_figure_short_of_its_goal_is_marked_not_met(self) -> None:
        text = rendered(
            result("desk.accept.sqlite", 1000.0, "component_floor", 2500.0, "orders/s")
        )

        assert (
            "| `desk.accept.sqlite` | 1,000 orders/s | `component_floor` |"
            " 2,500 orders/s | 0.40x | ≥ 0.50x (#9: half the component floor) |"
            " **no** |"
        ) in text

    def test_a_figure_reaching_its_goal_is_marked_met(self) -> None:
        text = rendered(
            result("ledger.sqlite.reserve", 16000.0, "raw_sqlite", 30000.0, "ops/s")
        )

        assert "| 0.53x | ≥ 0.50x (#3: half the raw rate) | yes |" in text

    def test_an_absolute_goal_is_checked_on_the_value(self) -> None:
        over = rendered(
            result("ledger.memory.bytes_per_hold", 738.0, "floor", 214.0, "bytes")
        )
        under = rendered(
            result("ledger.memory.bytes_per_hold", 540.0, "floor", 214.0, "bytes")
        )

        assert "| < 600 (#3: under 600 bytes per hold) | **no** |" in over
        assert "| < 600 (#3: under 600 bytes per hold) | yes |" in under

    def test_a_baseline_without_a_goal_has_none(self) -> None:
        text = rendered(
            result(
                "lifecycle.apply",
                246000.0,
                "transitions_per_order",
                69400.0,
                "events/s",
            )
        )

        assert text.count("| 3.54x |  |  |") == 1

    def test_the_desks_rate_is_also_a_sale_days_duration(self) -> None:
        text = rendered(
            result("desk.accept.memory", 4000.0, "component_floor", 6000.0, "orders/s"),
            result(
                "desk.accept.sqlite.seconds_for_80k", 20.0, "component_floor", 3.5, "s"
            ),
        )

        assert "a sale day of 80,000 orders takes 20.0 s on one core" in text
        assert text.count("a sale day of") == 1

    def test_a_least_baseline_says_whether_the_goal_can_be_reached(self) -> None:
        text = rendered(
            result("dedupe.keystore.memory", 600.0, "floor", 20000.0, "claims/s"),
            result("dedupe.keystore.memory", 600.0, "least_store", 5600.0, "claims/s"),
            result("ledger.sqlite.reserve", 15.0, "raw_sqlite", 140.0, "ops/s"),
            result("ledger.sqlite.reserve", 15.0, "least_sqlite", 80.0, "ops/s"),
        )

        assert (
            "| `dedupe.keystore.memory` | ≥ 0.33x (#4: within 3x of the floor) |"
            " `least_store` | 0.28x | **no** | 0.11x |"
        ) in text
        assert (
            "| `ledger.sqlite.reserve` | ≥ 0.50x (#3: half the raw rate) |"
            " `least_sqlite` | 0.57x | yes | 0.19x |"
        ) in text

    def test_without_least_baselines_there_is_no_such_table(self) -> None:
        text = rendered(result("pricing.validate", 1.0, "floor", 2.0, "orders/s"))

        assert "Where the goals stand" not in text

    def test_goals_without_a_figure_are_listed(self) -> None:
        text = rendered(result("pricing.validate", 1.0, "floor", 2.0, "orders/s"))

        assert "`desk.accept.sqlite` (#9)" in text
        assert "`pricing.validate`" not in text.partition("no figure")[2]

    def test_a_json_without_its_stamp_is_refused(self) -> None:
        with pytest.raises(ValueError, match="--measure"):
            gen.render({"figures": []})

    def test_a_page_without_the_markers_is_refused(self) -> None:
        with pytest.raises(ValueError, match="markers"):
            gen.splice("# Benchmarks\n", rendered())
