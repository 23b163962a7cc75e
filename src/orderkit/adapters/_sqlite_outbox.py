"""`SqliteOutbox` and `SqliteInbox`: the outbox, and its consumers' inbox."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from typing import Final, final

from orderkit.adapters._memory_outbox import (
    check_before,
    check_claim,
    check_limit,
    check_mark,
    check_messages,
    check_seen,
    new_messages,
)
from orderkit.adapters._micros import from_us, to_us
from orderkit.adapters._sqlite_session import (
    SessionStore,
    declare,
    in_savepoint,
    insert_new,
    select_in,
    write_rows,
)
from orderkit.orders._messages import OutboxMessage


OUTBOX_SCHEMA_VERSION: Final = 1
"""The version of the outbox tables this module writes, kept in `orderkit_meta`."""
OUTBOX = declare(
    "outbox_schema_version",
    "outbox schema",
    OUTBOX_SCHEMA_VERSION,
    (
        # `seq` is the rowid: a new message always sorts after every stored one.
        (
            "CREATE TABLE orderkit_outbox ("
            " seq INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE,"
            " stream TEXT NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,"
            " created_at INTEGER NOT NULL, relay TEXT, leased_until INTEGER,"
            " sent_at INTEGER)"
        ),
        # The queue, oldest first, without walking the sent messages.
        (
            "CREATE INDEX orderkit_outbox_queue ON orderkit_outbox (seq)"
            " WHERE sent_at IS NULL"
        ),
        # A stream's unsent messages, to find a live lease before a message.
        (
            "CREATE INDEX orderkit_outbox_streams"
            " ON orderkit_outbox (stream, seq, leased_until) WHERE sent_at IS NULL"
        ),
        (
            "CREATE INDEX orderkit_outbox_sent ON orderkit_outbox (sent_at)"
            " WHERE sent_at IS NOT NULL"
        ),
    ),
)
"""The outbox table, versioned by the `outbox_schema_version` row."""
INBOX_SCHEMA_VERSION: Final = 1
"""The version of the inbox table this module writes, kept in `orderkit_meta`."""
INBOX = declare(
    "inbox_schema_version",
    "inbox schema",
    INBOX_SCHEMA_VERSION,
    (
        (
            "CREATE TABLE orderkit_inbox ("
            " consumer TEXT NOT NULL, message_id TEXT NOT NULL, at INTEGER NOT NULL,"
            " PRIMARY KEY (consumer, message_id)) WITHOUT ROWID"
        ),
        "CREATE INDEX orderkit_inbox_at ON orderkit_inbox (at)",
    ),
)
"""The inbox table, versioned by the `inbox_schema_version` row."""

_STORED = (
    "SELECT message_id, stream, topic, payload, created_at"
    " FROM orderkit_outbox WHERE message_id IN ({})"
)
_ADD = (
    "INSERT INTO orderkit_outbox (message_id, stream, topic, payload, created_at)"
    " VALUES (?, ?, ?, ?, ?)"
)
# A message is claimable unless it, or an earlier unsent message of its
# stream, is under a live lease: a stream goes to one relay at a time.
_CLAIMABLE = (
    "SELECT seq, message_id, stream, topic, payload, created_at"
    " FROM orderkit_outbox AS m"
    " WHERE sent_at IS NULL AND NOT EXISTS ("
    "  SELECT 1 FROM orderkit_outbox AS e"
    "  WHERE e.stream = m.stream AND e.sent_at IS NULL AND e.seq <= m.seq"
    "  AND e.leased_until > ?1)"
    " ORDER BY seq LIMIT ?2"
)
_LEASE = "UPDATE orderkit_outbox SET relay = ?, leased_until = ? WHERE seq = ?"
_MARK = (
    "UPDATE orderkit_outbox SET sent_at = ?"
    " WHERE message_id = ? AND relay = ? AND sent_at IS NULL"
)
_UNSENT = (
    "SELECT message_id, stream, topic, payload, created_at FROM orderkit_outbox"
    " WHERE sent_at IS NULL ORDER BY seq LIMIT ?"
)
_PRUNE = "DELETE FROM orderkit_outbox WHERE sent_at IS NOT NULL AND sent_at < ?"
_SEEN = (
    "INSERT INTO orderkit_inbox (consumer, message_id, at) VALUES (?, ?, ?)"
    " ON CONFLICT (consumer, message_id) DO NOTHING"
)
_FORGET = "DELETE FROM orderkit_inbox WHERE at < ?"


def _message(row: Sequence[object]) -> OutboxMessage:
    message_id, stream, topic, payload, created_at = row
    return OutboxMessage(
        message_id=str(message_id),
        stream=str(stream),
        topic=str(topic),
        payload=bytes(payload),  # type: ignore[call-overload]
        created_at=from_us(int(created_at)),  # type: ignore[call-overload]
    )


def _row(m: OutboxMessage) -> tuple[object, ...]:
    return (m.message_id, m.stream, m.topic, m.payload, to_us(m.created_at))


@final
class SqliteOutbox(SessionStore):
    """An `Outbox` in SQLite: one file, any number of processes and relays.

    `target` is a file path, `":memory:"`, or an open `sqlite3.Connection`,
    exactly as for `SqliteLedgerStore`, and the stores may share a file or
    a connection: add messages through a `SqliteUnitOfWork`'s outbox, so
    they commit with the change they report.

    **Transactions.** Given a path (or `":memory:"`), every call is one
    short `BEGIN IMMEDIATE` transaction on the store's own connection
    (autocommit mode, WAL, `synchronous=NORMAL`, waiting up to `timeout`
    seconds for the lock): a claim reads and leases its messages under the
    write lock, so racing relays, in any process, never share a message
    while its lease lives. The queue and each stream's unsent messages are
    read through partial indexes: sent messages cost nothing until pruned.

    **Joined sessions.** Given a connection inside a transaction, the store
    joins it, neither beginning nor committing, and writes all or nothing:
    in one statement, or in a `SAVEPOINT` around several. Given a
    connection outside a transaction, the store opens and commits its own.
    The store never changes a given connection's settings and never closes
    it.

    **Threads.** One connection per store behind a lock; give each process
    its own store.

    **Schema.** The table `orderkit_outbox` is created on first use,
    versioned by its own row of `orderkit_meta`. Times are integer
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

    _component = OUTBOX

    def commits_alone(self) -> bool:
        """Whether `add` now commits on its own, in no transaction it shares.

        True for an outbox on a path (a standalone outbox), or on a
        connection outside a transaction; false inside a unit of work's or
        a host's transaction, where messages commit with the change they
        report. A `Ledger` given an outbox that commits alone reads a
        `sellable` figure again after telling it, and tells it again if a
        change of another process moved it meanwhile.
        """
        return not self._session.conn.in_transaction

    def add(self, messages: Sequence[OutboxMessage]) -> None:
        """Store the messages in order, skipping those stored; all or nothing.

        See `orderkit.ports.Outbox`.

        Raises:
            ValidationError: Bad messages; nothing was stored.
            ConcurrencyConflict: A message differs from the one stored under
                its id; nothing was stored.
            StoreError: SQLite failed; nothing was stored.
        """
        checked = check_messages(messages)
        ids = [message.message_id for message in checked]

        def work(cur: sqlite3.Cursor, savepoint: str | None) -> None:
            # Distinct ids, none stored yet: the usual case, one statement.
            fresh = len(set(ids)) == len(ids)
            if fresh and insert_new(cur, _ADD, [_row(m) for m in checked]):
                return
            stored = {row[0]: _message(row) for row in select_in(cur, _STORED, ids)}
            rows = [_row(m) for m in new_messages(checked, stored)]
            write_rows(cur, savepoint, _ADD, rows)

        self._session.transact("add", work)

    def claim(
        self, *, relay: str, now: dt.datetime, lease: dt.timedelta, limit: int = 100
    ) -> Sequence[OutboxMessage]:
        """Lease up to `limit` claimable messages to `relay`, oldest first.

        See `orderkit.ports.Outbox`.

        Raises:
            ValidationError: Bad relay, lease or limit.
            NaiveDatetime: `now` is naive.
            StoreError: SQLite failed; nothing was leased.
        """
        name, at, until, most = check_claim(relay, now, lease, limit)
        until_us = to_us(until)

        def work(cur: sqlite3.Cursor, savepoint: str | None) -> Sequence[OutboxMessage]:
            rows = cur.execute(_CLAIMABLE, (to_us(at), most)).fetchall()
            leases = [(name, until_us, row[0]) for row in rows]
            if leases:
                in_savepoint(cur, savepoint, lambda: cur.executemany(_LEASE, leases))
            return [_message(row[1:]) for row in rows]

        return self._session.transact("claim", work)

    def mark_sent(
        self, message_ids: Sequence[str], *, relay: str, now: dt.datetime
    ) -> int:
        """Mark sent the messages `relay` holds; return how many were marked.

        See `orderkit.ports.Outbox`.

        Raises:
            ValidationError: Bad ids or relay.
            NaiveDatetime: `now` is naive.
            StoreError: SQLite failed; nothing was marked.
        """
        ids, name, at = check_mark(message_ids, relay, now)
        rows = [(to_us(at), message_id, name) for message_id in ids]

        def work(cur: sqlite3.Cursor, savepoint: str | None) -> int:

            def mark() -> int:
                marked: int = cur.executemany(_MARK, rows).rowcount
                return marked

            return in_savepoint(cur, savepoint, mark) if rows else 0

        return self._session.transact("mark_sent", work)

    def unsent(self, *, limit: int = 1000) -> Sequence[OutboxMessage]:
        """Return up to `limit` unsent messages, oldest first.

        Raises:
            InvalidQuantity: `limit` is not a positive integer.
            StoreError: SQLite failed.
        """
        most = (check_limit(limit),)
        rows = self._session.read(
            "unsent", lambda cur: cur.execute(_UNSENT, most).fetchall()
        )
        return [_message(row) for row in rows]

    def prune(self, before: dt.datetime) -> int:
        """Delete the messages sent before `before`; return how many.

        Raises:
            NaiveDatetime: `before` is naive.
            StoreError: SQLite failed; nothing was deleted.
        """
        cutoff = (to_us(check_before(before)),)

        def work(cur: sqlite3.Cursor, savepoint: str | None) -> int:

            def prune() -> int:
                pruned: int = cur.execute(_PRUNE, cutoff).rowcount
                return pruned

            return in_savepoint(cur, savepoint, prune)

        return self._session.transact("prune", work)


