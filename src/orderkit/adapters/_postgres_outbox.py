"""`PostgresOutbox` and `PostgresInbox`: the outbox, and its consumers' inbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import final

import psycopg

from orderkit._validate import as_tuple
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
from orderkit.adapters._postgres_session import (
    DEFAULT_ATTEMPTS,
    Cursor,
    SessionStore,
    Target,
    declare,
    in_transaction,
)
from orderkit.orders._messages import OutboxMessage


# A stream's hash, as `orderkit_outbox_streams` keys it: a row of any
# stream fits a btree, and a stream's unsent messages stay in `seq` order.
_STREAM_HASH = "hashtextextended({s}, 0)"
# An earlier message `e` of the stream of `m`, through that index.
_SAME_STREAM = (
    f"{_STREAM_HASH.format(s='e.stream')} = {_STREAM_HASH.format(s='m.stream')}"
    " AND e.stream = m.stream"
)

OUTBOX = declare(
    "outbox_schema_version",
    "outbox schema",
    (
        (
            # The message id is the store's natural key: adding is idempotent
            # by it. `seq` is the queue's order, drawn after the stream's
            # lock (see `add`). Relays read the queue in one global order,
            # so the table stays whole rather than distributed.
            (
                "CREATE TABLE orderkit_outbox ("
                ' message_id text COLLATE "C" PRIMARY KEY,'
                " seq bigint GENERATED ALWAYS AS IDENTITY NOT NULL,"
                ' stream text COLLATE "C" NOT NULL, topic text NOT NULL,'
                " payload bytea NOT NULL, created_at bigint NOT NULL,"
                " relay text, leased_until bigint, sent_at bigint)"
            ),
            # The queue, oldest first, without walking the sent messages.
            (
                "CREATE INDEX orderkit_outbox_queue ON orderkit_outbox (seq)"
                " WHERE sent_at IS NULL"
            ),
            # A stream's unsent messages, to find a live lease before a message.
            (
                "CREATE INDEX orderkit_outbox_streams"
                " ON orderkit_outbox (stream, seq) INCLUDE (leased_until)"
                " WHERE sent_at IS NULL"
            ),
            (
                "CREATE INDEX orderkit_outbox_sent ON orderkit_outbox (sent_at)"
                " WHERE sent_at IS NOT NULL"
            ),
        ),
        (
            # Version 2: a btree row holds at most 2704 bytes, less than a
            # stream of `MAX_STREAM_LENGTH` characters (up to 4096 bytes).
            # The index keeps the stream's 64-bit hash in its place, so any
            # stream fits; the queries compare the hash, for the index, and
            # then the stream itself (see `_SAME_STREAM`).
            "DROP INDEX orderkit_outbox_streams",
            (
                "CREATE INDEX orderkit_outbox_streams ON orderkit_outbox"
                f" ({_STREAM_HASH.format(s='stream')}, seq) INCLUDE (leased_until)"
                " WHERE sent_at IS NULL"
            ),
        ),
    ),
)
"""The outbox table, versioned by the `outbox_schema_version` row."""
INBOX = declare(
    "inbox_schema_version",
    "inbox schema",
    (
        (
            # Keyed by consumer first: each consumer's deliveries are its own.
            (
                "CREATE TABLE orderkit_inbox ("
                ' consumer text COLLATE "C" NOT NULL,'
                ' message_id text COLLATE "C" NOT NULL, at bigint NOT NULL,'
                " PRIMARY KEY (consumer, message_id))"
            ),
            "CREATE INDEX orderkit_inbox_at ON orderkit_inbox (at)",
        ),
    ),
)
"""The inbox table, versioned by the `inbox_schema_version` row."""

_STORED = (
    "SELECT message_id, stream, topic, payload, created_at"
    " FROM orderkit_outbox WHERE message_id = ANY(%s)"
)
# One lock per stream: a stream's messages draw their `seq` one transaction
# after the other, so a later message never commits before an earlier one of
# its stream. Taken in the streams' code point order (`COLLATE "C"`, as
# Python sorts text), the order the ledger takes a SKU's stream in before
# its balances (`Ledger`), so no two transactions wait in a circle. The
# table's oid seeds the hash: each schema's outbox has its own locks.
_LOCK_STREAMS = (
    "SELECT pg_advisory_xact_lock("
    "hashtextextended(s, 'orderkit_outbox'::regclass::oid::bigint))"
    " FROM (SELECT DISTINCT s FROM unnest(%s::text[]) AS s) AS streams"
    ' ORDER BY s COLLATE "C"'
)
_ADD = (
    "INSERT INTO orderkit_outbox (message_id, stream, topic, payload, created_at)"
    " VALUES (%s, %s, %s, %s, %s)"
    " ON CONFLICT (message_id) DO NOTHING"
)
# A message is claimable unless it, or an earlier unsent message of its
# stream, is under a live lease. Racing relays skip each other's rows.
_CANDIDATES = (
    "SELECT seq FROM orderkit_outbox AS m"  # noqa: S608 - constants only
    " WHERE sent_at IS NULL AND NOT EXISTS ("
    "  SELECT 1 FROM orderkit_outbox AS e"
    f"  WHERE {_SAME_STREAM} AND e.sent_at IS NULL AND e.seq <= m.seq"
    "  AND e.leased_until > %(now)s)"
    " ORDER BY seq LIMIT %(limit)s FOR UPDATE OF m SKIP LOCKED"
)
# The candidates are ours now, but a racing relay may hold an earlier
# message of their stream (the one we skipped) without having committed its
# lease. So a candidate is leased only if every earlier unsent message of
# its stream is a candidate too, and none is under a live lease, as seen
# now, after the rows were locked.
_LEASE = (
    "UPDATE orderkit_outbox AS m"  # noqa: S608 - constants only
    " SET relay = %(relay)s, leased_until = %(until)s"
    " WHERE seq = ANY(%(picked)s::bigint[]) AND sent_at IS NULL AND NOT EXISTS ("
    "  SELECT 1 FROM orderkit_outbox AS e"
    f"  WHERE {_SAME_STREAM} AND e.sent_at IS NULL AND e.seq <= m.seq"
    "  AND (e.leased_until > %(now)s OR e.seq <> ALL(%(picked)s::bigint[])))"
    " RETURNING seq, message_id, stream, topic, payload, created_at"
)
_MARK = (
    "UPDATE orderkit_outbox SET sent_at = %s"
    " WHERE message_id = ANY(%s) AND relay = %s AND sent_at IS NULL"
)
_UNSENT = (
    "SELECT message_id, stream, topic, payload, created_at FROM orderkit_outbox"
    " WHERE sent_at IS NULL ORDER BY seq LIMIT %s"
)
_PRUNE = "DELETE FROM orderkit_outbox WHERE sent_at IS NOT NULL AND sent_at < %s"
_SEEN = (
    "INSERT INTO orderkit_inbox (consumer, message_id, at) VALUES (%s, %s, %s)"
    " ON CONFLICT (consumer, message_id) DO NOTHING RETURNING true"
)
_FORGET = "DELETE FROM orderkit_inbox WHERE at < %s"

_Row = tuple[str, str, str, bytes, int]


def _message(row: _Row) -> OutboxMessage:
    message_id, stream, topic, payload, created_at = row
    return OutboxMessage(
        message_id=message_id,
        stream=stream,
        topic=topic,
        payload=bytes(payload),
        created_at=from_us(created_at),
    )


def _stored(cur: Cursor, messages: Sequence[OutboxMessage]) -> dict[str, OutboxMessage]:
    """The stored messages under the ids of `messages`, by id."""
    ids = [m.message_id for m in messages]
    rows: list[_Row] = cur.execute(_STORED, (ids,)).fetchall()
    return {row[0]: _message(row) for row in rows}


@final
class PostgresOutbox(SessionStore):
    """An `Outbox` in PostgreSQL: any number of processes and relays.

    `target` is a DSN (the store opens and owns one connection), a host's
    `psycopg.Connection`, or a host's pool, exactly as for
    `PostgresOrderStore`: add messages through a `PostgresUnitOfWork`'s
    outbox, so they commit with the change they report.

    **Claims.** A claim locks the oldest claimable messages
    `FOR UPDATE SKIP LOCKED`, so racing relays, in any process, pass over
    each other's rows instead of waiting, then leases those whose stream no
    other relay holds: one stream goes to one relay at a time, in order. A
    relay that dies holding a lease holds nothing once `now` reaches the
    lease's end; the next claim takes its messages over, in order. Of racing
    relays one may get fewer than `limit` messages while another leases
    their streams.

    **Order per stream.** Adding takes a transaction-level lock per stream
    (advisory, released at commit) before the messages draw their place in
    the queue, so a stream's messages commit in queue order: a relay never
    sees a later message of a stream before an earlier one.

    **Transactions.** Every call runs in its own transaction, or, on a
    connection inside a transaction (a unit of work's or the host's), in a
    savepoint of it, neither beginning nor committing. The queue and each
    stream's unsent messages are read through partial indexes: sent
    messages cost nothing until pruned. Times are BIGINT microseconds since
    the Unix epoch (UTC), always the caller's, never the server's clock.

    **Schema.** The table `orderkit_outbox` (primary key `message_id`) is
    created on first use, versioned by its own row of `orderkit_meta`.

    **Errors.** Every psycopg error becomes `StoreError("postgres",
    operation, detail)` with the driver's error as its cause, after rolling
    back; serialization failures and deadlocks are retried, then raised as
    `ConcurrencyConflict`. orderkit's own errors propagate unchanged,
    writing nothing.

    Args:
        target: A DSN, an open connection, or a pool.
        attempts: How often a call in its own transaction runs before a
            serialization failure is raised.

    Raises:
        StoreError: The server cannot be reached, or holds a schema from a
            newer orderkit.

    .. versionadded:: 0.1.0
    """

    _component = OUTBOX

    def __init__(self, target: Target, *, attempts: int = DEFAULT_ATTEMPTS) -> None:
        """Open the outbox on `target`, creating or migrating its tables."""
        super().__init__(target, attempts=attempts)
        # Kept to tell whether `add` commits alone: a DSN's connection and a
        # host's pool always do; a host's connection only outside its
        # transaction; a unit of work's (it opens later) never.
        self._target = target

    def commits_alone(self) -> bool:
        """Whether `add` now commits on its own, in no transaction it shares.

        True for an outbox on a DSN or a pool (a standalone outbox), or on
        a connection outside a transaction; false inside a unit of work's or
        a host's transaction, where messages commit with the change they
        report. A `Ledger` given an outbox that commits alone reads a
        `sellable` figure again after telling it, and tells it again if a
        change of another process moved it meanwhile: its `lock_streams`
        lasts only its own call's transaction there.
        """
        target = self._target
        if isinstance(target, psycopg.Connection):
            return not in_transaction(target)
        return not getattr(target, "opens_later", False)

    def lock_streams(self, streams: Sequence[str]) -> None:
        """Take the streams' locks until the transaction ends (see `ports.StreamLocks`).

        Raises:
            ValidationError: `streams` is not a sequence of text.
            StoreError: PostgreSQL failed.
        """
        # `_LOCK_STREAMS` takes each lock once, in one order.
        wanted = list(as_tuple(streams, "streams", str))
        if wanted:
            self._session.transact(
                "lock_streams", lambda cur: cur.execute(_LOCK_STREAMS, (wanted,))
            )

    def add(self, messages: Sequence[OutboxMessage]) -> None:
        """Store the messages in order, skipping those stored; all or nothing.

        See `orderkit.ports.Outbox`.

        Raises:
            ValidationError: Bad messages; nothing was stored.
            ConcurrencyConflict: A message differs from the one stored under
                its id; nothing was stored.
            StoreError: PostgreSQL failed; nothing was stored.
        """
        checked = check_messages(messages)

        def work(cur: Cursor) -> None:
            fresh = new_messages(checked, _stored(cur, checked))
            if not fresh:
                return
            cur.execute(_LOCK_STREAMS, ([m.stream for m in fresh],))
            rows = [
                (m.message_id, m.stream, m.topic, m.payload, to_us(m.created_at))
                for m in fresh
            ]
            cur.executemany(_ADD, rows)
            if cur.rowcount != len(rows):
                # A racing add stored some of them since we looked: the
                # insert waited for it to commit, so they are there to compare.
                new_messages(fresh, _stored(cur, fresh))

        self._session.transact("add", work)

    def claim(
        self, *, relay: str, now: dt.datetime, lease: dt.timedelta, limit: int = 100
    ) -> Sequence[OutboxMessage]:
        """Lease up to `limit` claimable messages to `relay`, oldest first.

        See `orderkit.ports.Outbox`.

        Raises:
            ValidationError: Bad relay, lease or limit.
            NaiveDatetime: `now` is naive.
            StoreError: PostgreSQL failed; nothing was leased.
        """
        name, at, until, most = check_claim(relay, now, lease, limit)
        values: dict[str, object] = {
            "relay": name,
            "now": to_us(at),
            "until": to_us(until),
            "limit": most,
        }

        def work(cur: Cursor) -> list[OutboxMessage]:
            picked = [row[0] for row in cur.execute(_CANDIDATES, values).fetchall()]
            if not picked:
                return []
            rows = cur.execute(_LEASE, {**values, "picked": picked}).fetchall()
            rows.sort(key=lambda row: row[0])
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
            StoreError: PostgreSQL failed; nothing was marked.
        """
        ids, name, at = check_mark(message_ids, relay, now)
        if not ids:
            return 0
        values = (to_us(at), ids, name)
        return self._session.transact(
            "mark_sent", lambda cur: cur.execute(_MARK, values).rowcount
        )

    def unsent(self, *, limit: int = 1000) -> Sequence[OutboxMessage]:
        """Return up to `limit` unsent messages, oldest first.

        Raises:
            InvalidQuantity: `limit` is not a positive integer.
            StoreError: PostgreSQL failed.
        """
        most = (check_limit(limit),)
        rows: list[_Row] = self._session.read(
            "unsent", lambda cur: cur.execute(_UNSENT, most).fetchall()
        )
        return [_message(row) for row in rows]

    def prune(self, before: dt.datetime) -> int:
        """Delete the messages sent before `before`; return how many.

        Raises:
            NaiveDatetime: `before` is naive.
            StoreError: PostgreSQL failed; nothing was deleted.
        """
        cutoff = (to_us(check_before(before)),)
        return self._session.transact(
            "prune", lambda cur: cur.execute(_PRUNE, cutoff).rowcount
        )


