"""The channel fuzz tests' tallies, printed at the end of every run.

Each fuzz test counts what happened to its inputs (accepted, refused by error
type, crashes) in the `fuzz_tally` of its module; the terminal summary shows
every tally, so CI's log says how much each fuzz test exercised.
"""

from __future__ import annotations

from collections import Counter

import pytest


_TALLIES: dict[str, Counter[str]] = {}


@pytest.fixture(scope="module")
def fuzz_tally(request: pytest.FixtureRequest) -> Counter[str]:
    """This module's tally: `tally["accepted"] += 1`, `tally["refused: X"]`."""
    name = request.module.__name__.rpartition(".")[2]
    return _TALLIES.setdefault(name, Counter())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print each fuzz tally; crashes (any error but an `OrderkitError`) must be 0."""
    if not _TALLIES:
        return
    terminalreporter.section("channel fuzz tallies")
    for name, tally in sorted(_TALLIES.items()):
        counts = ", ".join(f"{key}={count}" for key, count in sorted(tally.items()))
        terminalreporter.write_line(f"{name}: crashes={tally['crashes']}; {counts}")
