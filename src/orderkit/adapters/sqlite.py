"""The SQLite store: the ledger in one file, shared safely by several processes.

Standard library only (`sqlite3`). The algorithm is the shared engine's; this
module only reads and writes rows in SQL.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Final, Self, TypeVar, final

import pendulum

from orderkit import _fast
from orderkit._time import plus, to_utc
from orderkit.adapters import _ledger_engine as engine
from orderkit.dedupe._claims import (
    Claim,
    Claimed,
    InProgress,
    Outcome,
    Replay,
    check_duration,
    check_key,
    check_now,
    check_outcome,
    check_request_hash,
    check_token,
)
from orderkit.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    OrderkitError,
    StoreError,
)
from orderkit.inventory import (
    Backorder,
    Balance,
    Hold,
    HoldState,
    Movement,
    MovementKind,
    NoOversell,
    Plan,
    Preorder,
    Receipt,
    StockPolicy,
)


__all__ = ["SqliteKeyStore", "SqliteLedgerStore"]

T = TypeVar("T")

SCHEMA_VERSION: Final = 1
"""The version of the tables this module writes, kept in `orderkit_meta`."""
_STORE = "sqlite"
_SAVEPOINT = "orderkit_write"
_DEFAULT_TIMEOUT = 10.0
# What binding a value can raise besides the driver's own errors: text that is
# not valid UTF-8 (a lone surrogate) and integers beyond SQLite's 64 bits.
_FAILURES = (sqlite3.Error, UnicodeEncodeError, OverflowError)

# Every name carries the `orderkit_` prefix: the store may live in a host's
# own database, beside the host's tables.
_SCHEMA = (
    "CREATE TABLE orderkit_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    (
        "CREATE TABLE orderkit_mark"
        " (id INTEGER PRIMARY KEY CHECK (id = 1), high_water INTEGER)"
    ),
    (
        "CREATE TABLE orderkit_balances ("
        " sku TEXT NOT NULL, location TEXT NOT NULL,"
        " on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL,"
        " allocated INTEGER NOT NULL, safety_stock INTEGER NOT NULL,"
        " PRIMARY KEY (sku, location)) WITHOUT ROWID"
    ),
    "CREATE INDEX orderkit_balances_location ON orderkit_balances (location)",
    (
        "CREATE TABLE orderkit_holds ("
        " id INTEGER PRIMARY KEY, hold_id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,"
        " sku TEXT NOT NULL, location TEXT NOT NULL, quantity INTEGER NOT NULL,"
        " placed_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
        " state TEXT NOT NULL, committed INTEGER NOT NULL, shipped INTEGER NOT NULL,"
        " resolved_at INTEGER)"
    ),
    # Partial indexes hold live holds only, so expiry reads O(expired) rows
    # however many resolved holds the table keeps.
    (
        "CREATE INDEX orderkit_holds_live_row ON orderkit_holds"
        " (sku, location, expires_at) WHERE state = 'live'"
    ),
    (
        "CREATE INDEX orderkit_holds_live_due ON orderkit_holds"
        " (expires_at) WHERE state = 'live'"
    ),
    "CREATE INDEX orderkit_holds_owner ON orderkit_holds (owner, sku, location)",
    (
        "CREATE TABLE orderkit_movements ("
        " seq INTEGER PRIMARY KEY, key TEXT NOT NULL, idx INTEGER NOT NULL,"
        " kind TEXT NOT NULL, sku TEXT NOT NULL, location TEXT NOT NULL,"
        " on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL,"
        " allocated INTEGER NOT NULL, at INTEGER NOT NULL, reason TEXT NOT NULL,"
        " actor TEXT NOT NULL, hold_id TEXT, counted INTEGER, UNIQUE (key, idx))"
    ),
    ("CREATE TABLE orderkit_receipts (key TEXT NOT NULL UNIQUE, body TEXT NOT NULL)"),
    (
        "CREATE TABLE orderkit_policies ("
        " sku TEXT PRIMARY KEY, kind TEXT NOT NULL, quantity INTEGER NOT NULL,"
        " ends_at INTEGER) WITHOUT ROWID"
    ),
    "INSERT INTO orderkit_mark (id, high_water) VALUES (1, NULL)",
)
_HAS_META = (
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'orderkit_meta'"
)
_VERSION = "SELECT value FROM orderkit_meta WHERE name = 'schema_version'"
_SET_VERSION = "INSERT INTO orderkit_meta (name, value) VALUES ('schema_version', ?)"

_HOLD_COLUMNS = (
    "hold_id, owner, sku, location, quantity, placed_at, expires_at,"
    " state, committed, shipped, resolved_at"
)
_HOLD = f"SELECT {_HOLD_COLUMNS} FROM orderkit_holds"  # noqa: S608 - constants only
_MOVEMENT = (
    "SELECT key, idx, kind, sku, location, on_hand, reserved, allocated, at,"
    " reason, actor, hold_id, counted, seq FROM orderkit_movements"
)
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
# Everything the engine reads about one balance, in one statement: its
# figures (tag 0), its SKU's policy (1), live holds due by ?3 (2), live holds
# of the superseding owner ?4 (3), and the hold the plan writes there ?5 (4).
_ROW = (
    "SELECT 0, on_hand, reserved, allocated, safety_stock,"  # noqa: S608 - constants
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL"
    " FROM orderkit_balances WHERE sku = ?1 AND location = ?2"
    " UNION ALL SELECT 1, kind, quantity, ends_at,"
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
    " FROM orderkit_policies WHERE sku = ?1"
    f" UNION ALL SELECT 2, {_HOLD_COLUMNS} FROM orderkit_holds"
    " WHERE state = 'live' AND sku = ?1 AND location = ?2 AND expires_at <= ?3"
    f" UNION ALL SELECT 3, {_HOLD_COLUMNS} FROM orderkit_holds"
    " WHERE owner = ?4 AND sku = ?1 AND location = ?2 AND state = 'live'"
    f" UNION ALL SELECT 4, {_HOLD_COLUMNS} FROM orderkit_holds WHERE hold_id = ?5"
)
_FIGURES = (
    "SELECT on_hand, reserved, allocated, safety_stock FROM orderkit_balances"
    " WHERE sku = ? AND location = ?"
)
_SKU_KNOWN = "SELECT 1 FROM orderkit_balances WHERE sku = ? LIMIT 1"
_LOCATION_KNOWN = "SELECT 1 FROM orderkit_balances WHERE location = ? LIMIT 1"
_DUE = (
    f"{_HOLD} WHERE state = 'live' AND expires_at <= ?"
    " ORDER BY expires_at, hold_id LIMIT ?"
)
_OWNER_ON_ROW = (
    f"{_HOLD} WHERE owner = ? AND sku = ? AND location = ? AND state = 'live'"
)
_HOLD_BY_ID = f"{_HOLD} WHERE hold_id = ?"
_POLICY = "SELECT kind, quantity, ends_at FROM orderkit_policies WHERE sku = ?"
_MOVEMENTS_AFTER = f"{_MOVEMENT} WHERE seq > ? ORDER BY seq LIMIT ?"

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
_SET_SAFETY = (
    "INSERT INTO orderkit_balances"
    " (sku, location, on_hand, reserved, allocated, safety_stock)"
    " VALUES (?, ?, 0, 0, 0, ?) ON CONFLICT (sku, location) DO UPDATE SET"
    " safety_stock = excluded.safety_stock"
)
_SET_POLICY = (
    "INSERT INTO orderkit_policies (sku, kind, quantity, ends_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (sku) DO UPDATE SET kind = excluded.kind,"
    " quantity = excluded.quantity, ends_at = excluded.ends_at"
)
_DROP_POLICY = "DELETE FROM orderkit_policies WHERE sku = ?"

# Due holds count as expired at the later of the caller's time and the mark,
# whether or not a sweep has written so: one aggregate over the live index.
_BALANCES = (
    "SELECT b.sku, b.location, b.on_hand,"
    " b.reserved - coalesce(sum(h.quantity), 0), b.allocated, b.safety_stock"
    " FROM orderkit_balances AS b LEFT JOIN orderkit_holds AS h"
    " ON h.state = 'live' AND h.sku = b.sku AND h.location = b.location"
    " AND h.expires_at"
    " <= max(:now, coalesce((SELECT high_water FROM orderkit_mark), :now))"
)
_BALANCES_BY = {
    (False, False): "",
    (True, False): " WHERE b.sku = :sku",
    (False, True): " WHERE b.location = :location",
    (True, True): " WHERE b.sku = :sku AND b.location = :location",
}
_BALANCES_END = " GROUP BY b.sku, b.location ORDER BY b.sku, b.location"

_EPOCH = pendulum.DateTime(1970, 1, 1, tzinfo=pendulum.UTC)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_add = dt.datetime.__add__
_STATES = {s.value: s for s in HoldState}
_KINDS = {k.value: k for k in MovementKind}
_NO_POLICY = NoOversell()
_build_hold = _fast.builder(Hold)
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _to_us(value: pendulum.DateTime) -> int:
    """Microseconds since the epoch, exactly (fields, not a float timestamp)."""
    return (
        (value.toordinal() - _EPOCH_ORDINAL) * 86_400
        + value.hour * 3_600
        + value.minute * 60
        + value.second
    ) * 1_000_000 + value.microsecond


def _from_us(value: int) -> pendulum.DateTime:
    # The stdlib `+` keeps the pendulum subclass and its UTC tzinfo, and is
    # exact on integers; pendulum's own `+` is several times slower.
    found: pendulum.DateTime = _add(_EPOCH, dt.timedelta(microseconds=value))
    return found


def _hold(row: Sequence[Any]) -> Hold:
    resolved = row[10]
    return _build_hold(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        _from_us(row[5]),
        _from_us(row[6]),
        _STATES[row[7]],
        row[8],
        row[9],
        None if resolved is None else _from_us(resolved),
    )


def _hold_values(h: Hold) -> tuple[Any, ...]:
    resolved = h.resolved_at
    return (
        h.hold_id,
        h.owner,
        h.sku,
        h.location,
        h.quantity,
        _to_us(h.placed_at),
        _to_us(h.expires_at),
        h.state.value,
        h.committed,
        h.shipped,
        None if resolved is None else _to_us(resolved),
    )


def _movement(row: Sequence[Any]) -> Movement:
    return engine.build_movement(
        row[0],
        row[1],
        _KINDS[row[2]],
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        _from_us(row[8]),
        row[9],
        row[10],
        row[11],
        row[12],
        row[13],
    )


def _movement_values(m: Movement) -> tuple[Any, ...]:
    return (
        m.key,
        m.index,
        m.kind.value,
        m.sku,
        m.location,
        m.on_hand,
        m.reserved,
        m.allocated,
        _to_us(m.at),
        m.reason,
        m.actor,
        m.hold_id,
        m.counted,
        m.seq,
    )


def _encode_receipt(r: Receipt) -> str:
    """The receipt as compact JSON: rows in column order, times in microseconds."""
    return _ENCODER.encode(
        [
            r.key,
            _to_us(r.at),
            [_movement_values(m) for m in r.movements],
            [_hold_values(h) for h in r.holds],
            [
                (b.sku, b.location, b.on_hand, b.reserved, b.allocated, b.safety_stock)
                for b in r.balances
            ],
        ]
    )


def _decode_receipt(body: str) -> Receipt:
    key, at, movements, holds, balances = json.loads(body)
    return Receipt(
        key=key,
        at=_from_us(at),
        movements=[_movement(m) for m in movements],
        holds=[_hold(h) for h in holds],
        balances=[engine.build_balance(*b) for b in balances],
    )


def _policy(row: Sequence[Any] | None) -> StockPolicy:
    if row is None:
        return _NO_POLICY
    kind, quantity, ends_at = row
    if kind == "backorder":
        return Backorder(quantity)
    return Preorder(quantity, _from_us(ends_at))


@final
class SqliteLedgerStore:
    """A `LedgerStore` in SQLite: one file, any number of processes.

    `target` is a file path, `":memory:"`, or an open `sqlite3.Connection`
    (a backend session, such as the one a unit of work shares).

    **Transactions.** Given a path (or `":memory:"`), the store owns one
    connection in autocommit mode (`isolation_level=None`) and runs every
    write (`apply`, `apply_many`, `expire_due`, the settings) as one short
    `BEGIN IMMEDIATE` transaction, which takes SQLite's write lock up front:
    processes sharing the file apply plans one at a time and never oversell.
    Files use WAL journaling (readers never wait for the writer) with
    `synchronous=NORMAL` (a crash may lose the last commits, never corrupt),
    and wait up to `timeout` seconds for the lock. A refused plan rolls back
    and writes nothing.

    **Joined sessions.** Given a connection that is inside a transaction
    (`conn.in_transaction`), the store joins it: it neither begins nor
    commits, and its reads see the host's uncommitted writes. Each write
    runs in a `SAVEPOINT`, so a failed `apply` undoes only its own writes and
    leaves the host's intact; the error propagates and rolling back or
    committing the whole transaction stays the host's decision. Used first
    inside a host's transaction, the store creates its tables there too, so
    a host that rolls back leaves none behind. Given a connection outside a
    transaction, the store opens and commits its own, as with a path. The
    store never changes a given connection's settings (journal mode,
    timeouts) and never closes it.

    **Threads.** One connection per store (opened with
    `check_same_thread=False`) behind a lock: threads may share a store and
    take turns. Give each process its own store; never share one across
    `fork`.

    **Schema.** Tables are created on first use and carry a version in
    `orderkit_meta`, checked once per connection; a database written by a
    newer orderkit is refused. Every table is prefixed `orderkit_`. Times are
    stored as integer microseconds since the Unix epoch (UTC), exactly.

    **Errors.** Every `sqlite3.Error` becomes `StoreError("sqlite", operation,
    detail)` with the driver's error as its cause, after rolling back; so do
    values SQLite cannot hold (text with a lone surrogate, integers beyond 64
    bits). orderkit's own errors propagate unchanged, also after rolling back.

    Args:
        target: A file path, `":memory:"`, or an open connection.
        timeout: Seconds to wait for another process's write lock (paths only).

    Raises:
        StoreError: The file cannot be opened, is not a database, or holds a
            schema from a newer orderkit.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | sqlite3.Connection,
        *,
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> None:
        """Open the store on `target`, creating the schema if it has none."""
        self._lock = threading.Lock()
        self._ready = False
        if isinstance(target, sqlite3.Connection):
            self._owned = False
            self._conn = target
            self._cur = target.cursor()
            return
        self._owned = True
        try:
            self._conn = sqlite3.connect(
                target, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(_STORE, "open", str(exc)) from exc
        self._cur = self._conn.cursor()
        try:
            self._cur.execute("PRAGMA journal_mode = WAL")
            self._cur.execute("PRAGMA synchronous = NORMAL")
            self._ensure()
        except BaseException as exc:
            self._conn.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(_STORE, "open", str(exc)) from exc
            raise

    # writes

    def apply(self, plan: Plan) -> Receipt:
        """Apply `plan` all or nothing (see `orderkit.ports.LedgerStore`).

        Raises:
            StoreError: SQLite failed; nothing was written.
        """
        return self._transact(
            "apply",
            lambda cur, savepoint: engine.apply_plan(_Rows(cur, savepoint, plan), plan),
        )

    def apply_many(self, plans: Sequence[Plan]) -> list[Receipt | OrderkitError]:
        """Apply each plan on its own, all in one transaction: the batched fast path.

        Each plan succeeds or fails alone, as if applied by `apply` in turn;
        the successes commit together. A plan's key seen earlier in the same
        batch replays that receipt.

        Returns:
            One entry per plan, in order: its `Receipt`, or the
            `OrderkitError` that refused it (which wrote nothing).

        Raises:
            StoreError: SQLite failed in a way that lost the transaction, or
                could not commit it; nothing of the batch was written.

        Anything else a plan raises (a bug, not a refusal) rolls the whole
        batch back and propagates.
        """
        if not plans:
            return []

        def work(
            cur: sqlite3.Cursor, _savepoint: str | None
        ) -> list[Receipt | OrderkitError]:
            results: list[Receipt | OrderkitError] = []
            for plan in plans:
                try:
                    rows = _Rows(cur, _SAVEPOINT, plan)
                    results.append(engine.apply_plan(rows, plan))
                except OrderkitError as exc:
                    results.append(exc)
                except _FAILURES as exc:
                    if not self._conn.in_transaction:
                        raise
                    error = StoreError(_STORE, "apply_many", str(exc))
                    error.__cause__ = exc
                    results.append(error)
            return results

        return self._transact("apply_many", work)

    def expire_due(
        self, now: pendulum.DateTime, *, limit: int | None = None
    ) -> Sequence[Movement]:
        """Expire live holds due by `now` (or the store's later time), oldest first.

        Reads only the due holds, through an index of live holds by expiry.

        Raises:
            StoreError: SQLite failed; nothing was written.
        """
        now = to_utc(now, "now")
        bound = -1 if limit is None else max(limit, 0)

        def work(cur: sqlite3.Cursor, savepoint: str | None) -> list[Movement]:
            rows = _Rows(cur, savepoint, None)
            return engine.expire_due(rows, now, lambda at: rows.due(at, bound))

        return self._transact("expire_due", work)

    def set_policy(self, sku: str, policy: StockPolicy) -> None:
        """Set the SKU's stock policy for every location.

        Raises:
            StoreError: SQLite failed; nothing was written.
        """

        def work(cur: sqlite3.Cursor, _savepoint: str | None) -> None:
            if isinstance(policy, Backorder):
                cur.execute(_SET_POLICY, (sku, "backorder", policy.limit, None))
            elif isinstance(policy, Preorder):
                values = (sku, "preorder", policy.cap, _to_us(policy.ends_at))
                cur.execute(_SET_POLICY, values)
            else:
                cur.execute(_DROP_POLICY, (sku,))

        self._transact("set_policy", work)

    def set_safety_stock(self, sku: str, location: str, quantity: int) -> None:
        """Set the safety stock of one balance (created empty if new).

        Raises:
            StoreError: SQLite failed; nothing was written.
        """
        self._transact(
            "set_safety_stock",
            lambda cur, _: cur.execute(_SET_SAFETY, (sku, location, quantity)),
        )

    # reads

    def balances(
        self,
        now: pendulum.DateTime,
        *,
        sku: str | None = None,
        location: str | None = None,
    ) -> Sequence[Balance]:
        """Return balances as of `now`, due holds counted as expired, by SKU.

        Raises:
            StoreError: SQLite failed.
        """
        at = _to_us(to_utc(now, "now"))
        query = _BALANCES + _BALANCES_BY[sku is not None, location is not None]
        return self._read(
            "balances",
            lambda cur: [
                engine.build_balance(*row)
                for row in cur.execute(
                    query + _BALANCES_END, {"now": at, "sku": sku, "location": location}
                )
            ],
        )

    def hold(self, hold_id: str) -> Hold | None:
        """Return the hold as stored, or `None`.

        Raises:
            StoreError: SQLite failed.
        """

        def work(cur: sqlite3.Cursor) -> Hold | None:
            row = cur.execute(_HOLD_BY_ID, (hold_id,)).fetchone()
            return None if row is None else _hold(row)

        return self._read("hold", work)

    def holds(
        self,
        *,
        owner: str | None = None,
        sku: str | None = None,
        state: HoldState | None = None,
    ) -> Sequence[Hold]:
        """Return holds as stored, filtered, oldest first.

        Raises:
            StoreError: SQLite failed.
        """
        where = []
        values: list[str] = []
        chosen = (("owner", owner), ("sku", sku), ("state", state and state.value))
        for column, value in chosen:
            if value is not None:
                where.append(f"{column} = ?")
                values.append(value)
        query = _HOLD
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY placed_at, hold_id"
        return self._read(
            "holds", lambda cur: [_hold(row) for row in cur.execute(query, values)]
        )

    def movements(self, *, after: int = 0, limit: int = 1000) -> Sequence[Movement]:
        """Return up to `limit` movements with `seq > after`, in order.

        Raises:
            StoreError: SQLite failed.
        """
        if limit <= 0:
            return []
        return self._read(
            "movements",
            lambda cur: [
                _movement(row) for row in cur.execute(_MOVEMENTS_AFTER, (after, limit))
            ],
        )

    def policy(self, sku: str) -> StockPolicy:
        """Return the SKU's stock policy (`NoOversell()` unless one was set).

        Raises:
            StoreError: SQLite failed.
        """
        return self._read(
            "policy", lambda cur: _policy(cur.execute(_POLICY, (sku,)).fetchone())
        )

    # lifecycle

    def close(self) -> None:
        """Close the store's own connection; a given connection stays open.

        Closing twice is harmless; any other use after closing raises
        `StoreError`.
        """
        with self._lock:
            if self._owned:
                self._conn.close()
            else:
                with contextlib.suppress(sqlite3.Error):
                    self._cur.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # helpers

    def _transact(
        self, operation: str, work: Callable[[sqlite3.Cursor, str | None], T]
    ) -> T:
        """Run `work(cursor, savepoint)` in the host's transaction or a new one.

        `savepoint` names the savepoint that `work` writes in when it joins
        the host's transaction; `None` when the store began its own.
        """
        with self._lock:
            cur = self._cur
            try:
                self._ensure()
                if self._conn.in_transaction:
                    return work(cur, _SAVEPOINT)
                cur.execute("BEGIN IMMEDIATE")
                try:
                    result = work(cur, None)
                    cur.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
            except _FAILURES as exc:
                raise StoreError(_STORE, operation, str(exc)) from exc
            return result

    def _read(self, operation: str, work: Callable[[sqlite3.Cursor], T]) -> T:
        """Run `work(cursor)`: one statement, so one consistent snapshot."""
        with self._lock:
            try:
                self._ensure()
                return work(self._cur)
            except _FAILURES as exc:
                raise StoreError(_STORE, operation, str(exc)) from exc

    def _rollback(self) -> None:
        # SQLite may have rolled back already (a failed COMMIT, a full disk).
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._cur.execute("ROLLBACK")

    def _ensure(self) -> None:
        """Create or check the schema, once per connection."""
        if self._ready:
            return
        cur = self._cur
        if self._conn.in_transaction:
            # Not marked ready: the host may yet roll back what this creates.
            cur.execute("SAVEPOINT orderkit_schema")
            try:
                _prepare(cur)
            except BaseException:
                _undo(cur, "orderkit_schema")
                raise
            cur.execute("RELEASE orderkit_schema")
            return
        if _version(cur) != SCHEMA_VERSION:
            cur.execute("BEGIN IMMEDIATE")
            try:
                _prepare(cur)
                cur.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        self._ready = True


def _version(cur: sqlite3.Cursor) -> int | None:
    if not cur.execute(_HAS_META).fetchone()[0]:
        return None
    row = cur.execute(_VERSION).fetchone()
    return None if row is None else int(row[0])


def _prepare(cur: sqlite3.Cursor) -> None:
    """Create the schema if missing, inside the caller's transaction."""
    version = _version(cur)
    if version is None:
        for statement in _SCHEMA:
            cur.execute(statement)
        cur.execute(_SET_VERSION, (SCHEMA_VERSION,))
    elif version != SCHEMA_VERSION:
        newer = "newer than" if version > SCHEMA_VERSION else "unknown to"
        raise StoreError(
            _STORE,
            "open",
            f"the database's schema version {version} is {newer} this orderkit"
            f" (version {SCHEMA_VERSION})",
        )


def _undo(cur: sqlite3.Cursor, savepoint: str) -> None:
    # A failed statement may have ended the whole transaction already.
    with contextlib.suppress(sqlite3.Error):
        cur.execute(f"ROLLBACK TO {savepoint}")
        cur.execute(f"RELEASE {savepoint}")


class _Rows:
    """The engine's reads and one write, in SQL, inside the store's transaction.

    Reads change nothing, so they are cached for the plan's lifetime: the
    first read of a balance fetches all the engine will ask about it.
    Given a `savepoint` name, the write runs in that `SAVEPOINT`, so that a
    failure undoes it alone and the enclosing transaction goes on.
    """

    __slots__ = (
        "_cur",
        "_figures",
        "_holds",
        "_mark",
        "_owned",
        "_owner",
        "_placed",
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

    def receipt(self, key: str) -> Receipt | None:
        if not self._remember:
            # The caller vouches that the key is new: nothing to look up.
            self._start()
            return None
        mark, seq, body = self._cur.execute(_START, (key,)).fetchone()
        self._mark = mark
        self._seq = seq or 0
        return None if body is None else _decode_receipt(body)

    def high_water(self) -> pendulum.DateTime | None:
        self._start()
        return None if self._mark is None else _from_us(self._mark)

    def next_seq(self) -> int:
        self._start()
        return self._seq + 1

    def _start(self) -> None:
        if self._seq < 0:
            mark, seq = self._cur.execute(_MARK).fetchone()
            self._mark = mark
            self._seq = seq or 0

    def due_holds(self, row: engine.Row, at: pendulum.DateTime) -> Iterable[Hold]:
        sku, location = row
        placed = self._placed.get(row)
        values = (sku, location, _to_us(at), self._owner, placed)
        due = []
        owned: list[Hold] = []
        figures = None
        policy: StockPolicy = _NO_POLICY
        for found in self._cur.execute(_ROW, values):
            tag = found[0]
            if tag == 0:
                figures = list(found[1:5])
            elif tag == 1:
                policy = _policy(found[1:4])
            elif tag == 2:
                due.append(found)
            else:
                hold = self._holds[found[1]] = _hold(found[1:])
                if tag == 3:
                    owned.append(hold)
        self._figures[row] = figures
        self._policies[sku] = policy
        self._owned[row] = owned
        if placed is not None:
            self._holds.setdefault(placed, None)
        due.sort(key=_due_order)
        holds = [_hold(found[1:]) for found in due]
        for hold in holds:
            self._holds[hold.hold_id] = hold
        return holds

    def owner_holds(self, owner: str, row: engine.Row) -> Iterable[Hold]:
        if owner == self._owner and row in self._owned:
            return self._owned[row]
        return [_hold(r) for r in self._cur.execute(_OWNER_ON_ROW, (owner, *row))]

    def figures(self, sku: str, location: str) -> engine.Figures | None:
        row = (sku, location)
        if row in self._figures:
            return self._figures[row]
        found = self._cur.execute(_FIGURES, row).fetchone()
        return None if found is None else list(found)

    def hold(self, hold_id: str) -> Hold | None:
        if hold_id in self._holds:
            return self._holds[hold_id]
        found = self._cur.execute(_HOLD_BY_ID, (hold_id,)).fetchone()
        return None if found is None else _hold(found)

    def policy(self, sku: str) -> StockPolicy:
        if sku in self._policies:
            return self._policies[sku]
        return _policy(self._cur.execute(_POLICY, (sku,)).fetchone())

    def sku_known(self, sku: str) -> bool:
        return self._cur.execute(_SKU_KNOWN, (sku,)).fetchone() is not None

    def location_known(self, location: str) -> bool:
        return self._cur.execute(_LOCATION_KNOWN, (location,)).fetchone() is not None

    def due(self, at: pendulum.DateTime, limit: int) -> list[Hold]:
        """Every live hold due by `at`, oldest first, at most `limit` (-1: all)."""
        return [_hold(r) for r in self._cur.execute(_DUE, (_to_us(at), limit))]

    def write(
        self,
        high_water: pendulum.DateTime,
        figures: dict[engine.Row, engine.Figures],
        holds: list[Hold],
        movements: list[Movement],
        receipt: Receipt | None,
    ) -> None:
        cur = self._cur
        mark = _to_us(high_water)
        savepoint = self._savepoint
        if savepoint is not None:
            cur.execute(f"SAVEPOINT {savepoint}")
        try:
            if mark != self._mark:
                cur.execute(_SET_MARK, (mark,))
            if figures:
                cur.executemany(
                    _UPSERT_BALANCE,
                    [(s, loc, *values) for (s, loc), values in figures.items()],
                )
            if holds:
                cur.executemany(_UPSERT_HOLD, [_hold_values(h) for h in holds])
            if movements:
                cur.executemany(
                    _INSERT_MOVEMENT, [_movement_values(m) for m in movements]
                )
            if receipt is not None:
                cur.execute(_INSERT_RECEIPT, (receipt.key, _encode_receipt(receipt)))
        except BaseException:
            if savepoint is not None:
                _undo(cur, savepoint)
            raise
        if savepoint is not None:
            cur.execute(f"RELEASE {savepoint}")


def _due_order(row: Sequence[Any]) -> tuple[int, str]:
    """Due holds in the order they fell due; ties by id, as in the memory store."""
    return row[7], row[1]


# --------------------------------------------------------------------------
# Idempotency keys

# The key table has its own version row in `orderkit_meta`, beside the
# ledger's: the ledger's schema is created first (it owns `orderkit_meta`),
# so either store may open a database first.
_KEYS_SCHEMA_VERSION: Final = 1
_KEYS_SCHEMA = (
    # A rowid table: outcome bodies may be large, which WITHOUT ROWID suits badly.
    (
        "CREATE TABLE orderkit_keys ("
        " key TEXT NOT NULL UNIQUE, request_hash TEXT NOT NULL, token TEXT NOT NULL,"
        " lease_until INTEGER NOT NULL, attempt INTEGER NOT NULL,"
        " succeeded INTEGER, body BLOB, completed_at INTEGER,"
        " ended INTEGER NOT NULL)"
    ),
    # `ended`: the completion, or else the lease's end; what prune compares.
    "CREATE INDEX orderkit_keys_ended ON orderkit_keys (ended)",
)
_KEYS_VERSION = "SELECT value FROM orderkit_meta WHERE name = 'keys_schema_version'"
_SET_KEYS_VERSION = (
    "INSERT INTO orderkit_meta (name, value) VALUES ('keys_schema_version', ?)"
)
_KEYS_SAVEPOINT = "orderkit_keys_schema"
# A first claim is this one statement; only a known key reads its row.
_NEW_KEY = (
    "INSERT INTO orderkit_keys (key, request_hash, token, lease_until, attempt, ended)"
    " VALUES (?1, ?2, ?3, ?4, 1, ?4) ON CONFLICT (key) DO NOTHING"
)
_KEY_ROW = (
    "SELECT request_hash, token, lease_until, attempt, succeeded, body"
    " FROM orderkit_keys WHERE key = ?"
)
_TAKE_OVER = (
    "UPDATE orderkit_keys SET token = ?2, lease_until = ?3, attempt = attempt + 1,"
    " ended = ?3 WHERE key = ?1"
)
_COMPLETE = (
    "UPDATE orderkit_keys SET succeeded = ?3, body = ?4, completed_at = ?5,"
    " ended = ?5 WHERE key = ?1 AND token = ?2 AND succeeded IS NULL"
)
_COMPLETED = "SELECT token, succeeded, body FROM orderkit_keys WHERE key = ?"
_ABANDON = "DELETE FROM orderkit_keys WHERE key = ? AND token = ? AND succeeded IS NULL"
_PRUNE = "DELETE FROM orderkit_keys WHERE ended <= ?"


@final
class SqliteKeyStore:
    """A `KeyStore` in SQLite: one file, any number of processes.

    `target` is a file path, `":memory:"`, or an open `sqlite3.Connection`,
    exactly as for `SqliteLedgerStore`, and the two may share a file or a
    connection.

    **Transactions.** Given a path (or `":memory:"`), every call is one short
    `BEGIN IMMEDIATE` transaction on the store's own connection (autocommit
    mode, WAL, `synchronous=NORMAL`, waiting up to `timeout` seconds for the
    lock), so processes claiming one key at once are served one at a time
    and exactly one gets `Claimed`. A first claim is a single
    `INSERT ... ON CONFLICT DO NOTHING`; only a known key reads its row.

    **Joined sessions.** Given a connection inside a transaction, the store
    joins it, neither beginning nor committing: the claim, the host's
    writes and the completion then commit or roll back together, which is
    what keeps a crash between the run and `complete` from running a
    request twice. Given a connection outside a transaction, the store
    opens and commits its own. The store never changes a given connection's
    settings and never closes it.

    **Threads.** One connection per store behind a lock; give each process
    its own store.

    **Schema.** The table `orderkit_keys` is created on first use, with the
    ledger's tables (they share `orderkit_meta`, where each keeps its
    version row); a database from a newer orderkit is refused. Outcome
    bodies are BLOBs, returned byte for byte; times are integer
    microseconds since the Unix epoch (UTC).

    **Errors.** Every `sqlite3.Error` becomes `StoreError("sqlite",
    operation, detail)` with the driver's error as its cause, after rolling
    back. orderkit's own errors propagate unchanged, writing nothing.

    Args:
        target: A file path, `":memory:"`, or an open connection.
        timeout: Seconds to wait for another process's write lock (paths only).

    Raises:
        StoreError: The file cannot be opened, is not a database, or holds a
            schema from a newer orderkit.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | sqlite3.Connection,
        *,
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> None:
        """Open the store on `target`, creating the schema if it has none."""
        self._lock = threading.Lock()
        self._ready = False
        if isinstance(target, sqlite3.Connection):
            self._owned = False
            self._conn = target
            self._cur = target.cursor()
            return
        self._owned = True
        try:
            self._conn = sqlite3.connect(
                target, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(_STORE, "open", str(exc)) from exc
        self._cur = self._conn.cursor()
        try:
            self._cur.execute("PRAGMA journal_mode = WAL")
            self._cur.execute("PRAGMA synchronous = NORMAL")
            self._ensure()
        except BaseException as exc:
            self._conn.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(_STORE, "open", str(exc)) from exc
            raise

    def claim(
        self,
        key: str,
        request_hash: str,
        *,
        now: dt.datetime,
        lease: dt.timedelta,
    ) -> Claim:
        """Claim `key` (see `orderkit.ports.KeyStore`).

        Raises:
            IdempotencyConflict: The key is known with another request hash.
            StoreError: SQLite failed; nothing was written.
        """
        check_key(key)
        check_request_hash(request_hash)
        at = check_now(now)
        until = plus(at, check_duration("lease", lease))
        at_us, until_us = _to_us(at), _to_us(until)
        token = secrets.token_urlsafe(16)

        def work(cur: sqlite3.Cursor) -> Claim:
            cur.execute(_NEW_KEY, (key, request_hash, token, until_us))
            if cur.rowcount == 1:
                return Claimed(key, token, until, 1)
            stored, _, lease_until, attempt, succeeded, body = cur.execute(
                _KEY_ROW, (key,)
            ).fetchone()
            if stored != request_hash:
                raise IdempotencyConflict(key)
            if succeeded is not None:
                return Replay(key, Outcome(bool(succeeded), body))
            if at_us < lease_until:
                return InProgress(key, _from_us(lease_until))
            cur.execute(_TAKE_OVER, (key, token, until_us))
            return Claimed(key, token, until, attempt + 1)

        return self._transact("claim", work)

    def complete(
        self, key: str, token: str, outcome: Outcome, *, now: dt.datetime
    ) -> None:
        """Store the first outcome of the claim `token` holds.

        Raises:
            ConcurrencyConflict: `token` does not hold the claim (it was taken
                over, abandoned or never made), or another outcome is stored.
            StoreError: SQLite failed; nothing was written.
        """
        check_key(key)
        check_token(token)
        check_outcome(outcome)
        at_us = _to_us(check_now(now))
        values = (key, token, int(outcome.succeeded), outcome.body, at_us)

        def work(cur: sqlite3.Cursor) -> None:
            cur.execute(_COMPLETE, values)
            if cur.rowcount == 1:
                return
            row = cur.execute(_COMPLETED, (key,)).fetchone()
            if (
                row is None
                or row[0] != token
                or row[1] is None
                or Outcome(bool(row[1]), row[2]) != outcome
            ):
                raise ConcurrencyConflict(f"idempotency key:{key}")

        self._transact("complete", work)

    def abandon(self, key: str, token: str) -> bool:
        """Delete the unfinished claim `token` holds; say whether it did.

        Raises:
            StoreError: SQLite failed; nothing was written.
        """
        check_key(key)
        check_token(token)

        def work(cur: sqlite3.Cursor) -> bool:
            return cur.execute(_ABANDON, (key, token)).rowcount == 1

        return self._transact("abandon", work)

    def prune(self, now: dt.datetime, *, retention: dt.timedelta) -> int:
        """Delete keys that ended `retention` before `now`; return how many.

        Reads only the rows it deletes, through the index on `ended`.

        Raises:
            StoreError: SQLite failed; nothing was written.
        """
        cutoff = plus(check_now(now), -check_duration("retention", retention))
        cutoff_us = _to_us(cutoff)

        def work(cur: sqlite3.Cursor) -> int:
            return cur.execute(_PRUNE, (cutoff_us,)).rowcount

        return self._transact("prune", work)

    # lifecycle

    def close(self) -> None:
        """Close the store's own connection; a given connection stays open.

        Closing twice is harmless; any other use after closing raises
        `StoreError`.
        """
        with self._lock:
            if self._owned:
                self._conn.close()
            else:
                with contextlib.suppress(sqlite3.Error):
                    self._cur.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # helpers

    def _transact(self, operation: str, work: Callable[[sqlite3.Cursor], T]) -> T:
        """Run `work(cursor)` in the host's transaction, or in a new one.

        Each `work` writes with one statement, which SQLite undoes alone if
        it fails, so no savepoint is needed inside a host's transaction.
        """
        with self._lock:
            cur = self._cur
            try:
                self._ensure()
                if self._conn.in_transaction:
                    return work(cur)
                cur.execute("BEGIN IMMEDIATE")
                try:
                    result = work(cur)
                    cur.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
            except _FAILURES as exc:
                raise StoreError(_STORE, operation, str(exc)) from exc
            return result

    def _ensure(self) -> None:
        """Create or check the schema, once per connection."""
        if self._ready:
            return
        cur = self._cur
        if self._conn.in_transaction:
            # Not marked ready: the host may yet roll back what this creates.
            cur.execute(f"SAVEPOINT {_KEYS_SAVEPOINT}")
            try:
                _prepare_keys(cur)
            except BaseException:
                _undo(cur, _KEYS_SAVEPOINT)
                raise
            cur.execute(f"RELEASE {_KEYS_SAVEPOINT}")
            return
        if _keys_version(cur) != _KEYS_SCHEMA_VERSION:
            cur.execute("BEGIN IMMEDIATE")
            try:
                _prepare_keys(cur)
                cur.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        self._ready = True

    def _rollback(self) -> None:
        # SQLite may have rolled back already (a failed COMMIT, a full disk).
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._cur.execute("ROLLBACK")


def _keys_version(cur: sqlite3.Cursor) -> int | None:
    """The key table's version; `None` before both schemas are in place."""
    if _version(cur) != SCHEMA_VERSION:
        return None
    row = cur.execute(_KEYS_VERSION).fetchone()
    return None if row is None else int(row[0])


def _prepare_keys(cur: sqlite3.Cursor) -> None:
    """Create the ledger's schema and the key table if missing, in a transaction."""
    _prepare(cur)
    row = cur.execute(_KEYS_VERSION).fetchone()
    if row is None:
        for statement in _KEYS_SCHEMA:
            cur.execute(statement)
        cur.execute(_SET_KEYS_VERSION, (_KEYS_SCHEMA_VERSION,))
    elif int(row[0]) != _KEYS_SCHEMA_VERSION:
        version = int(row[0])
        newer = "newer than" if version > _KEYS_SCHEMA_VERSION else "unknown to"
        raise StoreError(
            _STORE,
            "open",
            f"the database's key schema version {version} is {newer} this"
            f" orderkit (version {_KEYS_SCHEMA_VERSION})",
        )
