"""The SQLite ledger's version 2: an index of movements by balance, for stock cards.

A version 1 file (the first release's tables) gets the index when a store
opens it, its data kept; a stock card then reads through the index, and a
SKU's through it once per location.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from orderkit.adapters import _sqlite_ledger as ledger_module
from orderkit.adapters.sqlite import SCHEMA_VERSION, SqliteLedgerStore
from orderkit.services import Ledger
from orderkit.testing import FrozenClock
from orderkit.testing._contract_base import START


_INDEXES = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
_VERSION = "SELECT value FROM orderkit_meta WHERE name = 'schema_version'"


def _indexes(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute(_INDEXES, ("orderkit_movements",))}


@pytest.fixture
def version_1(tmp_path: Path) -> Path:
    """A ledger file at version 1, holding movements of two SKUs at two places."""
    path = tmp_path / "ledger.db"
    with SqliteLedgerStore(path) as store:
        ledger = Ledger(store, FrozenClock(START))
        ledger.receive("TEA-01", "W1", 5)
        ledger.receive("MUG-02", "W1", 4)
        ledger.receive("TEA-01", "W2", 3)
        ledger.reserve("cart-1", [("TEA-01", "W1", 2)])
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX orderkit_movements_row")
        conn.execute("UPDATE orderkit_meta SET value = 1 WHERE name = 'schema_version'")
    conn.close()
    return path


def test_the_index_of_movements_by_balance_is_version_2() -> None:
    assert SCHEMA_VERSION == 2


def test_a_version_1_file_gets_the_index_and_keeps_its_movements(
    version_1: Path,
) -> None:
    with sqlite3.connect(version_1) as conn:
        assert "orderkit_movements_row" not in _indexes(conn)
    conn.close()
    with SqliteLedgerStore(version_1) as store:
        ledger = Ledger(store, FrozenClock(START))
        log = list(ledger.movements())
        assert [m.seq for m in log] == [1, 2, 3, 4]
        assert list(ledger.movements(sku="TEA-01")) == [log[0], log[2], log[3]]
        assert list(ledger.movements(sku="TEA-01", location="W1")) == [
            log[0],
            log[3],
        ]
        ledger.receive("TEA-01", "W2", 1)
        assert [m.seq for m in ledger.movements(sku="TEA-01", location="W2")] == [
            3,
            5,
        ]
    with sqlite3.connect(version_1) as conn:
        assert "orderkit_movements_row" in _indexes(conn)
        assert conn.execute(_VERSION).fetchone() == (2,)
    conn.close()


def test_stock_cards_read_through_the_index(tmp_path: Path) -> None:
    """A balance's card is one range of the index; a SKU's locations, a skip scan."""
    with SqliteLedgerStore(tmp_path / "ledger.db") as store:
        store.balances(START)  # the tables
        conn = store._session.conn
        plans = {
            name: " ".join(
                row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {query}", values)
            )
            for name, query, values in [
                ("row", ledger_module._MOVEMENTS_OF_BOTH, ("T", "W1", 0, 10)),
                ("run", ledger_module._MOVEMENTS_OF_ROW, ("T", "W1", 0, 9, 10)),
                ("locations", ledger_module._LOCATIONS_OF, ("T",)),
            ]
        }
    index = "INDEX orderkit_movements_row (sku=? AND location=? AND rowid>?"
    assert index in plans["row"]
    assert index in plans["run"]
    assert "SCAN orderkit_movements" not in plans["locations"]
    assert "orderkit_movements_row (sku=? AND location>?)" in plans["locations"]
