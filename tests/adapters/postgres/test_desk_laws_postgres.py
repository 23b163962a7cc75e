"""The whole PostgreSQL unit of work under an order desk, beside the reference.

`check_desk_laws` drives a desk over a `PostgresUnitOfWork` and one over a
memory unit through the same steps, and compares their answers and stores
after each: every run gets a schema of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import settings
from tests.testing._desk_steps import CHANNEL_EDITS, PRICE_CHANGES

from orderkit.adapters.postgres import PostgresUnitOfWork
from orderkit.testing import DeskAction, DeskOperation, check_desk_laws


# Runs after the suite's hypothesis profile: 2 in CI, 4 by default.
RUNS = max(2, settings().max_examples // 25)


class TestDeskLawsOnPostgres:
    """A PostgreSQL unit keeps every desk law."""

    def test_drawn_runs(self, pg_schemas: Callable[[], str]) -> None:
        check_desk_laws(lambda: PostgresUnitOfWork(pg_schemas()), runs=RUNS)

    def test_money_back(self, pg_schemas: Callable[[], str]) -> None:
        # A case refunded by the desk, the channel's own refunds (the second
        # beyond the payment: refused, the order held), and their retries.
        a, d = DeskAction, DeskOperation
        steps = [
            d.receive("TEA", "W1", 5),
            d.accept("douyin", "DY-1", "buyer-1", [("TEA", 2)]),
            d.on(a.PAY),
            d.on(a.PICK),
            d.on(a.SHIP),
            d.on(a.CASE),
            d.timer(a.REFUND),
            d.on(a.CHANNEL_REFUND),
            d.on(a.CHANNEL_REFUND),
            d.on(a.REPEAT, 5),
            d.on(a.REPEAT, 7),
        ]
        check_desk_laws(lambda: PostgresUnitOfWork(pg_schemas()), operations=steps)

    def test_price_changes(self, pg_schemas: Callable[[], str]) -> None:
        # The SQLite tests' steps: every price outcome, and a retry of each.
        check_desk_laws(
            lambda: PostgresUnitOfWork(pg_schemas()), operations=PRICE_CHANGES
        )

    def test_channel_edits(self, pg_schemas: Callable[[], str]) -> None:
        check_desk_laws(
            lambda: PostgresUnitOfWork(pg_schemas()), operations=CHANNEL_EDITS
        )
