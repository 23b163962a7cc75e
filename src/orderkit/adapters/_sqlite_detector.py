"""`SqliteDetectorStore`: the duplicate detector's state in SQLite."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from typing import Final, final

from orderkit.adapters._detector_rows import (
    DetectorReads,
    Recording,
    encode_matches,
    read_suspicion,
    recording,
    resolving,
)
from orderkit.adapters._micros import from_us, to_us
from orderkit.adapters._sqlite_session import (
    SessionStore,
    declare,
    in_savepoint,
    select_in,
    write_rows,
)
from orderkit.dedupe import (
    ReviewState,
    Screening,
    Sighting,
    Suspicion,
)
from orderkit.dedupe._fingerprints import Fingerprint
from orderkit.dedupe._matches import (
    check_before,
    decided_otherwise,
    group_matches,
    no_suspicion,
)


DETECTOR_SCHEMA_VERSION: Final = 1
"""The version of the detector's tables this module writes, in `orderkit_meta`."""
DETECTOR = declare(
    "detector_schema_version",
    "detector schema",
    DETECTOR_SCHEMA_VERSION,
    (
        # One row per recorded order; `seq` is the order of recording.
        (
            "CREATE TABLE orderkit_detector_orders ("
            " seq INTEGER PRIMARY KEY, channel TEXT NOT NULL,"
            " order_id TEXT NOT NULL, placed_at INTEGER NOT NULL, phone TEXT,"
            " UNIQUE (channel, order_id))"
        ),
        (
            "CREATE INDEX orderkit_detector_orders_placed_at"
            " ON orderkit_detector_orders (placed_at)"
        ),
        (
            "CREATE INDEX orderkit_detector_orders_phone"
            " ON orderkit_detector_orders (phone) WHERE phone IS NOT NULL"
        ),
        # The window query: by fingerprint, then a range of placing times,
        # answered from the primary key alone.
        (
            "CREATE TABLE orderkit_detector_fingerprints ("
            " fingerprint TEXT NOT NULL, placed_at INTEGER NOT NULL,"
            " seq INTEGER NOT NULL, PRIMARY KEY (fingerprint, placed_at, seq))"
            " WITHOUT ROWID"
        ),
        (
            "CREATE INDEX orderkit_detector_fingerprints_seq"
            " ON orderkit_detector_fingerprints (seq)"
        ),
        # The review queue; `seq` is the order of queueing.
        (
            "CREATE TABLE orderkit_detector_suspicions ("
            " seq INTEGER PRIMARY KEY, channel TEXT NOT NULL,"
            " order_id TEXT NOT NULL, placed_at INTEGER NOT NULL,"
            " matches TEXT NOT NULL, flagged_at INTEGER NOT NULL,"
            " state TEXT NOT NULL, actor TEXT, resolved_at INTEGER,"
            " UNIQUE (channel, order_id))"
        ),
        (
            "CREATE INDEX orderkit_detector_pending"
            " ON orderkit_detector_suspicions (flagged_at, seq)"
            " WHERE state = 'pending'"
        ),
    ),
)
"""The detector's tables, versioned by the `detector_schema_version` row."""

# The SQL names ReviewState.PENDING by its value, 'pending'.
_PENDING: Final = ReviewState.PENDING.value

