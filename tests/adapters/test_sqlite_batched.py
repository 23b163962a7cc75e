"""The SQLite stores' batched statements: the same rows and answers, fewer statements.

Rows written together go in one `INSERT` (`write_rows`): the same rows, in
the same order, as one statement per row; rows repeating an upsert's key
still go one at a time; a write failing inside a unit that goes on leaves
nothing behind.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
from tests.services._samples import awaiting_payment, cny

from orderkit.adapters import _sqlite_session
from orderkit.adapters._sqlite_session import write_rows
from orderkit.adapters.sqlite import SqliteUnitOfWork
from orderkit.dedupe import Fingerprinter, FingerprintKind, IdempotencyKey, Sighting
from orderkit.dedupe._fingerprints import Fingerprint
from orderkit.errors import StoreError
from orderkit.integrations import ChannelOrder
from orderkit.inventory import HoldState, StockLine
from orderkit.orders import Address, Buyer, OrderLine, OrderPlaced
from orderkit.ports import UnitOfWork
from orderkit.pricing import Granted, LimitKey
from orderkit.services import DeskPolicy, Ledger, OrderDesk
from orderkit.testing import FrozenClock


START = pendulum.datetime(2026, 11, 11, 2)
_UPSERT = (
    "INSERT INTO t (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
)


def _traced(conn: sqlite3.Connection) -> list[str]:
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    return statements


def _many_rows(statements: list[str]) -> set[str]:
    """The tables that statements among `statements` insert several rows into."""
    return {s.split()[2] for s in statements if s.startswith("INSERT") and "), (" in s}


def _dump(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every orderkit table's rows, rowids included where there are any."""
    tables = [
        (name, "WITHOUT ROWID" in sql.upper())
        for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
            " AND name LIKE 'orderkit_%' ORDER BY name"
        )
    ]
    return {
        name: conn.execute(
            f"SELECT {'' if bare else 'rowid, '}* FROM {name}"  # noqa: S608 - names read above
            f" ORDER BY {'1, 2' if bare else 'rowid'}"
        ).fetchall()
        for name, bare in tables
    }


class TestWriteRows:
    """Rows in one statement when they may; the same rows either way."""

    @pytest.fixture
    def conn(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(":memory:", isolation_level=None)
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v TEXT)")
        yield conn
        conn.close()

    def _one_at_a_time(self, rows: list[tuple[str, str]]) -> list[tuple[object, ...]]:
        with sqlite3.connect(":memory:") as conn:
            conn.execute(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v TEXT)"
            )
            conn.execute("INSERT INTO t (k, v) VALUES ('b', 'stored')")
            for row in rows:
                conn.execute(_UPSERT, row)
            return conn.execute("SELECT * FROM t ORDER BY id").fetchall()

    def test_distinct_keys_go_in_one_statement_in_order(
        self, conn: sqlite3.Connection
    ) -> None:
        conn.execute("INSERT INTO t (k, v) VALUES ('b', 'stored')")
        rows = [("c", "1"), ("b", "2"), ("a", "3")]
        statements = _traced(conn)
        write_rows(conn.cursor(), None, _UPSERT, rows)
        assert len(statements) == 1
        assert statements[0].count("VALUES") == 1
        assert statements[0].count("), (") == 2
        assert conn.execute("SELECT * FROM t ORDER BY id").fetchall() == (
            self._one_at_a_time(rows)
        )

    def test_a_repeated_key_updates_the_row_as_one_statement_a_row_would(
        self, conn: sqlite3.Connection
    ) -> None:
        conn.execute("INSERT INTO t (k, v) VALUES ('b', 'stored')")
        rows = [("a", "1"), ("b", "2"), ("a", "3")]
        statements = _traced(conn)
        write_rows(conn.cursor(), None, _UPSERT, rows)
        assert [s.count("), (") for s in statements] == [2]
        assert conn.execute("SELECT * FROM t ORDER BY id").fetchall() == (
            self._one_at_a_time(rows)
        )

    def test_rows_too_many_for_one_statement_go_one_at_a_time(
        self, conn: sqlite3.Connection
    ) -> None:
        rows = [(f"k{i:04}", str(i)) for i in range(600, 0, -1)]
        statements = _traced(conn)
        conn.execute("BEGIN")
        write_rows(conn.cursor(), "sp", _UPSERT, rows)
        conn.execute("COMMIT")
        assert sum(s.startswith("INSERT") for s in statements) == 600
        stored = conn.execute("SELECT k, v FROM t ORDER BY id").fetchall()
        assert stored == rows

    @pytest.mark.parametrize("resolution", ["ABORT", "FAIL"])
    def test_a_failing_row_leaves_none_of_the_rows_and_the_transaction_open(
        self, conn: sqlite3.Connection, resolution: str
    ) -> None:
        """FAIL keeps a statement's earlier rows: the savepoint undoes them."""
        conn.execute(
            "CREATE TRIGGER no_c BEFORE INSERT ON t WHEN NEW.k = 'c'"
            f" BEGIN SELECT RAISE({resolution}, 'no c'); END"
        )
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (k, v) VALUES ('kept', '0')")
        with pytest.raises(sqlite3.IntegrityError, match="no c"):
            write_rows(
                conn.cursor(), "sp", _UPSERT, [("a", "1"), ("b", "2"), ("c", "3")]
            )
        assert conn.in_transaction
        conn.execute("COMMIT")
        assert conn.execute("SELECT k FROM t").fetchall() == [("kept",)]

    def test_a_statement_it_cannot_take_is_refused_when_built(self) -> None:
        with pytest.raises(ValueError, match="one-row VALUES"):
            write_rows(
                sqlite3.connect(":memory:").cursor(),
                None,
                "INSERT INTO t (k, v) VALUES (?, coalesce(?, 0))",
                [("a", "1"), ("b", None)],
            )