@final
class PostgresInbox(SessionStore):
    """An `Inbox` in PostgreSQL, alone or beside the other stores.

    `target` and `attempts` are as for `PostgresOutbox`, and so are
    transactions and errors. Ask `seen` on a `PostgresUnitOfWork`'s inbox,
    so the delivery is recorded with the consumer's own writes, or not at
    all. Each `seen` is one insert that does nothing when the delivery is
    recorded: of racers delivering one message, exactly one inserts (the
    others wait for it to commit, then find it).

    **Schema.** The table `orderkit_inbox` (primary key `(consumer,
    message_id)`) is created on first use, versioned by its own row of
    `orderkit_meta`.

    Args:
        target: A DSN, an open connection, or a pool.
        attempts: How often a call in its own transaction runs before a
            serialization failure is raised.

    Raises:
        StoreError: The server cannot be reached, or holds a schema from a
            newer orderkit.

    .. versionadded:: 0.1.0
    """

    _component = INBOX

    def seen(self, consumer: str, message_id: str, *, now: dt.datetime) -> bool:
        """Say whether `consumer` had the message; record it if not.

        See `orderkit.ports.Inbox`.

        Raises:
            ValidationError: Bad consumer or message id.
            NaiveDatetime: `now` is naive.
            StoreError: PostgreSQL failed; nothing was recorded.
        """
        name, message, at = check_seen(consumer, message_id, now)
        values = (name, message, to_us(at))
        return self._session.transact(
            "seen", lambda cur: cur.execute(_SEEN, values).fetchone() is None
        )

    def prune(self, before: dt.datetime) -> int:
        """Forget deliveries recorded before `before`; return how many.

        Raises:
            NaiveDatetime: `before` is naive.
            StoreError: PostgreSQL failed; nothing was deleted.
        """
        cutoff = (to_us(check_before(before)),)
        return self._session.transact(
            "prune", lambda cur: cur.execute(_FORGET, cutoff).rowcount
        )
