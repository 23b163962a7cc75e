"""`PostgresKeyStore`: idempotency keys in PostgreSQL, alone or beside the ledger."""

from __future__ import annotations

import datetime as dt
from typing import Final, final

from orderkit._time import before_or_first, ending
from orderkit.adapters._micros import from_us, to_us
from orderkit.adapters._postgres_session import Cursor, SessionStore, declare
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
from orderkit.dedupe._tokens import draw_token
from orderkit.errors import ConcurrencyConflict, IdempotencyConflict


KEYS = declare(
    "keys_schema_version",
    "key schema",
    [  # version 1
        (
            (
                # Keyed by the idempotency key alone, the name every call looks
                # a claim up by, so the table can be distributed on it. Large
                # outcome bodies go to TOAST, out of the key's page.
                "CREATE TABLE orderkit_keys ("
                ' key text COLLATE "C" NOT NULL PRIMARY KEY,'
                " request_hash text NOT NULL, token text NOT NULL,"
                " lease_until bigint NOT NULL, attempt integer NOT NULL,"
                " succeeded boolean, body bytea, completed_at bigint,"
                " ended bigint NOT NULL)"
            ),
            # `ended`: the completion, or else the lease's end; what prune compares.
            "CREATE INDEX orderkit_keys_ended ON orderkit_keys (ended)",
        ),
    ],
)
"""The key table, versioned by the `keys_schema_version` row."""

# How often a claim looks again after losing a takeover to another process
# (which took the key over, completed or abandoned it meanwhile). Each round
# lost is another process's write landing, so running out takes a storm of
# them on one key; it is then a `ConcurrencyConflict`.
_ROUNDS: Final = 16

# A first claim is this one statement; only a known key reads its row.
_NEW_KEY = (
    "INSERT INTO orderkit_keys (key, request_hash, token, lease_until, attempt, ended)"
    " VALUES (%(key)s, %(hash)s, %(token)s, %(until)s, 1, %(until)s)"
    " ON CONFLICT (key) DO NOTHING"
)
_KEY_ROW = (
    "SELECT request_hash, token, lease_until, succeeded, body"
    " FROM orderkit_keys WHERE key = %s"
)
# Compare-and-set on the token read: of two processes taking over one
# lapsed claim, the second waits for the first's row lock, then finds the
# token changed and updates nothing.
_TAKE_OVER = (
    "UPDATE orderkit_keys SET token = %(token)s, lease_until = %(until)s,"
    " attempt = attempt + 1, ended = %(until)s"
    " WHERE key = %(key)s AND token = %(held)s AND succeeded IS NULL"
    " RETURNING attempt"
)
_COMPLETE = (
    "UPDATE orderkit_keys SET succeeded = %s, body = %s, completed_at = %s,"
    " ended = %s WHERE key = %s AND token = %s AND succeeded IS NULL"
)
_COMPLETED = "SELECT token, succeeded, body FROM orderkit_keys WHERE key = %s"
_ABANDON = (
    "DELETE FROM orderkit_keys WHERE key = %s AND token = %s AND succeeded IS NULL"
)
_PRUNE = "DELETE FROM orderkit_keys WHERE ended <= %s"


