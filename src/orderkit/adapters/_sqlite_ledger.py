"""`SqliteLedgerStore`: the ledger in one SQLite file, shared by several processes.

The algorithm is the shared engine's; the engine reads and writes through
`SqliteRows`, and this module adds the store's own reads and settings.
"""

from __future__ import annotations

import heapq
import itertools
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, final

import pendulum

from orderkit._time import to_utc
from orderkit.adapters import _ledger_engine as engine
from orderkit.adapters._ledger_rows import (
    decode_receipt,
    due_query,
    holds_query,
    read_hold,
    read_movement,
    read_policy,
    wanted_skus,
)
from orderkit.adapters._micros import from_us, to_us
from orderkit.adapters._sqlite_ledger_rows import _ROWS_CHUNK, SqliteRows
from orderkit.adapters._sqlite_ledger_tables import (
    HOLD_BY_ID,
    LEDGER,
    MOVEMENT,
    POLICY,
)
from orderkit.adapters._sqlite_session import (
    FAILURES,
    WRITE_SAVEPOINT,
    SessionStore,
    store_error,
)
from orderkit.errors import OrderkitError
from orderkit.inventory import (
    Backorder,
    Balance,
    Hold,
    HoldState,
    Movement,
    Plan,
    Preorder,
    Receipt,
    StockPolicy,
)


_MOVEMENTS_AFTER = f"{MOVEMENT} WHERE seq > ? ORDER BY seq LIMIT ?"
# A balance's movements, through the index by (sku, location, seq). A
# location's alone (of every SKU) are found along the log: the index leads
# with the SKU.
_MOVEMENTS_OF_ROW = (
    f"{MOVEMENT} WHERE sku = ? AND location = ? AND seq > ? AND seq <= ?"
    " ORDER BY seq LIMIT ?"
)
_MOVEMENTS_OF_BOTH = (
    f"{MOVEMENT} WHERE sku = ? AND location = ? AND seq > ? ORDER BY seq LIMIT ?"
)
_MOVEMENTS_AT = f"{MOVEMENT} WHERE location = ? AND seq > ? ORDER BY seq LIMIT ?"
# The locations of a SKU's movements, one index probe each (a skip scan),
# with the last seq of the same snapshot: seqs are given in commit order,
# so the movements up to it are exactly those of the locations found.
_LOCATIONS_OF = (
    "WITH RECURSIVE at (location) AS ("
    " SELECT min(location) FROM orderkit_movements WHERE sku = ?1"
    " UNION ALL SELECT (SELECT min(m.location) FROM orderkit_movements AS m"
    " WHERE m.sku = ?1 AND m.location > at.location) FROM at"
    " WHERE at.location IS NOT NULL)"
    " SELECT location, (SELECT max(seq) FROM orderkit_movements) FROM at"
    " WHERE location IS NOT NULL"
)
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
# whether or not a sweep has written so: one sum per balance over the live
# index, with no grouping (a balance is one row).
_BALANCES = (
    "SELECT b.sku, b.location, b.on_hand,"
    " b.reserved - coalesce((SELECT sum(h.quantity) FROM orderkit_holds AS h"
    " WHERE h.state = 'live' AND h.sku = b.sku AND h.location = b.location"
    " AND h.expires_at"
    " <= max(:now, coalesce((SELECT high_water FROM orderkit_mark), :now))), 0),"
    " b.allocated, b.safety_stock FROM orderkit_balances AS b"
)
_BALANCES_BY = {
    (False, False): "",
    (True, False): " WHERE b.sku = :sku",
    (False, True): " WHERE b.location = :location",
    (True, True): " WHERE b.sku = :sku AND b.location = :location",
}
_BALANCES_END = " ORDER BY b.sku, b.location"
_DUE_HOLDS = due_query("?")
# A statement per count of SKUs, up to a chunk of the rows' reads: few
# shapes for the statement cache, and cheaper than one statement over a
# JSON array or a statement per SKU.
_BALANCES_OF = {
    n: _BALANCES
    + f" WHERE b.sku IN ({', '.join(f':sku{i}' for i in range(n))})"
    + _BALANCES_END
    for n in range(1, _ROWS_CHUNK + 1)
}
# Whole, once: routing and every stock change read balances.
_BALANCES_QUERY = {
    given: _BALANCES + where + _BALANCES_END for given, where in _BALANCES_BY.items()
}


