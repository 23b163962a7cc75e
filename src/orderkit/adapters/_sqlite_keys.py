"""`SqliteKeyStore`: idempotency keys in SQLite, alone or beside the ledger."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Final, final

from orderkit._time import before_or_first, ending
from orderkit.adapters._micros import from_us, to_us
from orderkit.adapters._sqlite_session import SessionStore, declare
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


KEYS_SCHEMA_VERSION: Final = 1
"""The version of the key table this module writes, kept in `orderkit_meta`."""
KEYS = declare(
    "keys_schema_version",
    "key schema",
    KEYS_SCHEMA_VERSION,
    (
        # A rowid table: WITHOUT ROWID suits large outcome bodies badly.
        (
            "CREATE TABLE orderkit_keys ("
            " key TEXT NOT NULL UNIQUE, request_hash TEXT NOT NULL,"
            " token TEXT NOT NULL,"
            " lease_until INTEGER NOT NULL, attempt INTEGER NOT NULL,"
            " succeeded INTEGER, body BLOB, completed_at INTEGER,"
            " ended INTEGER NOT NULL)"
        ),
        # `ended`: the completion, or else the lease's end; what prune compares.
        "CREATE INDEX orderkit_keys_ended ON orderkit_keys (ended)",
    ),
)
"""The key table, versioned by the `keys_schema_version` row."""

# Each call writes with one statement, which SQLite undoes alone if it fails,
# so inside a host's transaction no savepoint is needed: the calls' `work`
# ignores the one the session offers.

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
class SqliteKeyStore(SessionStore):
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

    **Schema.** The table `orderkit_keys` is created on first use; it shares
    `orderkit_meta` with the ledger's tables, each keeping its own version
    row there, so either store may open a database first. A database whose
    key table comes from a newer orderkit is refused. Outcome
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
            StoreError: SQLite failed; nothing was written.
        """
        check_key(key)
        check_request_hash(request_hash)
        at = check_now(now)
        until = ending(at, check_duration("lease", lease), "lease")
        at_us, until_us = to_us(at), to_us(until)
        token = draw_token()  # secrets.token_urlsafe(16), drawn in batches

        def work(cur: sqlite3.Cursor, _savepoint: str | None) -> Claim:
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
                return InProgress(key, from_us(lease_until))
            cur.execute(_TAKE_OVER, (key, token, until_us))
            return Claimed(key, token, until, attempt + 1)

        return self._session.transact("claim", work)

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
        at_us = to_us(check_now(now))
        values = (key, token, int(outcome.succeeded), outcome.body, at_us)

        def work(cur: sqlite3.Cursor, _savepoint: str | None) -> None:
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

        self._session.transact("complete", work)

    def abandon(self, key: str, token: str) -> bool:
        """Delete the unfinished claim `token` holds; say whether it did.

        Raises:
            StoreError: SQLite failed; nothing was written.
        """
        check_key(key)
        check_token(token)

        def work(cur: sqlite3.Cursor, _savepoint: str | None) -> bool:
            return cur.execute(_ABANDON, (key, token)).rowcount == 1

        return self._session.transact("abandon", work)

    def prune(self, now: dt.datetime, *, retention: dt.timedelta) -> int:
        """Delete keys that ended `retention` before `now`; return how many.

        Reads only the rows it deletes, through the index on `ended`.

        Raises:
            StoreError: SQLite failed; nothing was written.
        """
        cutoff = before_or_first(check_now(now), check_duration("retention", retention))
        cutoff_us = to_us(cutoff)

        def work(cur: sqlite3.Cursor, _savepoint: str | None) -> int:
            return cur.execute(_PRUNE, (cutoff_us,)).rowcount

        return self._session.transact("prune", work)
