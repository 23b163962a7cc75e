"""A standalone PostgreSQL store and outbox: the stream ends on the right figure.

On a DSN each, a store and an outbox commit every call on its own: the
outbox's `lock_streams` ends with its own call, so it orders nothing. A
change of another process landing between this one's read of its figure
and its message tells its figure first; the ledger reads its figure again
after its message and tells it again when it moved.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import pendulum
import pytest

from orderkit.adapters.postgres import (
    PostgresLedgerStore,
    PostgresOutbox,
    PostgresUnitOfWork,
)
from orderkit.orders import OutboxMessage
from orderkit.ports import Outbox
from orderkit.services import Ledger
from orderkit.testing import FrozenClock


SKU = "HOT"
T0 = pendulum.datetime(2026, 11, 11, 20, 0)


class _Interrupted:
    """An outbox whose first `add` lets another change land first."""

    def __init__(self, inner: PostgresOutbox, meanwhile: Callable[[], object]) -> None:
        self._inner = inner
        self._meanwhile: Callable[[], object] | None = meanwhile

    def add(self, messages: Sequence[OutboxMessage]) -> None:
        if self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            meanwhile()
        self._inner.add(messages)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
def stores() -> Iterator[list[PostgresLedgerStore | PostgresOutbox]]:
    """Every store a test opens, closed after it."""
    opened: list[PostgresLedgerStore | PostgresOutbox] = []
    yield opened
    for store in opened:
        store.close()


def _standalone(
    stores: list[PostgresLedgerStore | PostgresOutbox],
    dsn: str,
    outbox: object | None = None,
) -> Ledger:
    store = PostgresLedgerStore(dsn)
    told = PostgresOutbox(dsn) if outbox is None else outbox
    stores.append(store)
    if isinstance(told, PostgresOutbox):
        stores.append(told)
    return Ledger(store, FrozenClock(T0), outbox=cast("Outbox", told))


def test_a_change_landing_before_the_message_is_told_again(
    pg_dsn: str, stores: list[PostgresLedgerStore | PostgresOutbox]
) -> None:
    _standalone(stores, pg_dsn).receive(SKU, "SH", 5, key="po")
    other = _standalone(stores, pg_dsn)

    def other_process_reserves() -> None:
        other.reserve("cart-b", [(SKU, "SH", 2)], key="cart-b")

    inner = PostgresOutbox(pg_dsn)
    stores.append(inner)
    late = _standalone(stores, pg_dsn, _Interrupted(inner, other_process_reserves))
    late.reserve("cart-a", [(SKU, "SH", 1)], key="cart-a")

    assert _standalone(stores, pg_dsn).balance(SKU, "SH").sellable() == 2
    with PostgresOutbox(pg_dsn) as outbox:
        told = [json.loads(m.payload)["sellable"] for m in outbox.unsent()]
    # cart-a read 4, cart-b told 2 first; cart-a then tells 2 again.
    assert told == [5, 2, 4, 2]


def test_only_an_outbox_outside_a_transaction_commits_alone(pg_dsn: str) -> None:
    with PostgresOutbox(pg_dsn) as outbox:
        assert outbox.commits_alone()
    unit = PostgresUnitOfWork(pg_dsn)
    try:
        with unit as uow:
            assert not uow.outbox.commits_alone()
    finally:
        unit.close()