@final
class SqliteInbox(SessionStore):
    """An `Inbox` in SQLite, alone or beside the other stores.

    `target` and `timeout` are as for `SqliteOutbox`, and so are
    transactions, joined sessions, threads and errors. Ask `seen` on a
    `SqliteUnitOfWork`'s inbox, so the delivery is recorded with the
    consumer's own writes, or not at all. Each `seen` is one conditional
    insert: of racers delivering one message, exactly one inserts.

    **Schema.** The table `orderkit_inbox` is created on first use,
    versioned by its own row of `orderkit_meta`.

    Args:
        target: A file path, `":memory:"`, or an open connection.
        timeout: Seconds to wait for another process's write lock (paths only).

    Raises:
        StoreError: The file cannot be opened, is not a database, or holds a
            schema from a newer orderkit.

    .. versionadded:: 0.1.0
    """

    _component = INBOX

    def seen(self, consumer: str, message_id: str, *, now: dt.datetime) -> bool:
        """Say whether `consumer` had the message; record it if not.

        See `orderkit.ports.Inbox`.

        Raises:
            ValidationError: Bad consumer or message id.
            NaiveDatetime: `now` is naive.
            StoreError: SQLite failed; nothing was recorded.
        """
        name, message, at = check_seen(consumer, message_id, now)
        values = (name, message, to_us(at))

        def work(cur: sqlite3.Cursor, savepoint: str | None) -> bool:

            def record() -> int:
                recorded: int = cur.execute(_SEEN, values).rowcount
                return recorded

            return not in_savepoint(cur, savepoint, record)

        return self._session.transact("seen", work)

    def prune(self, before: dt.datetime) -> int:
        """Forget deliveries recorded before `before`; return how many.

        Raises:
            NaiveDatetime: `before` is naive.
            StoreError: SQLite failed; nothing was deleted.
        """
        cutoff = (to_us(check_before(before)),)

        def work(cur: sqlite3.Cursor, savepoint: str | None) -> int:

            def prune() -> int:
                pruned: int = cur.execute(_FORGET, cutoff).rowcount
                return pruned

            return in_savepoint(cur, savepoint, prune)

        return self._session.transact("prune", work)