# --------------------------------------------------------------------------
# A store's write failing inside a unit that goes on


def _refuse(conn: sqlite3.Connection, table: str, when: str) -> None:
    """Make SQLite refuse the rows of `table` matching `when`, inserted or updated."""
    for event in ("INSERT", "UPDATE"):
        conn.execute(
            f"CREATE TRIGGER refuse_{event.lower()}_{table} BEFORE {event} ON {table}"
            f" WHEN {when} BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )


@pytest.fixture
def unit(tmp_path: Path) -> Iterator[SqliteUnitOfWork]:
    unit = SqliteUnitOfWork(tmp_path / "unit.db")
    yield unit
    unit.close()


SKUS = ["SKU-A", "SKU-B", "SKU-C"]


class TestAllOrNothing:
    """A write refused on its last row leaves nothing; the unit goes on."""

    @pytest.mark.parametrize(
        "table",
        ["orderkit_balances", "orderkit_holds", "orderkit_movements"],
    )
    def test_a_reservation_refused_on_its_last_row(
        self, unit: SqliteUnitOfWork, table: str
    ) -> None:
        clock = FrozenClock(START)
        with unit as uow:
            ledger = Ledger(uow.ledger, clock)
            for sku in SKUS:
                ledger.receive(sku, "W1", 10, key=f"in:{sku}")
            uow.commit()
        before = _dump(unit._conn)
        _refuse(unit._conn, table, "NEW.sku = 'SKU-C'")
        with unit as uow:
            ledger = Ledger(uow.ledger, clock)
            lines = [StockLine(sku, "W1", 2) for sku in SKUS]
            with pytest.raises(StoreError, match="refused"):
                ledger.reserve("order:1", lines, key="hold:1")
            # The host caught the error and goes on in the same unit.
            ledger.reserve("order:2", lines[:2], key="hold:2")
            uow.commit()
        with unit as uow:
            assert uow.ledger.receipt("hold:1") is None
            assert uow.ledger.holds(owner="order:1") == []
            assert [h.sku for h in uow.ledger.holds(owner="order:2")] == SKUS[:2]
            assert [(b.sku, b.reserved) for b in uow.ledger.balances(START)] == [
                ("SKU-A", 2),
                ("SKU-B", 2),
                ("SKU-C", 0),
            ]
        after = _dump(unit._conn)
        movements = after["orderkit_movements"]
        assert (
            movements[: len(before["orderkit_movements"])]
            == (before["orderkit_movements"])
        )
        assert [row[2] for row in movements[3:]] == ["hold:2", "hold:2"]

    @pytest.mark.parametrize("refused", ["fingerprint", "suspicion"])
    def test_a_detector_record_refused_on_its_last_row(
        self, unit: SqliteUnitOfWork, refused: str
    ) -> None:
        def prints(n: int) -> list[Fingerprint]:
            return [
                Fingerprint(kind, 1, f"{n + i:032x}")
                for i, kind in enumerate(FingerprintKind)
            ]

        if refused == "fingerprint":
            when = f"NEW.fingerprint = '{prints(1)[-1]}'"
            _refuse(unit._conn, "orderkit_detector_fingerprints", when)
            failing = 1
        else:
            # The same fingerprints as DY-0's: a match, so a suspicion.
            _refuse(unit._conn, "orderkit_detector_suspicions", "1")
            failing = 100

        with unit as uow:

            def record(order_id: str, n: int) -> None:
                uow.detector.record(
                    Sighting("douyin", order_id, START),
                    prints(n),
                    phone="+8613800138000",
                    window=dt.timedelta(days=1),
                    now=START,
                )

            record("DY-0", 100)
            with pytest.raises(StoreError, match="refused"):
                record("DY-1", failing)
            # The host caught the error and goes on in the same unit.
            record("DY-2", 200)
            uow.commit()
        stored = _dump(unit._conn)
        assert [row[3] for row in stored["orderkit_detector_orders"]] == [
            "DY-0",
            "DY-2",
        ]
        assert sorted(row[0] for row in stored["orderkit_detector_fingerprints"]) == (
            sorted(str(p) for p in [*prints(100), *prints(200)])
        )
        assert stored["orderkit_detector_suspicions"] == []

    @pytest.mark.parametrize(
        ("table", "when"),
        [
            ("orderkit_limit_uses", "NEW.key = 'buyer:2|sku:tea'"),
            ("orderkit_limit_use_ids", "NEW.use_id = 'use:1'"),
        ],
    )
    def test_a_limit_use_refused_on_its_last_row(
        self, unit: SqliteUnitOfWork, table: str, when: str
    ) -> None:
        _refuse(unit._conn, table, when)
        day = dt.timedelta(days=1)
        with unit as uow:
            keys = [LimitKey("buyer:1", 5, day), LimitKey("buyer:2|sku:tea", 1, day)]
            with pytest.raises(StoreError, match="refused"):
                uow.limits.consume(keys, now=START, use_id="use:1")
            # Another use goes on in the same unit.
            assert uow.limits.consume(keys[:1], now=START, use_id="use:2") == (
                Granted()
            )
            uow.commit()
        stored = _dump(unit._conn)
        assert [row[1:] for row in stored["orderkit_limit_uses"]] == [
            ("buyer:1", pendulum.instance(START).int_timestamp * 10**6, None, 1)
        ]
        assert [row[0] for row in stored["orderkit_limit_use_ids"]] == ["use:2"]


# --------------------------------------------------------------------------
# The desk: the same rows as one statement per row, fewer statements


def _placed(order_id: str, skus: list[str], quantity: int) -> ChannelOrder:
    placed = OrderPlaced(
        order_id=order_id,
        key=IdempotencyKey("douyin", "trade.created", order_id, "1"),
        occurred_at=START,
        channel="douyin",
        buyer=Buyer(f"buyer-{order_id}", "李雷", phone="+8613800138000"),
        address=Address("CN", "北京市", "北京市", "朝阳区", f"建国路 {order_id} 号"),
        lines=[
            OrderLine(f"L{i}", sku, quantity, cny("19.90"))
            for i, sku in enumerate(skus)
        ],
    )
    return awaiting_payment(placed)


def _day_at_the_desk(unit: UnitOfWork) -> list[object]:
    """Three-line orders routed over two locations, then holds moved on."""
    clock = FrozenClock(START)
    with unit as uow:
        ledger = Ledger(uow.ledger, clock)
        for sku in SKUS:
            ledger.receive(sku, "BJ-1", 3, key=f"in:{sku}:BJ-1")
            ledger.receive(sku, "SH-1", 50, key=f"in:{sku}:SH-1")
        uow.commit()
    desk = OrderDesk(
        unit,
        clock,
        DeskPolicy(locations=["BJ-1", "SH-1"], pay_window=dt.timedelta(minutes=30)),
        Fingerprinter.for_tests(),
    )
    outcomes: list[object] = [
        desk.accept(_placed("DY-1", SKUS, 2)),
        desk.accept(_placed("DY-2", [*SKUS, "SKU-A"], 1)),
        desk.accept(_placed("DY-3", SKUS[::-1], 2)),
    ]
    clock.advance(minutes=40)
    outcomes.append(desk.accept(_placed("DY-4", SKUS, 3)))
    with unit as uow:
        ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
        holds = uow.ledger.holds(owner="order:douyin:DY-4")
        for hold in holds[:2]:
            ledger.commit(hold.hold_id, key=f"commit:{hold.hold_id}")
        ledger.release(holds[2].hold_id, key="release")
        outcomes.append(ledger.expire_due())
        uow.commit()
    return outcomes


class TestTheSameRows:
    """Every table's rows are those of one statement per row."""

    def test_a_day_at_the_desk(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        batched = SqliteUnitOfWork(tmp_path / "batched.db")
        statements = _traced(batched._conn)
        batched_outcomes = _day_at_the_desk(batched)
        assert _many_rows(statements) >= {
            "orderkit_balances",
            "orderkit_holds",
            "orderkit_movements",
            "orderkit_detector_fingerprints",
            "orderkit_outbox",
        }
        # No rows fit one statement: each goes in one of its own.
        monkeypatch.setattr(_sqlite_session, "_MAX_PARAMETERS", 0)
        single = SqliteUnitOfWork(tmp_path / "single.db")
        single_statements = _traced(single._conn)
        single_outcomes = _day_at_the_desk(single)
        assert _many_rows(single_statements) == set()
        assert batched_outcomes == single_outcomes
        assert _dump(batched._conn) == _dump(single._conn)
        with batched as uow:
            assert {h.state for h in uow.ledger.holds()} >= {
                HoldState.COMMITTED,
                HoldState.RELEASED,
                HoldState.EXPIRED,
            }
        batched.close()
        single.close()