@final
class PostgresKeyStore(SessionStore):
    """A `KeyStore` in PostgreSQL: any number of processes and machines.

    `target` is a DSN, a host's `psycopg.Connection`, or a host's pool
    (`psycopg_pool.ConnectionPool`), as for every PostgreSQL store.

    **Transactions.** Every call is one short transaction (READ COMMITTED is
    enough), and every write is one conditional statement, so processes
    claiming one key at once need no lock of their own: a first claim is a
    single `INSERT ... ON CONFLICT DO NOTHING`, which a racer for the same
    key waits on and then finds done; a lapsed claim is taken over with an
    `UPDATE ... WHERE token = <the token read>`, which only one racer can
    win. Exactly one gets `Claimed`; the others read the winner's row and
    get `InProgress` or `Replay`. Only a known key reads its row, and only a
    takeover writes to it.

    **Joined sessions.** Given a connection inside a transaction (a unit of
    work's or a host's), the store joins it, neither beginning nor
    committing, and writes in a savepoint: the claim, the host's writes and
    the completion then commit or roll back together, which is what keeps a
    crash between the run and `complete` from running a request twice.
    Given a connection outside a transaction, or a pool, the store runs and
    commits its own. It never changes a given connection's settings and
    never closes it or the pool.

    **Threads.** From a DSN, one connection behind a lock; from a pool, one
    connection per call.

    **Schema.** The table `orderkit_keys` is created on first use, versioned
    by its own row of `orderkit_meta`, in the connection's current schema.
    Outcome bodies are `bytea`, returned byte for byte; times are `bigint`
    microseconds since the Unix epoch (UTC), taken from the caller's `now`,
    never from the server's clock.

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

    _component = KEYS

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
            ConcurrencyConflict: Other processes kept changing the key's row
                faster than this claim could read it.
            StoreError: PostgreSQL failed; nothing was written.
        """
        check_key(key)
        check_request_hash(request_hash)
        at = check_now(now)
        until = ending(at, check_duration("lease", lease), "lease")
        at_us = to_us(at)
        token = draw_token()  # secrets.token_urlsafe(16), drawn in batches
        values = {
            "key": key,
            "hash": request_hash,
            "token": token,
            "until": to_us(until),
        }

        def work(cur: Cursor) -> Claim:
            for _ in range(_ROUNDS):
                if cur.execute(_NEW_KEY, values).rowcount == 1:
                    return Claimed(key, token, until, 1)
                row = cur.execute(_KEY_ROW, (key,)).fetchone()
                if row is None:
                    continue  # abandoned or pruned since: claim it afresh
                stored, held, lease_until, succeeded, body = row
                if stored != request_hash:
                    raise IdempotencyConflict(key)
                if succeeded is not None:
                    return Replay(key, Outcome(succeeded, body))
                if at_us < lease_until:
                    return InProgress(key, from_us(lease_until))
                took = cur.execute(_TAKE_OVER, {**values, "held": held}).fetchone()
                if took is not None:
                    return Claimed(key, token, until, took[0])
            raise ConcurrencyConflict(f"idempotency key:{key}")

        return self._session.transact("claim", work)

    def complete(
        self, key: str, token: str, outcome: Outcome, *, now: dt.datetime
    ) -> None:
        """Store the first outcome of the claim `token` holds.

        Raises:
            ConcurrencyConflict: `token` does not hold the claim (it was taken
                over, abandoned or never made), or another outcome is stored.
            StoreError: PostgreSQL failed; nothing was written.
        """
        check_key(key)
        check_token(token)
        check_outcome(outcome)
        at_us = to_us(check_now(now))
        values = (outcome.succeeded, outcome.body, at_us, at_us, key, token)

        def work(cur: Cursor) -> None:
            if cur.execute(_COMPLETE, values).rowcount == 1:
                return
            row = cur.execute(_COMPLETED, (key,)).fetchone()
            if (
                row is None
                or row[0] != token
                or row[1] is None
                or Outcome(row[1], row[2]) != outcome
            ):
                raise ConcurrencyConflict(f"idempotency key:{key}")

        self._session.transact("complete", work)

    def abandon(self, key: str, token: str) -> bool:
        """Delete the unfinished claim `token` holds; say whether it did.

        Raises:
            StoreError: PostgreSQL failed; nothing was written.
        """
        check_key(key)
        check_token(token)

        def work(cur: Cursor) -> bool:
            return cur.execute(_ABANDON, (key, token)).rowcount == 1

        return self._session.transact("abandon", work)

    def prune(self, now: dt.datetime, *, retention: dt.timedelta) -> int:
        """Delete keys that ended `retention` before `now`; return how many.

        Reads only the rows it deletes, through the index on `ended`.

        Raises:
            StoreError: PostgreSQL failed; nothing was written.
        """
        cutoff = before_or_first(check_now(now), check_duration("retention", retention))
        cutoff_us = to_us(cutoff)

        def work(cur: Cursor) -> int:
            pruned: int = cur.execute(_PRUNE, (cutoff_us,)).rowcount
            return pruned

        return self._session.transact("prune", work)
