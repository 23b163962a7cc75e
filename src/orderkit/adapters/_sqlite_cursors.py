"""`SqliteCursorStore`: feed cursors in SQLite, alone or beside the other stores."""

from __future__ import annotations

import sqlite3
from typing import Final, final

from orderkit.adapters._memory_cursors import check_advance, check_feed
from orderkit.adapters._sqlite_session import SessionStore, declare, in_savepoint


CURSORS_SCHEMA_VERSION: Final = 1
"""The version of the cursor table this module writes, kept in `orderkit_meta`."""
CURSORS = declare(
    "cursors_schema_version",
    "cursor schema",
    CURSORS_SCHEMA_VERSION,
    (
        # A rowid table: WITHOUT ROWID suits rows of up to 4096-character
        # cursors badly, and there are only ever a few feeds.
        (
            "CREATE TABLE orderkit_cursors ("
            " feed TEXT NOT NULL UNIQUE, cursor TEXT NOT NULL)"
        ),
    ),
)
"""The cursor table, versioned by the `cursors_schema_version` row."""

# `=` on TEXT compares with the BINARY collation: byte for byte, so feeds and
# cursors match verbatim (case, spaces and all).
_GET = "SELECT cursor FROM orderkit_cursors WHERE feed = ?"
_NEW_FEED = (
    "INSERT INTO orderkit_cursors (feed, cursor) VALUES (?, ?)"
    " ON CONFLICT (feed) DO NOTHING"
)
_MOVE = "UPDATE orderkit_cursors SET cursor = ?3 WHERE feed = ?1 AND cursor = ?2"


@final
class SqliteCursorStore(SessionStore):
    """A `CursorStore` in SQLite: one file, any number of processes.

    `target` is a file path, `":memory:"`, or an open `sqlite3.Connection`,
    exactly as for `SqliteLedgerStore`, and the stores may share a file or
    a connection.

    **Transactions.** Given a path (or `":memory:"`), every `advance` is one
    short `BEGIN IMMEDIATE` transaction on the store's own connection
    (autocommit mode, WAL, `synchronous=NORMAL`, waiting up to `timeout`
    seconds for the lock): the compare-and-set is one conditional
    statement under the write lock, so of racing processes that expect one
    cursor exactly one moves the feed.

    **Joined sessions.** Given a connection inside a transaction, the store
    joins it, neither beginning nor committing, and writes in a `SAVEPOINT`:
    a host that stores a page's records on that connection then commits
    them and the cursor together, or rolls both back. Given a connection
    outside a transaction, the store opens and commits its own. The store
    never changes a given connection's settings and never closes it.

    **Threads.** One connection per store behind a lock; give each process
    its own store.

    **Schema.** The table `orderkit_cursors` is created on first use,
    versioned by its own row of `orderkit_meta`.

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

    _component = CURSORS

    def get(self, feed: str) -> str | None:
        """Return the feed's cursor, or `None` if it was never advanced.

        Raises:
            ValidationError: `feed` is not printable text of 1 to 255
                characters.
            StoreError: SQLite failed.
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
            StoreError: SQLite failed; nothing changed.
        """
        name, old, new = check_advance(feed, expected, cursor)

        def work(cur: sqlite3.Cursor, savepoint: str | None) -> bool:

            def move() -> int:
                if old is None:
                    moved: int = cur.execute(_NEW_FEED, (name, new)).rowcount
                else:
                    moved = cur.execute(_MOVE, (name, old, new)).rowcount
                return moved

            if in_savepoint(cur, savepoint, move):
                return True
            # Not moved: the feed is elsewhere, perhaps where a retried call
            # of ours already put it.
            row = cur.execute(_GET, (name,)).fetchone()
            return row is not None and row[0] == new

        return self._session.transact("advance", work)
