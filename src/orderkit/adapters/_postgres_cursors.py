"""`PostgresCursorStore`: feed cursors in PostgreSQL, beside the other stores."""

from __future__ import annotations

from typing import final

from orderkit.adapters._memory_cursors import check_advance, check_feed
from orderkit.adapters._postgres_session import Cursor, SessionStore, declare


CURSORS = declare(
    "cursors_schema_version",
    "cursor schema",
    [  # version 1
        (
            (
                # Keyed by the feed alone, the name every call looks a cursor up
                # by, so the table can be distributed on it. `COLLATE "C"`
                # compares bytes, whatever the database's locale: feeds and
                # cursors match verbatim, as in SQLite.
                "CREATE TABLE orderkit_cursors ("
                ' feed text COLLATE "C" NOT NULL PRIMARY KEY,'
                ' cursor text COLLATE "C" NOT NULL)'
            ),
        ),
    ],
)
"""The cursor table, versioned by the `cursors_schema_version` row."""

_GET = "SELECT cursor FROM orderkit_cursors WHERE feed = %s"
_NEW_FEED = (
    "INSERT INTO orderkit_cursors (feed, cursor) VALUES (%s, %s)"
    " ON CONFLICT (feed) DO NOTHING"
)
_MOVE = "UPDATE orderkit_cursors SET cursor = %s WHERE feed = %s AND cursor = %s"


@final
class PostgresCursorStore(SessionStore):
    """A `CursorStore` in PostgreSQL: any number of processes and machines.

    `target` is a DSN, a host's `psycopg.Connection`, or a host's pool
    (`psycopg_pool.ConnectionPool`), as for every PostgreSQL store.

    **Transactions.** Every `advance` is one short transaction (READ
    COMMITTED is enough): the compare-and-set is one conditional statement,
    `INSERT ... ON CONFLICT DO NOTHING` for a new feed and `UPDATE ...
    WHERE cursor = expected` otherwise. Of racing processes that expect one
    cursor, the first to write takes the row's lock; the others wait for it,
    find the condition false on the row it committed, and change nothing,
    so exactly one moves the feed. A loser reads the cursor again in the same
    transaction, to tell a retry of its own finished work from a lost race.

    **Joined sessions.** Given a connection inside a transaction (a unit of
    work's or a host's), the store joins it, neither beginning nor
    committing, and writes in a savepoint: a host that stores a page's
    records on that connection then commits them and the cursor together,
    or rolls both back. Given a connection outside a transaction, or a
    pool, the store runs and commits its own. It never changes a given
    connection's settings and never closes it or the pool.

    **Threads.** From a DSN, one connection behind a lock; from a pool, one
    connection per call.

    **Schema.** The table `orderkit_cursors` is created on first use,
    versioned by its own row of `orderkit_meta`, in the connection's
    current schema.

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

    _component = CURSORS

    def get(self, feed: str) -> str | None:
        """Return the feed's cursor, or `None` if it was never advanced.

        Raises:
            ValidationError: `feed` is not printable text of 1 to 255
                characters.
            StoreError: PostgreSQL failed.
        """
        key = (check_feed(feed),)
        row = self._session.read("get", lambda cur: cur.execute(_GET, key).fetchone())
        return None if row is None else str(row[0])

    def advance(self, feed: str, expected: str | None, cursor: str) -> bool:
        """Move the feed from `expected` to `cursor`; `False` if it moved.

        See `orderkit.ports.CursorStore`.

        Raises:
            ValidationError: Bad feed, expected cursor or cursor; nothing
                changed.
            StoreError: PostgreSQL failed; nothing changed.
        """
        name, old, new = check_advance(feed, expected, cursor)

        def work(cur: Cursor) -> bool:
            if old is None:
                cur.execute(_NEW_FEED, (name, new))
            else:
                cur.execute(_MOVE, (new, name, old))
            if cur.rowcount == 1:
                return True
            # Not moved: the feed is elsewhere, perhaps where a retried call
            # of ours already put it.
            row = cur.execute(_GET, (name,)).fetchone()
            return row is not None and row[0] == new

        return self._session.transact("advance", work)
