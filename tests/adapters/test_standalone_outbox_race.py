"""A standalone SQLite store and outbox: the stream still ends on the right figure.

Given a store and an outbox that each commit on their own (a path each,
no unit of work), a change, the read of its figure and its message are
three transactions. Another process's change landing between this one's
read and its message tells its own figure first, and this one's older
figure would end the stream: the ledger reads the figure again after the
message and tells it again when it moved.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import pendulum
import pytest

from orderkit.adapters.sqlite import (
    SqliteLedgerStore,
    SqliteOutbox,
    SqliteUnitOfWork,
)
from orderkit.orders import OutboxMessage
from orderkit.ports import Outbox
from orderkit.services import Ledger
from orderkit.testing import FrozenClock


SKU = "HOT"
T0 = pendulum.datetime(2026, 11, 11, 20, 0)


class _Interrupted:
    """An outbox whose first `add` lets another change land first."""

    def __init__(self, inner: SqliteOutbox, meanwhile: Callable[[], object]) -> None:
        self._inner = inner
        self._meanwhile: Callable[[], object] | None = meanwhile

    def add(self, messages: Sequence[OutboxMessage]) -> None:
        if self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            meanwhile()
        self._inner.add(messages)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _told(path: Path) -> list[int]:
    with SqliteOutbox(path) as outbox:
        return [
            json.loads(m.payload)["sellable"]
            for m in outbox.unsent(limit=10_000)
            if m.stream == f"sku:{SKU}"
        ]


@pytest.fixture
def stores() -> Iterator[list[SqliteLedgerStore | SqliteOutbox]]:
    """Every store a test opens, closed after it."""
    opened: list[SqliteLedgerStore | SqliteOutbox] = []
    yield opened
    for store in opened:
        store.close()


def _standalone(
    stores: list[SqliteLedgerStore | SqliteOutbox],
    path: Path,
    outbox: object | None = None,
) -> Ledger:
    store = SqliteLedgerStore(path)
    told = SqliteOutbox(path) if outbox is None else outbox
    stores.append(store)
    if isinstance(told, SqliteOutbox):
        stores.append(told)
    return Ledger(store, FrozenClock(T0), outbox=cast("Outbox", told))


def test_a_change_landing_before_the_message_is_told_again(
    tmp_path: Path, stores: list[SqliteLedgerStore | SqliteOutbox]
) -> None:
    path = tmp_path / "shop.db"
    _standalone(stores, path).receive(SKU, "SH", 5, key="po")
    other = _standalone(stores, path)

    def other_process_reserves() -> None:
        other.reserve("cart-b", [(SKU, "SH", 2)], key="cart-b")

    inner = SqliteOutbox(path)
    stores.append(inner)
    late = _standalone(stores, path, _Interrupted(inner, other_process_reserves))
    late.reserve("cart-a", [(SKU, "SH", 1)], key="cart-a")

    sellable = _standalone(stores, path).balance(SKU, "SH").sellable()
    assert sellable == 2
    # cart-a read 4, cart-b told 2 first; cart-a then tells 2 again.
    assert _told(path) == [5, 2, 4, 2]


def test_a_quiet_standalone_change_tells_once(
    tmp_path: Path, stores: list[SqliteLedgerStore | SqliteOutbox]
) -> None:
    path = tmp_path / "shop.db"
    ledger = _standalone(stores, path)
    ledger.receive(SKU, "SH", 5, key="po")
    ledger.reserve("cart-a", [(SKU, "SH", 1)], key="cart-a")
    ledger.set_safety_stock(SKU, "SH", 1)
    assert _told(path) == [5, 4, 3]


def test_only_an_outbox_outside_a_transaction_commits_alone(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    with SqliteOutbox(path) as outbox:
        assert outbox.commits_alone()
    unit = SqliteUnitOfWork(path)
    try:
        with unit as uow:
            assert not uow.outbox.commits_alone()
    finally:
        unit.close()
