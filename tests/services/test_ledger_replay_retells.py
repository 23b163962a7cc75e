"""A replayed receipt tells the channels again what its first call could not."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from orderkit.adapters.memory import MemoryLedgerStore, MemoryOutbox
from orderkit.adapters.sqlite import SqliteLedgerStore, SqliteOutbox
from orderkit.errors import StoreError
from orderkit.orders import OutboxMessage
from orderkit.ports import LedgerStore, Outbox, UnitOfWork
from orderkit.services import Ledger
from orderkit.testing import FrozenClock


class _Failing:
    """An outbox whose `add` fails while `failing` is set, as a lost database does."""

    def __init__(self, inner: Outbox) -> None:
        self.inner = inner
        self.failing = False

    def add(self, messages: Sequence[OutboxMessage]) -> None:
        if self.failing:
            raise StoreError("test", "add", "the outbox is gone")
        self.inner.add(messages)


def _heard(outbox: Outbox) -> list[tuple[str, int]]:
    return [
        (m.message_id, json.loads(m.payload)["sellable"])
        for m in outbox.unsent(limit=1000)
        if m.topic == "sellable"
    ]


@pytest.fixture(params=["memory", "sqlite"])
def standalone(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[LedgerStore, Outbox]:
    """A store and an outbox that are not one unit of work."""
    if request.param == "memory":
        return MemoryLedgerStore(), MemoryOutbox()
    path = tmp_path / "standalone.db"
    return SqliteLedgerStore(path), SqliteOutbox(path)


class TestStandaloneOutbox:
    """The change applied, its message lost: the retry with its key tells it."""

    def test_a_retried_receive_tells_the_figure(
        self, standalone: tuple[LedgerStore, Outbox], clock: FrozenClock
    ) -> None:
        store, outbox = standalone
        failing = _Failing(outbox)
        ledger = Ledger(store, clock, outbox=failing)  # type: ignore[arg-type]
        ledger.receive("X", "SH", 5, key="PO-1")
        failing.failing = True
        with pytest.raises(StoreError):
            ledger.receive("X", "SH", 5, key="PO-2")
        failing.failing = False
        assert ledger.receive("X", "SH", 5, key="PO-2").replayed
        assert _heard(outbox) == [("sellable:X:PO-1", 5), ("sellable:X:PO-2", 10)]
        # Retried again, nothing more: the message is there, equal.
        ledger.receive("X", "SH", 5, key="PO-2")
        assert len(_heard(outbox)) == 2

    def test_a_retried_release_tells_the_figure(
        self, standalone: tuple[LedgerStore, Outbox], clock: FrozenClock
    ) -> None:
        store, outbox = standalone
        failing = _Failing(outbox)
        ledger = Ledger(store, clock, outbox=failing)  # type: ignore[arg-type]
        ledger.receive("X", "SH", 5)
        hold_id = ledger.reserve("cart", [("X", "SH", 2)]).holds[0].hold_id
        failing.failing = True
        with pytest.raises(StoreError):
            ledger.release(hold_id, key="drop-1")
        failing.failing = False
        assert not ledger.release(hold_id, key="drop-1").changed
        assert _heard(outbox)[-1] == ("sellable:X:drop-1", 5)


class TestOneUnit:
    """In one unit the first message was stored: a replay adds nothing."""

    def test_a_retry_repeats_no_message_even_after_the_figure_moved(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        with unit as uow:
            ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
            ledger.receive("X", "SH", 5, key="PO-1")
            ledger.receive("X", "SH", 5, key="PO-1")
            uow.commit()
        with unit as uow:
            ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
            hold_id = ledger.reserve("cart", [("X", "SH", 2)], key="r-1").holds[0]
            ledger.receive("X", "SH", 1)
            # The figure moved since each first call: their messages differ
            # from what a retry would tell, and are kept as they were.
            assert ledger.receive("X", "SH", 5, key="PO-1").replayed
            assert ledger.reserve("cart", [("X", "SH", 2)], key="r-1").replayed
            ledger.release(hold_id.hold_id, key="drop")
            assert not ledger.release(hold_id.hold_id, key="drop").changed
            uow.commit()
        with unit as uow:
            assert [figure for _, figure in _heard(uow.outbox)] == [5, 3, 4, 6]
