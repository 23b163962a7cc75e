"""`PostgresLimitStore`: purchase-limit counts in PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import final

from orderkit._time import before_or_first
from orderkit.adapters._micros import to_us
from orderkit.adapters._postgres_session import Cursor, SessionStore, declare
from orderkit.pricing import Exceeded, Granted, LimitDecision, LimitKey, Overage
from orderkit.pricing._limits import check_instant, check_keys, check_use_id, uses_of


LIMITS = declare(
    "limits_schema_version",
    "limit schema",
    [  # version 1
        (
            (
                # One row per counter: what racing consumers of a key lock, in
                # key order, to take turns (a sliding window has no single row
                # to update conditionally). `last_at` is the latest `now` that
                # locked it, so prune can drop the rows of idle keys.
                "CREATE TABLE orderkit_limit_keys ("
                ' key text COLLATE "C" NOT NULL PRIMARY KEY,'
                " last_at bigint NOT NULL)"
            ),
            "CREATE INDEX orderkit_limit_keys_last_at ON orderkit_limit_keys (last_at)",
            # The uses start with their key, so both tables can be distributed
            # on it and a key's window count is one range of the primary key,
            # answered from the index (`member` is carried in it). `id` only
            # tells apart uses of one key at one instant.
            (
                "CREATE TABLE orderkit_limit_uses ("
                ' key text COLLATE "C" NOT NULL, at bigint NOT NULL,'
                " id bigint GENERATED ALWAYS AS IDENTITY,"
                ' member text COLLATE "C",'
                " PRIMARY KEY (key, at, id) INCLUDE (member))"
            ),
            "CREATE INDEX orderkit_limit_uses_at ON orderkit_limit_uses (at)",
            (
                "CREATE TABLE orderkit_limit_use_ids ("
                ' use_id text COLLATE "C" NOT NULL PRIMARY KEY, at bigint NOT NULL)'
            ),
            "CREATE INDEX orderkit_limit_use_ids_at ON orderkit_limit_use_ids (at)",
        ),
        # version 2: the uses' weights (`LimitKey.weight`), 1 for those
        # already kept, carried in the primary key's index as `member` is,
        # so that a window count still reads the index alone.
        (
            (
                "ALTER TABLE orderkit_limit_uses"
                " ADD COLUMN weight bigint NOT NULL DEFAULT 1"
            ),
            (
                "ALTER TABLE orderkit_limit_uses"
                " DROP CONSTRAINT orderkit_limit_uses_pkey,"
                " ADD PRIMARY KEY (key, at, id) INCLUDE (member, weight)"
            ),
        ),
    ],
)
"""The limit tables, versioned by the `limits_schema_version` row."""

# The use id is claimed first: a racer with the same id waits on the
# primary key for the first to end, then finds it granted (a replay) or gone.
_CLAIM_USE_ID = (
    "INSERT INTO orderkit_limit_use_ids (use_id, at) VALUES (%s, %s)"
    " ON CONFLICT (use_id) DO NOTHING"
)
_FORGET_USE_ID = "DELETE FROM orderkit_limit_use_ids WHERE use_id = %s"
# Every key's row, locked in the order given (sorted by the caller), so two
# calls over overlapping keys queue up instead of deadlocking. A new key's
# row is inserted, and a racer inserting it too waits on the primary key.
_TAKE_TURNS = (
    "INSERT INTO orderkit_limit_keys (key, last_at)"
    " SELECT k.key, %s FROM unnest(%s::text[]) WITH ORDINALITY AS k (key, i)"
    " ORDER BY k.i"
    " ON CONFLICT (key) DO UPDATE"
    " SET last_at = greatest(orderkit_limit_keys.last_at, excluded.last_at)"
)
# Every key's count and whether its member is known, in the order given, in
# one statement; started after the locks, so it sees every use committed by
# whoever held them before. Uses without a member count their weight each;
# members count once each. A sum of bigints is numeric: read as bigint.
_COUNT = (
    "SELECT c.count, c.known FROM unnest(%s::text[], %s::bigint[], %s::text[])"
    " WITH ORDINALITY AS k (key, since, member, i)"
    " CROSS JOIN LATERAL ("
    " SELECT (coalesce(sum(u.weight) FILTER (WHERE u.member IS NULL), 0)"
    " + count(DISTINCT u.member))::bigint AS count,"
    " coalesce(bool_or(u.member = k.member), false) AS known"
    " FROM orderkit_limit_uses AS u WHERE u.key = k.key AND u.at > k.since) AS c"
    " ORDER BY k.i"
)
_NEW_USES = (
    "INSERT INTO orderkit_limit_uses (key, at, member, weight)"
    " SELECT k.key, %s, k.member, k.weight"
    " FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS k (key, member, weight)"
)
# One statement, counting the uses it deletes.
_PRUNE = (
    "WITH use_ids AS (DELETE FROM orderkit_limit_use_ids WHERE at < %(cutoff)s),"
    " idle AS (DELETE FROM orderkit_limit_keys WHERE last_at < %(cutoff)s)"
    " DELETE FROM orderkit_limit_uses WHERE at < %(cutoff)s"
)


@final
class PostgresLimitStore(SessionStore):
    """A `LimitStore` in PostgreSQL: any number of processes and machines.

    `target` is a DSN, a host's `psycopg.Connection`, or a host's pool
    (`psycopg_pool.ConnectionPool`), as for every PostgreSQL store.

    **Transactions.** Every `consume` is one short transaction (READ
    COMMITTED is enough). A sliding window is a count over a log of uses,
    not one number a conditional `UPDATE` could guard, so each call first
    locks one row per key it names (`orderkit_limit_keys`, inserted on
    first use), in key order: calls sharing a key take turns, calls over
    overlapping keys never deadlock, and calls over other keys go on at
    once. Under the locks one statement counts every key's window, each a
    range of the uses' primary key, and the uses are written, so however
    many processes race for a key with limit `n`, exactly `n` are granted.
    A call with a use id claims it first (`INSERT ... ON CONFLICT DO
    NOTHING`): a racer retrying the same id waits for the first, then
    replays its grant; an exceeded call deletes its claim again.

    **Joined sessions.** Given a connection inside a transaction (a unit of
    work's or a host's), the store joins it, neither beginning nor
    committing, and writes in a savepoint, so a failed call undoes only its
    own writes, and a host rolling back forgets the uses with its order; the
    keys' locks are then held until the host's transaction ends. Given a
    connection outside a transaction, or a pool, the store runs and commits
    its own. It never changes a given connection's settings and never
    closes it or the pool.

    **Threads.** From a DSN, one connection behind a lock; from a pool, one
    connection per call.

    **Schema.** The tables `orderkit_limit_keys`, `orderkit_limit_uses` and
    `orderkit_limit_use_ids` are created on first use, versioned by their
    own row of `orderkit_meta`, in the connection's current schema; tables
    of an earlier version are upgraded on first use (version 1's uses weigh
    1). Times are `bigint` microseconds since the Unix epoch (UTC), taken
    from the caller's `now`, never from the server's clock.

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
            StoreError: PostgreSQL failed; nothing was recorded.
        """
        checked = check_keys(keys)
        use = check_use_id(use_id)
        at = check_instant("now", now)
        at_us = to_us(at)
        turns = (at_us, sorted({key.key for key in checked}))
        windows = (
            [key.key for key in checked],
            [to_us(before_or_first(at, key.window)) for key in checked],
            [key.member for key in checked],
        )
        names, members, weights = zip(*uses_of(checked), strict=True)
        uses = (at_us, list(names), list(members), list(weights))

        def work(cur: Cursor) -> LimitDecision:
            if (
                use is not None
                and not cur.execute(_CLAIM_USE_ID, (use, at_us)).rowcount
            ):
                return Granted(replayed=True)
            cur.execute(_TAKE_TURNS, turns)
            counts = cur.execute(_COUNT, windows).fetchall()
            over = tuple(
                Overage(key, count)
                for key, (count, known) in zip(checked, counts, strict=True)
                if not known and count + key.weight > key.limit
            )
            if over:
                if use is not None:
                    cur.execute(_FORGET_USE_ID, (use,))
                return Exceeded(over)
            cur.execute(_NEW_USES, uses)
            return Granted()

        return self._session.transact("consume", work)

    def record(
        self,
        keys: Sequence[LimitKey],
        *,
        now: dt.datetime,
        use_id: str | None = None,
    ) -> Granted:
        """Record one use of each key, with its weight, unchecked, once per use id.

        See `orderkit.ports.LimitStore`. It claims the use id and locks the
        keys' rows as `consume` does, so a `consume` racing it on a key
        counts its uses, or waits for them.

        Raises:
            ValidationError: Bad keys or use id; nothing was recorded.
            NaiveDatetime: `now` is naive.
            StoreError: PostgreSQL failed; nothing was recorded.
        """
        checked = check_keys(keys)
        use = check_use_id(use_id)
        at_us = to_us(check_instant("now", now))
        turns = (at_us, sorted({key.key for key in checked}))
        names, members, weights = zip(*uses_of(checked), strict=True)
        uses = (at_us, list(names), list(members), list(weights))

        def work(cur: Cursor) -> Granted:
            if (
                use is not None
                and not cur.execute(_CLAIM_USE_ID, (use, at_us)).rowcount
            ):
                return Granted(replayed=True)
            cur.execute(_TAKE_TURNS, turns)
            cur.execute(_NEW_USES, uses)
            return Granted()

        return self._session.transact("record", work)

    def prune(self, before: dt.datetime) -> int:
        """Delete uses (and use ids) recorded before `before`; return how many.

        Reads only the rows it deletes, through the indexes on `at`; keys
        no call locked since `before` lose their rows too.

        Raises:
            NaiveDatetime: `before` is naive.
            StoreError: PostgreSQL failed; nothing was deleted.
        """
        cutoff = {"cutoff": to_us(check_instant("before", before))}

        def work(cur: Cursor) -> int:
            pruned: int = cur.execute(_PRUNE, cutoff).rowcount
            return pruned

        return self._session.transact("prune", work)
