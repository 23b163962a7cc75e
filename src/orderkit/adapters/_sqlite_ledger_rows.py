"""The ledger engine's reads and its one write, in SQL, for the SQLite store."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Final, final

import pendulum

from orderkit.adapters import _ledger_engine as engine
from orderkit.adapters._ledger_rows import (
    HOLD_COLUMNS,
    NO_POLICY,
    decode_receipt,
    encode_receipt,
    encode_receipt_rows,
    hold_row,
    movement_row,
    read_hold,
    read_policy,
)
from orderkit.adapters._micros import from_us, to_us
from orderkit.adapters._sqlite_ledger_tables import HOLD, HOLD_BY_ID, POLICY
from orderkit.adapters._sqlite_session import undo, write_rows
from orderkit.inventory import Hold, Movement, Plan, Receipt, StockPolicy


# The mark, the last sequence number (the rowid's max: O(log n)) and the
# receipt, if any: what the engine reads first, in one statement.
_MARK = (
    "SELECT (SELECT high_water FROM orderkit_mark),"
    " (SELECT max(seq) FROM orderkit_movements)"
)
_START = (
    "SELECT (SELECT high_water FROM orderkit_mark),"
    " (SELECT max(seq) FROM orderkit_movements),"
    " (SELECT body FROM orderkit_receipts WHERE key = ?)"
)
# Everything the engine reads about one balance, in one statement part: its
# figures (tag 0), its SKU's policy (1), live holds due by ?1 (2), live holds
# of the superseding owner ?2 (3), and the hold the plan writes there (4);
# each part starts with the row's place in the batch. A plan's rows are read
# in one statement of one part per row, 16 rows at most: few enough shapes
# of statement to stay in the connection's statement cache, and far under
# SQLite's limits of 500 terms in a compound SELECT and 999 parameters.
_ROW = (
    "SELECT {i}, 0, on_hand, reserved, allocated, safety_stock,"  # noqa: S608 - constants
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL"
    " FROM orderkit_balances WHERE sku = ?{sku} AND location = ?{location}"
    " UNION ALL SELECT {i}, 1, kind, quantity, ends_at,"
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
    " FROM orderkit_policies WHERE sku = ?{sku}"
    f" UNION ALL SELECT {{i}}, 2, {HOLD_COLUMNS} FROM orderkit_holds"
    " WHERE state = 'live' AND sku = ?{sku} AND location = ?{location}"
    " AND expires_at <= ?1"
    f" UNION ALL SELECT {{i}}, 3, {HOLD_COLUMNS} FROM orderkit_holds"
    " WHERE owner = ?2 AND sku = ?{sku} AND location = ?{location}"
    " AND state = 'live'"
    f" UNION ALL SELECT {{i}}, 4, {HOLD_COLUMNS} FROM orderkit_holds"
    " WHERE hold_id = ?{placed}"
)
_ROWS_CHUNK: Final = 16
_ROWS: dict[int, str] = {}


def _rows_query(count: int) -> str:
    """The statement reading `count` rows, built once per count."""
    query = _ROWS.get(count)
    if query is None:
        query = _ROWS[count] = " UNION ALL ".join(
            _ROW.format(i=i, sku=3 * i + 3, location=3 * i + 4, placed=3 * i + 5)
            for i in range(count)
        )
    return query


_FIGURES = (
    "SELECT on_hand, reserved, allocated, safety_stock FROM orderkit_balances"
    " WHERE sku = ? AND location = ?"
)
_SKU_KNOWN = "SELECT 1 FROM orderkit_balances WHERE sku = ? LIMIT 1"
_LOCATION_KNOWN = "SELECT 1 FROM orderkit_balances WHERE location = ? LIMIT 1"
_DUE = (
    f"{HOLD} WHERE state = 'live' AND expires_at <= ?"
    " ORDER BY expires_at, hold_id LIMIT ?"
)
_OWNER_ON_ROW = (
    f"{HOLD} WHERE owner = ? AND sku = ? AND location = ? AND state = 'live'"
)

_SET_MARK = "UPDATE orderkit_mark SET high_water = ?"
_UPSERT_BALANCE = (
    "INSERT INTO orderkit_balances"
    " (sku, location, on_hand, reserved, allocated, safety_stock)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sku, location) DO UPDATE SET"
    " on_hand = excluded.on_hand, reserved = excluded.reserved,"
    " allocated = excluded.allocated"
)
_UPSERT_HOLD = (
    "INSERT INTO orderkit_holds (hold_id, owner, sku, location, quantity,"
    " placed_at, expires_at, state, committed, shipped, resolved_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hold_id) DO UPDATE SET"
    " owner = excluded.owner, sku = excluded.sku, location = excluded.location,"
    " quantity = excluded.quantity, placed_at = excluded.placed_at,"
    " expires_at = excluded.expires_at, state = excluded.state,"
    " committed = excluded.committed, shipped = excluded.shipped,"
    " resolved_at = excluded.resolved_at"
)
_INSERT_MOVEMENT = (
    "INSERT INTO orderkit_movements (key, idx, kind, sku, location, on_hand,"
    " reserved, allocated, at, reason, actor, hold_id, counted, seq)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_RECEIPT = "INSERT INTO orderkit_receipts (key, body) VALUES (?, ?)"


@final
class SqliteRows:
    """The engine's reads and one write, in SQL, inside the store's transaction.

    Reads change nothing, so they are cached for the plan's lifetime: the
    first read of a balance fetches all the engine will ask about it, and
    about every other balance the plan touches, in one statement per 16
    balances.
    Given a `savepoint` name, the write runs in that `SAVEPOINT`, so that a
    failure undoes it alone and the enclosing transaction goes on.
    """

    __slots__ = (
        "_cur",
        "_due",
        "_due_at",
        "_figures",
        "_holds",
        "_mark",
        "_owned",
        "_owner",
        "_placed",
        "_plan",
        "_policies",
        "_remember",
        "_savepoint",
        "_seq",
    )

    def __init__(
        self, cur: sqlite3.Cursor, savepoint: str | None, plan: Plan | None
    ) -> None:
        self._cur = cur
        self._savepoint = savepoint
        self._plan = plan
        self._owner = None if plan is None else plan.supersede
        self._remember = plan is None or plan.remember
        self._placed: dict[engine.Row, str] = {}
        if plan is not None:
            for w in plan.holds:
                self._placed.setdefault((w.new.sku, w.new.location), w.new.hold_id)
        self._mark: int | None = None
        self._seq = -1
        self._figures: dict[engine.Row, engine.Figures | None] = {}
        self._policies: dict[str, StockPolicy] = {}
        self._holds: dict[str, Hold | None] = {}
        self._owned: dict[engine.Row, list[Hold]] = {}
        self._due: dict[engine.Row, list[Hold]] = {}
        self._due_at: int | None = None

    def receipt(self, key: str) -> Receipt | None:
        if not self._remember:
            # The caller vouches that the key is new: nothing to look up.
            self._start()
            return None
        mark, seq, body = self._cur.execute(_START, (key,)).fetchone()
        self._mark = mark
        self._seq = seq or 0
        return None if body is None else decode_receipt(body)

    def high_water(self) -> pendulum.DateTime | None:
        self._start()
        return None if self._mark is None else from_us(self._mark)

    def next_seq(self) -> int:
        self._start()
        return self._seq + 1

    def _start(self) -> None:
        if self._seq < 0:
            mark, seq = self._cur.execute(_MARK).fetchone()
            self._mark = mark
            self._seq = seq or 0

    def due_holds(self, row: engine.Row, at: pendulum.DateTime) -> Iterable[Hold]:
        at_us = to_us(at)
        if at_us != self._due_at:
            self._due.clear()
            self._due_at = at_us
        due = self._due.get(row)
        if due is None:
            # The engine asks about each row the plan touches in turn.
            touched = () if self._plan is None else self._plan.touched()
            wanted = [r for r in touched if r not in self._due]
            self._load(wanted if row in wanted else [row], at_us)
            due = self._due[row]
        return due

    def _load(self, rows: Sequence[engine.Row], at_us: int) -> None:
        """Read everything the engine will ask about `rows`, due by `at_us`."""
        for start in range(0, len(rows), _ROWS_CHUNK):
            self._load_chunk(rows[start : start + _ROWS_CHUNK], at_us)

    def _load_chunk(self, rows: Sequence[engine.Row], at_us: int) -> None:
        values: list[object] = [at_us, self._owner]
        for row in rows:
            values += (*row, self._placed.get(row))
        due: list[list[Any]] = [[] for _ in rows]
        owned: list[list[Hold]] = [[] for _ in rows]
        figures: list[engine.Figures | None] = [None] * len(rows)
        policies: list[StockPolicy] = [NO_POLICY] * len(rows)
        for found in self._cur.execute(_rows_query(len(rows)), values):
            i, tag = found[0], found[1]
            if tag == 0:
                figures[i] = list(found[2:6])
            elif tag == 1:
                policies[i] = read_policy(found[2:5])
            elif tag == 2:
                due[i].append(found[1:])
            else:
                hold = self._holds[found[2]] = read_hold(found[2:])
                if tag == 3:
                    owned[i].append(hold)
        for i, row in enumerate(rows):
            self._figures[row] = figures[i]
            self._policies[row[0]] = policies[i]
            self._owned[row] = owned[i]
            placed = self._placed.get(row)
            if placed is not None:
                self._holds.setdefault(placed, None)
            due[i].sort(key=_due_order)
            holds = self._due[row] = [read_hold(found[1:]) for found in due[i]]
            for hold in holds:
                self._holds[hold.hold_id] = hold

    def owner_holds(self, owner: str, row: engine.Row) -> Iterable[Hold]:
        if owner == self._owner and row in self._owned:
            return self._owned[row]
        return [read_hold(r) for r in self._cur.execute(_OWNER_ON_ROW, (owner, *row))]

    def figures(self, sku: str, location: str) -> engine.Figures | None:
        row = (sku, location)
        if row in self._figures:
            return self._figures[row]
        found = self._cur.execute(_FIGURES, row).fetchone()
        return None if found is None else list(found)

    def hold(self, hold_id: str) -> Hold | None:
        if hold_id in self._holds:
            return self._holds[hold_id]
        found = self._cur.execute(HOLD_BY_ID, (hold_id,)).fetchone()
        return None if found is None else read_hold(found)

    def policy(self, sku: str) -> StockPolicy:
        if sku in self._policies:
            return self._policies[sku]
        return read_policy(self._cur.execute(POLICY, (sku,)).fetchone())

    def sku_known(self, sku: str) -> bool:
        return self._cur.execute(_SKU_KNOWN, (sku,)).fetchone() is not None

    def location_known(self, location: str) -> bool:
        return self._cur.execute(_LOCATION_KNOWN, (location,)).fetchone() is not None

    def due(self, at: pendulum.DateTime, limit: int) -> list[Hold]:
        """Every live hold due by `at`, oldest first, at most `limit` (-1: all)."""
        return [read_hold(r) for r in self._cur.execute(_DUE, (to_us(at), limit))]

    def write(
        self,
        high_water: pendulum.DateTime,
        figures: dict[engine.Row, engine.Figures],
        holds: list[Hold],
        movements: list[Movement],
        receipt: Receipt | None,
    ) -> None:
        cur = self._cur
        mark = to_us(high_water)
        savepoint = self._savepoint
        if savepoint is not None:
            cur.execute(f"SAVEPOINT {savepoint}")
        try:
            if mark != self._mark:
                cur.execute(_SET_MARK, (mark,))
            # Under this write's savepoint (or in the store's own
            # transaction): the rows need none of their own.
            balance_rows = [(s, loc, *values) for (s, loc), values in figures.items()]
            write_rows(cur, None, _UPSERT_BALANCE, balance_rows)
            hold_rows = [hold_row(h) for h in holds]
            write_rows(cur, None, _UPSERT_HOLD, hold_rows)
            movement_rows = [movement_row(m) for m in movements]
            write_rows(cur, None, _INSERT_MOVEMENT, movement_rows)
            if receipt is not None:
                body = _receipt_body(
                    receipt, holds, hold_rows, movements, movement_rows
                )
                cur.execute(_INSERT_RECEIPT, (receipt.key, body))
        except BaseException:
            if savepoint is not None:
                undo(cur, savepoint)
            raise
        if savepoint is not None:
            cur.execute(f"RELEASE {savepoint}")


def _receipt_body(
    receipt: Receipt,
    holds: Sequence[Hold],
    hold_rows: list[tuple[Any, ...]],
    movements: Sequence[Movement],
    movement_rows: list[tuple[Any, ...]],
) -> str:
    """The receipt's JSON, from the rows just written when they are its own."""
    if _same(receipt.holds, holds) and _same(receipt.movements, movements):
        return encode_receipt_rows(receipt, to_us(receipt.at), movement_rows, hold_rows)
    return encode_receipt(receipt)


def _same(these: Sequence[object], those: Sequence[object]) -> bool:
    return len(these) == len(those) and all(
        a is b for a, b in zip(these, those, strict=True)
    )


def _due_order(row: Sequence[Any]) -> tuple[int, str]:
    """Due holds in the order they fell due; ties by id, as in the memory store."""
    return row[7], row[1]
