"""The SQLite stores' short paths: fewer statements, the same effects.

A plan's rows are read in one statement (or one per 16 rows), and new
outbox messages and a new audit record are inserted without reading first;
what is stored already falls back to the read, all or nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import pendulum
import pytest

from orderkit.adapters.memory import MemoryLedgerStore
from orderkit.adapters.sqlite import SqliteLedgerStore, SqliteUnitOfWork
from orderkit.errors import ConcurrencyConflict
from orderkit.inventory import Balance, Plan, Receipt, StockLine
from orderkit.inventory import _planning as planning
from orderkit.orders import OutboxMessage, order_stream
from orderkit.ports import LedgerStore
from orderkit.serialization import make_converter
from orderkit.services import Ledger
from orderkit.testing import FrozenClock
from orderkit.testing._order_store_contract import sample_record


START = pendulum.datetime(2026, 11, 11)
SKUS = [f"SKU-{i:03}" for i in range(150)]


def _traced(conn: sqlite3.Connection) -> list[str]:
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    return statements


def _reserve(key: str, owner: str, skus: list[str], minutes: int) -> Plan:
    return planning.reserve(
        planning.Stamp(key, START),
        owner,
        [StockLine(sku, "W1", 1 + i % 3) for i, sku in enumerate(skus)],
        START.add(minutes=minutes),
    )


def _day(
    store: LedgerStore, clock: FrozenClock
) -> tuple[list[Receipt], Sequence[Balance]]:
    """Holds on many rows, some due, then superseded and expired in one plan."""
    ledger = Ledger(store, clock)
    for sku in SKUS:
        ledger.receive(sku, "W1", 10)
    receipts = [
        store.apply(_reserve("a", "order:a", SKUS[:100], 5)),
        store.apply(_reserve("b", "order:b", SKUS[50:], 60)),
    ]
    clock.advance(minutes=10)
    # Due holds of "a" expire, those of "b" are superseded, on every row.
    late = planning.reserve(
        planning.Stamp("b2", clock.now()),
        "order:b",
        [StockLine(sku, "W1", 2) for sku in SKUS],
        clock.now().add(minutes=30),
    )
    receipts.append(store.apply(late))
    receipts.append(store.apply(late))  # replayed
    return receipts, store.balances(clock.now())


class TestPlanRows:
    """A plan's rows are read together, as one row at a time read them."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqliteLedgerStore]:
        with SqliteLedgerStore(tmp_path / "ledger.db") as store:
            yield store

    def test_a_plan_of_three_rows_reads_them_in_one_statement(
        self, store: SqliteLedgerStore
    ) -> None:
        ledger = Ledger(store, FrozenClock(START))
        for sku in SKUS[:3]:
            ledger.receive(sku, "W1", 10)
        statements = _traced(store._session.conn)
        store.apply(_reserve("a", "order:a", SKUS[:3], 5))
        assert 1 == sum("FROM orderkit_balances" in s for s in statements)

    def test_many_rows_are_read_in_chunks_with_the_memory_stores_effects(
        self, store: SqliteLedgerStore
    ) -> None:
        statements = _traced(store._session.conn)
        got, balances = _day(store, FrozenClock(START))
        assert (got, balances) == _day(MemoryLedgerStore(), FrozenClock(START))
        assert got[2].movements  # the late plan expired and superseded holds
        assert {m.kind.value for m in got[2].movements} >= {"expire", "release"}
        # The late plan touches 150 rows: ten statements of at most 16.
        reads = [s for s in statements if "FROM orderkit_balances WHERE" in s]
        assert [s.count("FROM orderkit_balances") for s in reads[-10:]] == [
            *[16] * 9,
            6,
        ]


def _message(message_id: str, payload: bytes = b"{}") -> OutboxMessage:
    return OutboxMessage(
        message_id=message_id,
        stream=order_stream("douyin", "DY-1"),
        topic="milestone",
        payload=payload,
        created_at=START,
    )


class TestInsertsWithoutReading:
    """New rows are one statement; stored ones are compared, all or nothing."""

    @pytest.fixture
    def unit(self, tmp_path: Path) -> Iterator[SqliteUnitOfWork]:
        unit = SqliteUnitOfWork(tmp_path / "unit.db", converter=make_converter())
        yield unit
        unit.close()

    def test_new_messages_are_one_statement(self, unit: SqliteUnitOfWork) -> None:
        statements = _traced(unit._conn)
        with unit:
            unit.outbox.add([_message("m1"), _message("m2"), _message("m3")])
            unit.commit()
        assert statements == [
            "BEGIN IMMEDIATE",
            *[s for s in statements if s.startswith("INSERT INTO orderkit_outbox")],
            "COMMIT",
        ]
        assert len(statements) == 3
        with unit:
            assert [m.message_id for m in unit.outbox.unsent()] == ["m1", "m2", "m3"]

    def test_a_stored_message_is_skipped_and_the_rest_added_in_order(
        self, unit: SqliteUnitOfWork
    ) -> None:
        with unit:
            unit.outbox.add([_message("m2")])
            unit.outbox.add([_message("m1"), _message("m2"), _message("m3")])
            unit.outbox.add([_message("m3"), _message("m3")])
            unit.commit()
        with unit:
            assert [m.message_id for m in unit.outbox.unsent()] == ["m2", "m1", "m3"]

    def test_a_conflicting_message_stores_none_of_its_batch(
        self, unit: SqliteUnitOfWork
    ) -> None:
        with unit:
            unit.outbox.add([_message("m1")])
            with pytest.raises(ConcurrencyConflict):
                unit.outbox.add([_message("m2"), _message("m1", b"[]")])
            with pytest.raises(ConcurrencyConflict):
                unit.outbox.add([_message("m3"), _message("m3", b"[]")])
            # The host caught the errors and goes on in the same unit.
            unit.outbox.add([_message("m4")])
            unit.commit()
        with unit:
            assert [m.message_id for m in unit.outbox.unsent()] == ["m1", "m4"]

    def test_a_new_audit_record_is_one_statement(self, unit: SqliteUnitOfWork) -> None:
        statements = _traced(unit._conn)
        with unit:
            unit.audit.append("douyin", [sample_record()])
            unit.commit()
        assert len(statements) == 3
        assert statements[1].startswith("INSERT INTO orderkit_audit")

    def test_a_stored_audit_record_is_skipped_or_conflicts(
        self, unit: SqliteUnitOfWork
    ) -> None:
        with unit:
            unit.audit.append("douyin", [sample_record()])
            unit.audit.append("douyin", [sample_record()])
            with pytest.raises(ConcurrencyConflict):
                unit.audit.append("douyin", [sample_record(actor="someone else")])
            unit.commit()
        with unit:
            assert unit.audit.records("douyin", "DY-1001") == [sample_record()]
