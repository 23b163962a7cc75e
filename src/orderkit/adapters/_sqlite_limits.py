"""`SqliteLimitStore`: purchase-limit counts in SQLite, alone or beside the ledger."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from typing import Final, final

from orderkit._time import before_or_first
from orderkit.adapters._micros import to_us
from orderkit.adapters._sqlite_session import (
    SessionStore,
    declare,
    in_savepoint,
    write_rows,
)
from orderkit.pricing import Exceeded, Granted, LimitDecision, LimitKey, Overage
from orderkit.pricing._limits import check_instant, check_keys, check_use_id, uses_of


LIMITS_SCHEMA_VERSION: Final = 2
"""The version of the limit tables this module writes, kept in `orderkit_meta`.

Version 2 gave each use its weight (`LimitKey.weight`); uses of a version 1
file weigh 1, as every use did.
"""
_WINDOW_INDEX: Final = (
    "CREATE INDEX orderkit_limit_uses_window"
    " ON orderkit_limit_uses (key, at, member, weight)"
)
LIMITS = declare(
    "limits_schema_version",
    "limit schema",
    LIMITS_SCHEMA_VERSION,
    (
        (
            "CREATE TABLE orderkit_limit_uses ("
            " key TEXT NOT NULL, at INTEGER NOT NULL, member TEXT,"
            " weight INTEGER NOT NULL DEFAULT 1)"
        ),
        # The window count: one index range per key, answered from the index.
        _WINDOW_INDEX,
        "CREATE INDEX orderkit_limit_uses_at ON orderkit_limit_uses (at)",
        (
            "CREATE TABLE orderkit_limit_use_ids ("
            " use_id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID"
        ),
        "CREATE INDEX orderkit_limit_use_ids_at ON orderkit_limit_use_ids (at)",
    ),
    upgrades=(
        # 1 -> 2: the uses' weights, 1 for those already kept, and the
        # window index carrying them, so that a count still reads it alone.
        (
            (
                "ALTER TABLE orderkit_limit_uses"
                " ADD COLUMN weight INTEGER NOT NULL DEFAULT 1"
            ),
            "DROP INDEX orderkit_limit_uses_window",
            _WINDOW_INDEX,
        ),
    ),
)
"""The limit tables, versioned by the `limits_schema_version` row."""

# Uses without a member count their weight each; members count once each.
_COUNT = (
    "SELECT coalesce(sum(weight) FILTER (WHERE member IS NULL), 0)"
    " + count(DISTINCT member),"
    " coalesce(max(member = ?3), 0)"
    " FROM orderkit_limit_uses WHERE key = ?1 AND at > ?2"
)
# The first key's count, and whether the use id was recorded: one statement.
_COUNT_USED = (
    "SELECT coalesce(sum(weight) FILTER (WHERE member IS NULL), 0)"
    " + count(DISTINCT member),"
    " coalesce(max(member = ?3), 0),"
    " EXISTS (SELECT 1 FROM orderkit_limit_use_ids WHERE use_id = ?4)"
    " FROM orderkit_limit_uses WHERE key = ?1 AND at > ?2"
)
_USED = "SELECT 1 FROM orderkit_limit_use_ids WHERE use_id = ?"
_NEW_USE = (
    "INSERT INTO orderkit_limit_uses (key, at, member, weight) VALUES (?, ?, ?, ?)"
)
_NEW_USE_ID = "INSERT INTO orderkit_limit_use_ids (use_id, at) VALUES (?, ?)"
_PRUNE_USES = "DELETE FROM orderkit_limit_uses WHERE at < ?"
_PRUNE_USE_IDS = "DELETE FROM orderkit_limit_use_ids WHERE at < ?"


@final
class SqliteLimitStore(SessionStore):
    """A `LimitStore` in SQLite: one file, any number of processes.

    `target` is a file path, `":memory:"`, or an open `sqlite3.Connection`,
    exactly as for `SqliteLedgerStore`, and the stores may share a file or
    a connection.

    **Transactions.** Given a path (or `":memory:"`), every `consume` is one
    short `BEGIN IMMEDIATE` transaction on the store's own connection
    (autocommit mode, WAL, `synchronous=NORMAL`, waiting up to `timeout`
    seconds for the lock): the counts are read and the uses written under
    the write lock, so racing processes are served one at a time and a
    limit holds exactly. Each key's count is one range of the index on
    `(key, at, member, weight)`.

    **Joined sessions.** Given a connection inside a transaction, the store
    joins it, neither beginning nor committing, and writes in a `SAVEPOINT`,
    so a failed call undoes only its own writes, and a host rolling back
    forgets the uses with its order. Given a connection outside a
    transaction, the store opens and commits its own. The store never
    changes a given connection's settings and never closes it.

    **Threads.** One connection per store behind a lock; give each process
    its own store.

    **Schema.** The tables `orderkit_limit_uses` and `orderkit_limit_use_ids`
    are created on first use, versioned by their own row of `orderkit_meta`;
    a file of an earlier version is upgraded when opened (version 1's uses
    weigh 1). Times are integer microseconds since the Unix epoch (UTC).

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

    _component = LIMITS

    def consume(
        self,
        keys: Sequence[LimitKey],
        *,
        now: dt.datetime,
        use_id: str | None = None,
    ) -> LimitDecision:
        """Check every key and record one use of each, with its weight, or none.

        See `orderkit.ports.LimitStore`.

        Raises:
            ValidationError: Bad keys or use id; nothing was recorded.
            NaiveDatetime: `now` is naive.
            StoreError: SQLite failed; nothing was recorded.
        """
        checked = check_keys(keys)
        use = check_use_id(use_id)
        at = check_instant("now", now)
        at_us = to_us(at)
        bounds = [
            (key.key, to_us(before_or_first(at, key.window)), key.member)
            for key in checked
        ]
        rows = [(name, at_us, member, w) for name, member, w in uses_of(checked)]

        def work(cur: sqlite3.Cursor, savepoint: str | None) -> LimitDecision:
            over = []
            for i, (key, values) in enumerate(zip(checked, bounds, strict=True)):
                if i or use is None:
                    count, known = cur.execute(_COUNT, values).fetchone()
                else:
                    count, known, used = cur.execute(
                        _COUNT_USED, (*values, use)
                    ).fetchone()
                    if used:
                        return Granted(replayed=True)
                if not known and count + key.weight > key.limit:
                    over.append(Overage(key, count))
            if over:
                return Exceeded(tuple(over))

            return in_savepoint(cur, savepoint, lambda: _add(cur, rows, use, at_us))

        return self._session.transact("consume", work)

    def record(
        self,
        keys: Sequence[LimitKey],
        *,
        now: dt.datetime,
        use_id: str | None = None,
    ) -> Granted:
        """Record one use of each key, with its weight, unchecked, once per use id.

        See `orderkit.ports.LimitStore`.

        Raises:
            ValidationError: Bad keys or use id; nothing was recorded.
            NaiveDatetime: `now` is naive.
            StoreError: SQLite failed; nothing was recorded.
        """
        checked = check_keys(keys)
        use = check_use_id(use_id)
        at_us = to_us(check_instant("now", now))
        rows = [(name, at_us, member, w) for name, member, w in uses_of(checked)]

        def work(cur: sqlite3.Cursor, savepoint: str | None) -> Granted:
            if use is not None and cur.execute(_USED, (use,)).fetchone():
                return Granted(replayed=True)
            return in_savepoint(cur, savepoint, lambda: _add(cur, rows, use, at_us))

        return self._session.transact("record", work)

    def prune(self, before: dt.datetime) -> int:
        """Delete uses (and use ids) recorded before `before`; return how many.

        Reads only the rows it deletes, through the indexes on `at`.

        Raises:
            NaiveDatetime: `before` is naive.
            StoreError: SQLite failed; nothing was deleted.
        """
        cutoff = (to_us(check_instant("before", before)),)

        def work(cur: sqlite3.Cursor, savepoint: str | None) -> int:

            def prune() -> int:
                pruned: int = cur.execute(_PRUNE_USES, cutoff).rowcount
                cur.execute(_PRUNE_USE_IDS, cutoff)
                return pruned

            return in_savepoint(cur, savepoint, prune)

        return self._session.transact("prune", work)


def _add(
    cur: sqlite3.Cursor,
    rows: list[tuple[str, int, str | None, int]],
    use: str | None,
    at_us: int,
) -> Granted:
    """Write the uses, and the use id; the caller's savepoint undoes both."""
    write_rows(cur, None, _NEW_USE, rows)
    if use is not None:
        cur.execute(_NEW_USE_ID, (use, at_us))
    return Granted()
