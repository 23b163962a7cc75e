"""The whole PostgreSQL unit of work under an order desk, beside the reference.

`check_desk_laws` drives a desk over a `PostgresUnitOfWork` and one over a
memory unit through the same steps, and compares their answers and stores
after each: every run gets a schema of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import settings

from orderkit.adapters.postgres import PostgresUnitOfWork
from orderkit.testing import check_desk_laws


# Runs after the suite's hypothesis profile: 2 in CI, 4 by default.
RUNS = max(2, settings().max_examples // 25)


class TestDeskLawsOnPostgres:
    """A PostgreSQL unit keeps every desk law."""

    def test_drawn_runs(self, pg_schemas: Callable[[], str]) -> None:
        check_desk_laws(lambda: PostgresUnitOfWork(pg_schemas()), runs=RUNS)
