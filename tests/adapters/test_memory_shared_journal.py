"""A `MemoryUnitOfWork`'s stores journal in one journal, which no unit outlives.

The unit commits by clearing that journal and rolls back by replaying it,
newest first across every store; `test_memory_uow_journal` checks that the
stores come back exactly as they were. Here: what the sharing itself must
keep true.
"""

from __future__ import annotations

import pytest

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.orders import OutboxMessage, order_stream
from orderkit.testing._contract_base import START
from orderkit.testing._order_store_contract import sample_order


STORES = (
    "orders",
    "audit",
    "outbox",
    "inbox",
    "ledger",
    "keys",
    "limits",
    "detector",
    "cursors",
)


def _message(message_id: str) -> OutboxMessage:
    return OutboxMessage(
        message_id=message_id,
        stream=order_stream("douyin", "DY-1"),
        topic="milestone",
        payload=b"{}",
        created_at=START,
    )


def test_every_store_journals_in_the_units_one_journal_while_it_is_open() -> None:
    uow = MemoryUnitOfWork()
    with uow:
        journals = {id(getattr(uow, f"_{name}")._journal) for name in STORES}
        assert journals == {id(uow._journal)}
        assert uow._ledger._s.journal is uow._journal
    for name in STORES:
        assert getattr(uow, f"_{name}")._journal is None
    assert not uow._journal.undo


def test_a_rollback_undoes_writes_interleaved_across_stores() -> None:
    uow = MemoryUnitOfWork()
    with uow:
        uow.orders.save(sample_order("DY-1"), None)
        uow.outbox.add([_message("m-1")])
        uow.commit()
    with uow:
        uow.outbox.add([_message("m-2")])
        uow.orders.save(sample_order("DY-2"), None)
        uow.outbox.add([_message("m-3")])
        uow.cursors.advance("feed", None, "c-1")
    with uow:
        assert [m.message_id for m in uow.outbox.unsent()] == ["m-1"]
        assert uow.orders.get("douyin", "DY-2") is None
        assert uow.orders.get("douyin", "DY-1") is not None
        assert uow.cursors.get("feed") is None


class _Broken(Exception):
    pass


def test_a_record_that_fails_to_replay_leaves_only_its_own_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A replay goes on past a record that raises, then raises its error.

    Stopping at it would keep every older write of the unit, in every store;
    and no record outlives the unit, to be replayed by a later one.
    """
    uow = MemoryUnitOfWork()
    with uow:
        uow.cursors.advance("feed", None, "c-1")
        uow.commit()
    outbox = uow._outbox

    def broken(_added: object) -> None:
        raise _Broken

    def write_and_leave() -> None:
        with uow:
            uow.cursors.advance("feed", "c-1", "c-2")
            uow.outbox.add([_message("m-1")])
            uow.orders.save(sample_order("DY-1"), None)

    monkeypatch.setattr(outbox, "_unadd", broken)
    with pytest.raises(_Broken):
        write_and_leave()
    assert not uow._journal.undo
    monkeypatch.undo()
    with uow:
        # Older and newer than the broken record: both undone.
        assert uow.cursors.get("feed") == "c-1"
        assert uow.orders.get("douyin", "DY-1") is None
        # The broken record's own write is what stays.
        assert [m.message_id for m in uow.outbox.unsent()] == ["m-1"]
        uow.cursors.advance("other", None, "x")
        uow.rollback()
        # Rolling back this unit undid its own write alone.
        assert uow.cursors.get("other") is None
        assert uow.cursors.get("feed") == "c-1"