@final
class SqliteLedgerStore(SessionStore):
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
    `orderkit_meta` (a row of the ledger's own, beside the key store's),
    checked once per connection; a database written by a newer orderkit is
    refused. Every table is prefixed `orderkit_`. Times are
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

    _component = LEDGER

    # writes

    def apply(self, plan: Plan) -> Receipt:
        """Apply `plan` all or nothing (see `orderkit.ports.LedgerStore`).

        Raises:
            StoreError: SQLite failed; nothing was written.
        """
        return self._session.transact(
            "apply",
            lambda cur, savepoint: engine.apply_plan(
                SqliteRows(cur, savepoint, plan), plan
            ),
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
        session = self._session

        def work(
            cur: sqlite3.Cursor, _savepoint: str | None
        ) -> list[Receipt | OrderkitError]:
            results: list[Receipt | OrderkitError] = []
            for plan in plans:
                try:
                    rows = SqliteRows(cur, WRITE_SAVEPOINT, plan)
                    results.append(engine.apply_plan(rows, plan))
                except OrderkitError as exc:
                    results.append(exc)
                except FAILURES as exc:
                    if not session.conn.in_transaction:
                        raise
                    results.append(store_error("apply_many", exc))
            return results

        return self._session.transact("apply_many", work)

    def expire_due(
        self, now: pendulum.DateTime, *, limit: int | None = None
    ) -> Sequence[Movement]:
        """Expire live holds due by `now`, oldest first, at the store's time.

        Reads only the due holds, through an index of live holds by expiry.

        Raises:
            StoreError: SQLite failed; nothing was written.
        """
        now = to_utc(now, "now")
        bound = -1 if limit is None else max(limit, 0)

        def work(cur: sqlite3.Cursor, savepoint: str | None) -> list[Movement]:
            rows = SqliteRows(cur, savepoint, None)
            return engine.expire_due(rows, now, lambda at: rows.due(at, bound))

        return self._session.transact("expire_due", work)

    def set_policy(self, sku: str, policy: StockPolicy) -> None:
        """Set the SKU's stock policy for every location.

        Raises:
            StoreError: SQLite failed; nothing was written.
        """

        def work(cur: sqlite3.Cursor, _savepoint: str | None) -> None:
            if isinstance(policy, Backorder):
                cur.execute(_SET_POLICY, (sku, "backorder", policy.limit, None))
            elif isinstance(policy, Preorder):
                values = (sku, "preorder", policy.cap, to_us(policy.ends_at))
                cur.execute(_SET_POLICY, values)
            else:
                cur.execute(_DROP_POLICY, (sku,))

        self._session.transact("set_policy", work)

    def set_safety_stock(self, sku: str, location: str, quantity: int) -> None:
        """Set the safety stock of one balance (created empty if new).

        Raises:
            StoreError: SQLite failed; nothing was written.
        """
        self._session.transact(
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
        at = to_us(to_utc(now, "now"))
        query = _BALANCES_QUERY[sku is not None, location is not None]
        return self._session.read(
            "balances",
            lambda cur: [
                engine.build_balance(*row)
                for row in cur.execute(
                    query, {"now": at, "sku": sku, "location": location}
                )
            ],
        )

    def balances_of(
        self, now: pendulum.DateTime, skus: Iterable[str]
    ) -> Sequence[Balance]:
        """Return the balances of every SKU in `skus` as of `now`, in one read.

        The optional `balances_of` of the `LedgerStore` port: what
        `balances(now, sku=...)` returns for each SKU, by SKU then location.

        Raises:
            ValidationError: `skus` is not a sequence of text.
            StoreError: SQLite failed.
        """
        at = to_us(to_utc(now, "now"))
        wanted = wanted_skus(skus)

        def work(cur: sqlite3.Cursor) -> list[Balance]:
            found = []
            for start in range(0, len(wanted), _ROWS_CHUNK):
                chunk = wanted[start : start + _ROWS_CHUNK]
                values: dict[str, object] = {f"sku{i}": s for i, s in enumerate(chunk)}
                values["now"] = at
                rows = cur.execute(_BALANCES_OF[len(chunk)], values)
                found += [engine.build_balance(*row) for row in rows]
            return found

        return self._session.read("balances_of", work)

    def due_holds(self, at: pendulum.DateTime) -> Sequence[Hold]:
        """Return the live holds due by `at`, soonest due first.

        The optional `due_holds` of the `LedgerStore` port: what a sweep at
        `at` expires, read through the index of live holds by expiry.

        Raises:
            StoreError: SQLite failed.
        """
        values = (to_us(to_utc(at, "at")),)
        return self._session.read(
            "due_holds",
            lambda cur: [read_hold(row) for row in cur.execute(_DUE_HOLDS, values)],
        )

    def high_water(self) -> pendulum.DateTime | None:
        """The latest time this store has worked at, `None` before a write.

        The optional `high_water` of the `LedgerStore` port.

        Raises:
            StoreError: SQLite failed.
        """

        def work(cur: sqlite3.Cursor) -> pendulum.DateTime | None:
            row = cur.execute("SELECT high_water FROM orderkit_mark").fetchone()
            return None if row is None or row[0] is None else from_us(row[0])

        return self._session.read("high_water", work)

    def receipt(self, key: str) -> Receipt | None:
        """Return the first receipt of `key`, marked replayed, or `None`.

        Raises:
            StoreError: SQLite failed.
        """

        def work(cur: sqlite3.Cursor) -> Receipt | None:
            row = cur.execute(
                "SELECT body FROM orderkit_receipts WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            return engine.copy_receipt(decode_receipt(row[0]), replayed=True)

        return self._session.read("receipt", work)

    def hold(self, hold_id: str) -> Hold | None:
        """Return the hold as stored, or `None`.

        Raises:
            StoreError: SQLite failed.
        """

        def work(cur: sqlite3.Cursor) -> Hold | None:
            row = cur.execute(HOLD_BY_ID, (hold_id,)).fetchone()
            return None if row is None else read_hold(row)

        return self._session.read("hold", work)

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
        query, values = holds_query("?", owner, sku, state)
        return self._session.read(
            "holds", lambda cur: [read_hold(row) for row in cur.execute(query, values)]
        )

    def movements(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        sku: str | None = None,
        location: str | None = None,
    ) -> Sequence[Movement]:
        """Return up to `limit` movements with `seq > after`, filtered, in order.

        One balance's movements (`sku` and `location`) are read through the
        index by (sku, location, seq); a SKU's, through it once per
        location, merged; a location's alone, along the log.

        Raises:
            StoreError: SQLite failed.
        """
        if limit <= 0:
            return []
        query: str
        values: tuple[object, ...]
        if sku is None:
            query, values = (
                (_MOVEMENTS_AFTER, (after, limit))
                if location is None
                else (_MOVEMENTS_AT, (location, after, limit))
            )
        elif location is not None:
            query, values = _MOVEMENTS_OF_BOTH, (sku, location, after, limit)
        else:
            return self._session.read(
                "movements", lambda cur: _sku_movements(cur, sku, after, limit)
            )
        return self._session.read(
            "movements",
            lambda cur: [read_movement(row) for row in cur.execute(query, values)],
        )

    def policy(self, sku: str) -> StockPolicy:
        """Return the SKU's stock policy (`NoOversell()` unless one was set).

        Raises:
            StoreError: SQLite failed.
        """
        return self._session.read(
            "policy", lambda cur: read_policy(cur.execute(POLICY, (sku,)).fetchone())
        )


def _sku_movements(
    cur: sqlite3.Cursor, sku: str, after: int, limit: int
) -> list[Movement]:
    """Up to `limit` of `sku`'s movements after `after`: each location's, merged.

    Each location's run is read lazily, so a page reads about `limit` rows
    however long the history, and however many locations.
    """
    found = cur.execute(_LOCATIONS_OF, (sku,)).fetchall()
    if len(found) == 1:
        ((location, last),) = found
        values = (sku, location, after, last, limit)
        return [read_movement(row) for row in cur.execute(_MOVEMENTS_OF_ROW, values)]
    runs = [cur.connection.cursor() for _ in found]
    try:
        for run, (location, last) in zip(runs, found, strict=True):
            run.execute(_MOVEMENTS_OF_ROW, (sku, location, after, last, limit))
        merged = heapq.merge(*runs, key=_seq)
        return [read_movement(row) for row in itertools.islice(merged, limit)]
    finally:
        for run in runs:
            run.close()


def _seq(row: Sequence[Any]) -> int:
    """A movement row's seq, its last column."""
    seq: int = row[-1]
    return seq
