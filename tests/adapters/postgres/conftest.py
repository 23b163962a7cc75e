"""Fixtures for the PostgreSQL tests: a fresh schema per store, on a real server.

The server comes from `ORDERKIT_PG_DSN` (`.ci/run` starts one and sets it).
Every store a test makes lives in a schema of its own, named in the DSN's
`search_path` so that child processes connecting with the DSN land there
too; the schemas are dropped after the test. Without the variable every
test here is skipped, and the run's summary says so in capitals.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest


DSN = os.environ.get("ORDERKIT_PG_DSN", "")
SKIP_REASON = "ORDERKIT_PG_DSN is not set: no PostgreSQL server to test against"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if DSN:
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(skip)


_FIGURES: list[str] = []


@pytest.fixture
def pg_figures() -> list[str]:
    """Lines the run's summary prints under "postgresql concurrency"."""
    return _FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("postgresql concurrency")
        for line in _FIGURES:
            terminalreporter.write_line(line)
    if DSN:
        return
    terminalreporter.write_sep(
        "!", "POSTGRESQL TESTS SKIPPED: ORDERKIT_PG_DSN IS NOT SET", red=True, bold=True
    )
    terminalreporter.write_line(
        "Start a server and set it, as .ci/run does:"
        " bash -c 'source .ci/run && start_postgres && ...'"
    )


def with_schema(dsn: str, schema: str) -> str:
    """`dsn` with `schema` as its search_path (DSNs with a query string too)."""
    joiner = "&" if "?" in dsn else "?"
    return f"{dsn}{joiner}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def pg_schemas() -> Iterator[Callable[[], str]]:
    """A factory of DSNs, each pointing at a new empty schema; all dropped after."""
    made: list[str] = []

    def make() -> str:
        schema = f"orderkit_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        made.append(schema)
        return with_schema(DSN, schema)

    yield make
    if made:
        with psycopg.connect(DSN, autocommit=True) as conn:
            for schema in made:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_dsn(pg_schemas: Callable[[], str]) -> str:
    """A DSN on a new empty schema, dropped after the test."""
    return pg_schemas()