_NEW_ORDER = (
    "INSERT INTO orderkit_detector_orders (channel, order_id, placed_at, phone)"
    " VALUES (?, ?, ?, ?) ON CONFLICT (channel, order_id) DO NOTHING"
)
# The window query of one fingerprint: an index range of its rows.
# All of an order's fingerprints (a few) in one statement: the primary key's
# range per fingerprint, as one query each would read it.
_SEEN = (
    "SELECT o.channel, o.order_id, o.placed_at, f.fingerprint"
    " FROM orderkit_detector_fingerprints AS f"
    " JOIN orderkit_detector_orders AS o ON o.seq = f.seq"
    " WHERE f.placed_at BETWEEN ? AND ? AND f.fingerprint IN ({})"
)
_NEW_FINGERPRINT = (
    "INSERT INTO orderkit_detector_fingerprints (fingerprint, placed_at, seq)"
    " VALUES (?, ?, ?)"
)
_SUSPICION_COLUMNS = (
    "channel, order_id, placed_at, matches, flagged_at, state, actor, resolved_at"
)
_NEW_SUSPICION = (
    f"INSERT INTO orderkit_detector_suspicions ({_SUSPICION_COLUMNS})"  # noqa: S608 - constants only
    " VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)"
)
_SUSPICION = (
    f"SELECT {_SUSPICION_COLUMNS} FROM orderkit_detector_suspicions"  # noqa: S608 - constants only
    " WHERE channel = ? AND order_id = ?"
)
_QUEUE = (
    f"SELECT {_SUSPICION_COLUMNS} FROM orderkit_detector_suspicions"  # noqa: S608 - constants only
    " WHERE state = 'pending' ORDER BY flagged_at, seq LIMIT ?"
)
_RESOLVE = (
    "UPDATE orderkit_detector_suspicions SET state = ?, actor = ?, resolved_at = ?"
    " WHERE channel = ? AND order_id = ? AND state = 'pending'"
)
_OF_BUYER = (
    "SELECT channel, order_id, placed_at FROM orderkit_detector_orders"
    " WHERE phone = ? ORDER BY placed_at, channel, order_id"
)
# Prune keeps every order whose suspicion is pending, whole. First the
# fingerprints of the orders that go, then their resolved suspicions; the
# orders last, once only pending suspicions are left to keep them.
_PRUNE_FINGERPRINTS = (
    "DELETE FROM orderkit_detector_fingerprints WHERE seq IN ("
    " SELECT o.seq FROM orderkit_detector_orders AS o WHERE o.placed_at < ?1"
    " AND NOT EXISTS (SELECT 1 FROM orderkit_detector_suspicions AS s"
    " WHERE s.channel = o.channel AND s.order_id = o.order_id"
    " AND s.state = 'pending'))"
)
_PRUNE_SUSPICIONS = (
    "DELETE FROM orderkit_detector_suspicions"
    " WHERE placed_at < ?1 AND state != 'pending'"
)
_PRUNE_ORDERS = (
    "DELETE FROM orderkit_detector_orders AS o WHERE o.placed_at < ?1"
    " AND NOT EXISTS (SELECT 1 FROM orderkit_detector_suspicions AS s"
    " WHERE s.channel = o.channel AND s.order_id = o.order_id)"
)


