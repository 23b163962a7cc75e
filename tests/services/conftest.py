"""The service tests' common fixtures, and the crash matrix's tally.

`unit`, `clock` and `payments` are the backend, clock and payment provider
most service tests run on; a test file whose own differ (another instant,
another backend) defines its own, which pytest prefers.

`tests/services/test_crashes.py` crashes each saga operation at every fault
point for a few seeds, restarts and recovers; it counts the runs and every
violation found in the module's `crash_tally`, and the terminal summary
shows them, so CI's log says how much the matrix exercised.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.services._refund_samples import T0
from tests.services._samples import backend

from orderkit.ports import UnitOfWork
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakePayments


_TALLIES: dict[str, Counter[str]] = {}
# The violations the crash matrix looks for; each must stay at 0.
VIOLATIONS = (
    "partial write",
    "hold leaked",
    "effect twice",
    "message lost",
    "saga left",
    "not finished",
    "fault missed",
)


@pytest.fixture(params=["memory", "sqlite"])
def unit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWork]:
    """An empty backend, in memory or in a SQLite file."""
    yield from backend(request.param, tmp_path / "backend.db")


@pytest.fixture
def clock() -> FrozenClock:
    """A clock frozen at Singles' Day 2026, 00:00 UTC: `_refund_samples.T0`."""
    return FrozenClock(T0)


@pytest.fixture
def payments(clock: FrozenClock) -> FakePayments:
    """A fake payment provider on `clock`, nothing captured yet."""
    return FakePayments(clock)


@pytest.fixture(scope="module")
def crash_tally(request: pytest.FixtureRequest) -> Counter[str]:
    """This module's tally: `tally["points:ship"] += 1`, `tally["hold leaked"]`."""
    name = request.module.__name__.rpartition(".")[2]
    return _TALLIES.setdefault(name, Counter())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print `operations x crash points x seeds = runs` and every violation count."""
    if not _TALLIES:
        return
    terminalreporter.section("crash matrix")
    for name, tally in sorted(_TALLIES.items()):
        operations = sorted(
            k.partition(":")[2] for k in tally if k.startswith("points:")
        )
        seeds = tally["seeds"]
        parts = " + ".join(f"{op} {tally['points:' + op]}" for op in operations)
        terminalreporter.write_line(
            f"{name}: operations x crash points x seeds = "
            f"{len(operations)} ops ({parts} points) x {seeds} seeds "
            f"= {tally['runs']} runs"
        )
        counts = ", ".join(f"{v}={tally[v]}" for v in VIOLATIONS)
        terminalreporter.write_line(f"{name}: violations: {counts}")
