"""docs/testing.md's worked examples run as the shop's own test suite.

The page shows a shop's files as code blocks whose first line names the
file (`# tests/test_price_floor.py`). They are not doctests: they are a
project. This test writes them into a fresh directory and runs pytest
there, with orderkit's plugin loaded as any installed orderkit loads it.

The shop's PostgreSQL ledger store is the one file the page does not show:
here it is a stand-in over the memory store, with the same constructor and
`close()`, so the example's wiring (the contract subclass, the law calls,
the drawn steps) runs without a database server.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest


pytest_plugins = ["pytester"]

PAGE = Path(__file__).parents[2] / "docs" / "testing.md"
_FILE_BLOCK = re.compile(
    r"```python\n# ((?:shop|tests)/[\w/]+\.py)\n(.*?)```", re.DOTALL
)

_STOCK_STAND_IN = '''
"""The shop's ledger store, standing in for the PostgreSQL one in tests."""

from orderkit.adapters.memory import MemoryLedgerStore


class PgLedgerStore:
    def __init__(self, dsn, *, schema):
        self.dsn, self.schema = dsn, schema
        self._rows = MemoryLedgerStore()

    def __getattr__(self, name):
        return getattr(self._rows, name)

    def close(self):
        self.schema = None  # the real one drops its schema
'''


def example_files(page: str) -> dict[str, str]:
    """The files the page shows, by path."""
    return dict(_FILE_BLOCK.findall(page))


class TestWorkedExamples:
    """The shop's tests, as the page shows them, pass."""

    def test_the_page_shows_the_shops_files(self) -> None:
        shown = example_files(PAGE.read_text("utf-8"))
        assert {
            "shop/pricing.py",
            "tests/conftest.py",
            "tests/test_messages.py",
            "tests/test_price_floor.py",
            "tests/test_stock_store.py",
        } == set(shown)

    def test_the_shops_suite_passes(self, pytester: pytest.Pytester) -> None:
        files = example_files(PAGE.read_text("utf-8"))
        files["shop/stock.py"] = _STOCK_STAND_IN
        files["shop/__init__.py"] = ""
        for path, body in files.items():
            target = pytester.path / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body, "utf-8")
        pytester.makeini("[pytest]\npythonpath = .\n")

        result = pytester.runpytest("-p", "no:cacheprovider", "-q")

        outcomes = result.parseoutcomes()
        assert 0 == outcomes.get("failed", 0) + outcomes.get("errors", 0), str(
            result.stdout
        )
        # Three price-floor tests, the law tests and the whole contract.
        assert outcomes["passed"] > 40
        result.stdout.no_fnmatch_line("*test_price_floor.py*F*")
