"""`PostgresDetectorStore`: the duplicate detector's state in PostgreSQL."""

from __future__ import annotations

import datetime as dt
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
from orderkit.adapters._postgres_session import Cursor, SessionStore, declare
from orderkit.dedupe import ReviewState, Screening, Sighting, Suspicion
from orderkit.dedupe._fingerprints import Fingerprint
from orderkit.dedupe._matches import (
    check_before,
    decided_otherwise,
    group_matches,
    no_suspicion,
)


DETECTOR = declare(
    "detector_schema_version",
    "detector schema",
    [  # version 1
        (
            (
                # One row per recorded order, keyed by the order's identity: the
                # row a recording claims, and what the tables can be distributed
                # on. `COLLATE "C"` compares and sorts text by its bytes (code
                # points), as SQLite and the memory store do, whatever the
                # database's locale.
                "CREATE TABLE orderkit_detector_orders ("
                ' channel text COLLATE "C" NOT NULL,'
                ' order_id text COLLATE "C" NOT NULL,'
                " placed_at bigint NOT NULL, phone text,"
                " PRIMARY KEY (channel, order_id))"
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
            # answered from the primary key alone (the order's identity is
            # carried in it, so no join is needed and the table can be
            # distributed by fingerprint).
            (
                "CREATE TABLE orderkit_detector_fingerprints ("
                ' fingerprint text COLLATE "C" NOT NULL, placed_at bigint NOT NULL,'
                ' channel text COLLATE "C" NOT NULL,'
                ' order_id text COLLATE "C" NOT NULL,'
                " PRIMARY KEY (fingerprint, placed_at, channel, order_id))"
            ),
            (
                "CREATE INDEX orderkit_detector_fingerprints_order"
                " ON orderkit_detector_fingerprints (channel, order_id)"
            ),
            # One row per fingerprint: what recorders of orders sharing it lock,
            # in fingerprint order, to take turns (the rows they must see do not
            # exist yet, so there is nothing else to lock). `last_placed_at` lets
            # prune drop the rows of fingerprints no longer recorded.
            (
                "CREATE TABLE orderkit_detector_turns ("
                ' fingerprint text COLLATE "C" NOT NULL PRIMARY KEY,'
                " last_placed_at bigint NOT NULL)"
            ),
            (
                "CREATE INDEX orderkit_detector_turns_last"
                " ON orderkit_detector_turns (last_placed_at)"
            ),
            # The review queue, keyed by the order's identity; `seq` is the
            # order of queueing.
            (
                "CREATE TABLE orderkit_detector_suspicions ("
                ' channel text COLLATE "C" NOT NULL,'
                ' order_id text COLLATE "C" NOT NULL,'
                " seq bigint GENERATED ALWAYS AS IDENTITY,"
                " placed_at bigint NOT NULL, matches text NOT NULL,"
                " flagged_at bigint NOT NULL, state text NOT NULL, actor text,"
                " resolved_at bigint, PRIMARY KEY (channel, order_id))"
            ),
            (
                "CREATE INDEX orderkit_detector_pending"
                " ON orderkit_detector_suspicions (flagged_at, seq)"
                " WHERE state = 'pending'"
            ),
        ),
    ],
)
"""The detector's tables, versioned by the `detector_schema_version` row."""

# The SQL names ReviewState.PENDING by its value, 'pending'.
_PENDING: Final = ReviewState.PENDING.value

_NEW_ORDER = (
    "INSERT INTO orderkit_detector_orders (channel, order_id, placed_at, phone)"
    " VALUES (%s, %s, %s, %s) ON CONFLICT (channel, order_id) DO NOTHING"
)
# Every fingerprint's row, locked in the order given (sorted by the caller),
# so two recordings sharing fingerprints queue up instead of deadlocking.
_TAKE_TURNS = (
    "INSERT INTO orderkit_detector_turns (fingerprint, last_placed_at)"
    " SELECT f.fingerprint, %s"
    " FROM unnest(%s::text[]) WITH ORDINALITY AS f (fingerprint, i) ORDER BY f.i"
    " ON CONFLICT (fingerprint) DO UPDATE SET last_placed_at = greatest("
    "orderkit_detector_turns.last_placed_at, excluded.last_placed_at)"
)
_SEEN = (
    "SELECT channel, order_id, placed_at, fingerprint"
    " FROM orderkit_detector_fingerprints"
    " WHERE fingerprint = ANY(%s::text[]) AND placed_at BETWEEN %s AND %s"
)
_NEW_FINGERPRINTS = (
    "INSERT INTO orderkit_detector_fingerprints"
    " (fingerprint, placed_at, channel, order_id)"
    " SELECT f, %s, %s, %s FROM unnest(%s::text[]) AS f"
)
_SUSPICION_COLUMNS = (
    "channel, order_id, placed_at, matches, flagged_at, state, actor, resolved_at"
)
_NEW_SUSPICION = (
    f"INSERT INTO orderkit_detector_suspicions ({_SUSPICION_COLUMNS})"  # noqa: S608 - constants only
    " VALUES (%s, %s, %s, %s, %s, %s, NULL, NULL)"
)
_SUSPICION = (
    f"SELECT {_SUSPICION_COLUMNS} FROM orderkit_detector_suspicions"  # noqa: S608 - constants only
    " WHERE channel = %s AND order_id = %s"
)
_QUEUE = (
    f"SELECT {_SUSPICION_COLUMNS} FROM orderkit_detector_suspicions"  # noqa: S608 - constants only
    " WHERE state = 'pending' ORDER BY flagged_at, seq LIMIT %s"
)
# One conditional statement: of two reviewers resolving at once, the second
# waits for the first's row lock, then finds the suspicion no longer pending.
_RESOLVE = (
    "UPDATE orderkit_detector_suspicions"  # noqa: S608 - constants only
    " SET state = %s, actor = %s, resolved_at = %s"
    " WHERE channel = %s AND order_id = %s AND state = 'pending'"
    f" RETURNING {_SUSPICION_COLUMNS}"
)
_OF_BUYER = (
    "SELECT channel, order_id, placed_at FROM orderkit_detector_orders"
    " WHERE phone = %s ORDER BY placed_at, channel, order_id"
)
# Prune keeps every order whose suspicion is pending, whole. One statement
# deletes the orders that go and then, by the orders it deleted, their
# fingerprints and suspicions, so a review resolving meanwhile can never
# leave an order's fingerprints behind it. Fingerprints no order placed
# since the cut lose their turn rows.
_PRUNE = (
    "WITH gone AS ("
    " DELETE FROM orderkit_detector_orders AS o WHERE o.placed_at < %(cutoff)s"
    " AND NOT EXISTS (SELECT 1 FROM orderkit_detector_suspicions AS s"
    " WHERE s.channel = o.channel AND s.order_id = o.order_id"
    " AND s.state = 'pending')"
    " RETURNING o.channel, o.order_id),"
    " fingerprints AS (DELETE FROM orderkit_detector_fingerprints AS f USING gone"
    " WHERE f.channel = gone.channel AND f.order_id = gone.order_id),"
    " suspicions AS (DELETE FROM orderkit_detector_suspicions AS s USING gone"
    " WHERE s.channel = gone.channel AND s.order_id = gone.order_id),"
    " turns AS (DELETE FROM orderkit_detector_turns"
    " WHERE last_placed_at < %(cutoff)s)"
    " SELECT count(*) FROM gone"
)


@final
class PostgresDetectorStore(SessionStore, DetectorReads):
    """A `DetectorStore` in PostgreSQL: any number of processes and machines.

    `target` is a DSN, a host's `psycopg.Connection`, or a host's pool
    (`psycopg_pool.ConnectionPool`), as for every PostgreSQL store.

    **Transactions.** Every call is one short transaction (READ COMMITTED is
    enough). `record` claims the order's row (`INSERT ... ON CONFLICT DO
    NOTHING`: a second recording of it waits for the first, then replays
    it), locks one row per fingerprint of the order (`orderkit_detector_turns`,
    inserted on first use) in fingerprint order, then looks up its matches
    and inserts its fingerprints and any suspicion. Recordings that share a
    fingerprint so take turns, and each one's look-up starts after the
    locks, seeing everything its predecessors committed: of two duplicates
    recorded at once, in two processes, the second sees the first.
    Recordings that share no fingerprint cannot match, and never wait for
    each other.

    **Joined sessions.** Given a connection inside a transaction (a unit of
    work's or a host's), the store joins it, neither beginning nor
    committing, and writes in a savepoint, so a refused call undoes only its
    own writes; the fingerprints' locks are then held until the host's
    transaction ends. Given a connection outside a transaction, or a pool,
    the store runs and commits its own. It never changes a given
    connection's settings and never closes it or the pool.

    **Threads.** From a DSN, one connection behind a lock; from a pool, one
    connection per call.

    **Schema.** The tables `orderkit_detector_orders`,
    `orderkit_detector_fingerprints`, `orderkit_detector_turns` and
    `orderkit_detector_suspicions` are created on first use, versioned by
    their own row of `orderkit_meta`, in the connection's current schema. A
    fingerprint's rows are keyed by (fingerprint, placed_at), so the window
    query is one index range per fingerprint. Fingerprints are stored in
    their `str()` form, which reveals no phone; the buyer index keeps
    phones in E.164. Times are `bigint` microseconds since the Unix epoch
    (UTC), taken from the caller's arguments, never from the server's clock.

    **Errors.** Every `psycopg.Error` becomes `StoreError("postgres",
    operation, detail)` with the driver's error as its cause, after rolling
    back. orderkit's own errors propagate unchanged, writing nothing.

    Args:
        target: A DSN, a connection, or a pool.
        attempts: How many times a call runs before a serialization failure
            or deadlock is raised as `ConcurrencyConflict`.

    Raises:
        StoreError: The server cannot be reached, or holds a schema from a
            newer orderkit.

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
            StoreError: PostgreSQL failed; nothing was written.
        """
        checked = recording(sighting, fingerprints, phone, window, now)

        def work(cur: Cursor) -> Screening:
            return _screen(cur, checked)

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
            StoreError: PostgreSQL failed; nothing was written.
        """
        key, decision, who, at_us = resolving(channel, order_id, state, actor, now)

        def work(cur: Cursor) -> Suspicion:
            row = cur.execute(_RESOLVE, (decision.value, who, at_us, *key)).fetchone()
            if row is None:
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
            StoreError: PostgreSQL failed; nothing was written.
        """
        cutoff = {"cutoff": to_us(check_before(before))}

        def work(cur: Cursor) -> int:
            [(pruned,)] = cur.execute(_PRUNE, cutoff).fetchall()
            return int(pruned)

        return self._session.transact("prune", work)


def _screen(cur: Cursor, checked: Recording) -> Screening:
    """Claim the order's row, match it, and store its fingerprints and suspicion.

    An order recorded before gets its first screening back, and nothing is
    written.
    """
    seen, texts, phone, bounds, flagged_at = checked
    key = (seen.channel, seen.order_id)
    placed_us = to_us(seen.placed_at)
    if cur.execute(_NEW_ORDER, (*key, placed_us, phone)).rowcount != 1:
        row = cur.execute(_SUSPICION, key).fetchone()
        stored = None if row is None else read_suspicion(row)
        return Screening(*key, () if stored is None else stored.matches, stored)
    if not texts:
        return Screening(*key, (), None)
    prints = sorted(texts)
    cur.execute(_TAKE_TURNS, (placed_us, prints))
    # Its own fingerprints are not stored yet: the order cannot match itself.
    matches = group_matches(
        (channel, order_id, from_us(at), text)
        for channel, order_id, at, text in cur.execute(_SEEN, (prints, *bounds))
    )
    cur.execute(_NEW_FINGERPRINTS, (placed_us, *key, prints))
    if not matches:
        return Screening(*key, (), None)
    suspicion = Suspicion(*key, seen.placed_at, matches, flagged_at)
    cur.execute(
        _NEW_SUSPICION,
        (*key, placed_us, encode_matches(matches), to_us(flagged_at), _PENDING),
    )
    return Screening(*key, matches, suspicion)