@final
class SqliteDetectorStore(SessionStore, DetectorReads):
    """A `DetectorStore` in SQLite: one file, any number of processes.

    `target` is a file path, `":memory:"`, or an open `sqlite3.Connection`,
    exactly as for `SqliteLedgerStore`, and the stores may share a file or
    a connection.

    **Transactions.** Given a path (or `":memory:"`), every call is one short
    `BEGIN IMMEDIATE` transaction on the store's own connection (autocommit
    mode, WAL, `synchronous=NORMAL`, waiting up to `timeout` seconds for the
    lock). `record` claims the order's row, looks up its matches, and
    inserts its fingerprints and any suspicion in that one transaction, so
    of two duplicates recorded at once, in two processes, the second sees
    the first.

    **Joined sessions.** Given a connection inside a transaction, the store
    joins it, neither beginning nor committing, and writes in a `SAVEPOINT`,
    so a refused call undoes only its own writes. Given a connection outside
    a transaction, the store opens and commits its own. The store never
    changes a given connection's settings and never closes it.

    **Threads.** One connection per store behind a lock; give each process
    its own store.

    **Schema.** The tables `orderkit_detector_orders`,
    `orderkit_detector_fingerprints` and `orderkit_detector_suspicions` are
    created on first use, versioned by their own row of `orderkit_meta`. A
    fingerprint's rows are keyed by (fingerprint, placed_at), so the window
    query is one index range per fingerprint. Fingerprints are stored in
    their `str()` form, which reveals no phone; the buyer index keeps
    phones in E.164. Times are integer microseconds since the Unix epoch
    (UTC).

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

    _component = DETECTOR
    _queries = (_QUEUE, _SUSPICION, _OF_BUYER)

    def record(
        self,
        sighting: Sighting,
        fingerprints: Sequence[Fingerprint],
        *,
        phone: str | None,
        window: dt.timedelta,
        now: dt.datetime,
    ) -> Screening:
        """Record an order and match it (see `orderkit.ports.DetectorStore`).

        Raises:
            ValidationError: An argument is invalid; nothing was written.
            StoreError: SQLite failed; nothing was written.
        """
        checked = recording(sighting, fingerprints, phone, window, now)

        def work(cur: sqlite3.Cursor, savepoint: str | None) -> Screening:
            return in_savepoint(
                cur,
                savepoint,
                lambda: _screen(cur, checked),
            )

        return self._session.transact("record", work)

    def resolve(
        self,
        channel: str,
        order_id: str,
        state: ReviewState,
        *,
        actor: str,
        now: dt.datetime,
    ) -> Suspicion:
        """Resolve the order's pending suspicion exactly once.

        Raises:
            ValidationError: The order has no suspicion, or an argument is
                invalid; nothing was written.
            ConcurrencyConflict: It was resolved to the other state.
            StoreError: SQLite failed; nothing was written.
        """
        key, decision, who, at_us = resolving(channel, order_id, state, actor, now)

        def work(cur: sqlite3.Cursor, _savepoint: str | None) -> Suspicion:
            # One write statement, which SQLite undoes alone if it fails.
            cur.execute(_RESOLVE, (decision.value, who, at_us, *key))
            row = cur.execute(_SUSPICION, key).fetchone()
            if row is None:
                raise no_suspicion(*key)
            suspicion = read_suspicion(row)
            if suspicion.state is not decision:
                raise decided_otherwise(*key)
            return suspicion

        return self._session.transact("resolve", work)

    def prune(self, before: dt.datetime) -> int:
        """Delete orders placed before `before`, unless pending; return how many.

        Raises:
            StoreError: SQLite failed; nothing was written.
        """
        cutoff = (to_us(check_before(before)),)

        def work(cur: sqlite3.Cursor, savepoint: str | None) -> int:
            def prune() -> int:
                cur.execute(_PRUNE_FINGERPRINTS, cutoff)
                cur.execute(_PRUNE_SUSPICIONS, cutoff)
                pruned: int = cur.execute(_PRUNE_ORDERS, cutoff).rowcount
                return pruned

            return in_savepoint(cur, savepoint, prune)

        return self._session.transact("prune", work)


def _screen(cur: sqlite3.Cursor, checked: Recording) -> Screening:
    """Claim the order's row, match it, and store its fingerprints and suspicion.

    An order recorded before gets its first screening back, and nothing is
    written.
    """
    seen, texts, phone, bounds, flagged_at = checked
    key = (seen.channel, seen.order_id)
    placed_us = to_us(seen.placed_at)
    cur.execute(_NEW_ORDER, (*key, placed_us, phone))
    if cur.rowcount != 1:
        row = cur.execute(_SUSPICION, key).fetchone()
        stored = None if row is None else read_suspicion(row)
        return Screening(*key, () if stored is None else stored.matches, stored)
    seq = cur.lastrowid
    # Its own fingerprints are not stored yet: the order cannot match itself.
    # One query for them all; group_matches orders what it finds itself.
    rows = select_in(cur, _SEEN, texts, bounds)
    matches = (
        group_matches(
            (channel, order_id, from_us(at), text)
            for channel, order_id, at, text in rows
        )
        if rows
        else ()
    )
    # In the caller's savepoint or transaction, which undoes it with the rest.
    write_rows(cur, None, _NEW_FINGERPRINT, [(text, placed_us, seq) for text in texts])
    if not matches:
        return Screening(*key, (), None)
    suspicion = Suspicion(*key, seen.placed_at, matches, flagged_at)
    cur.execute(
        _NEW_SUSPICION,
        (
            *key,
            placed_us,
            encode_matches(matches),
            to_us(flagged_at),
            _PENDING,
        ),
    )
    return Screening(*key, matches, suspicion)
