"""The shop's own cursor store: feed cursors in a table of the shop's database.

An implementation of `orderkit.ports.CursorStore` written by the host, not by
orderkit, over the standard library's `sqlite3`.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from orderkit.errors import StoreError, ValidationError


_TABLE = (
    "CREATE TABLE IF NOT EXISTS shop_feed_cursors"
    " (feed TEXT PRIMARY KEY, cursor TEXT NOT NULL)"
)
_READ = "SELECT cursor FROM shop_feed_cursors WHERE feed = ?"
_WRITE = (
    "INSERT INTO shop_feed_cursors (feed, cursor) VALUES (?, ?)"
    " ON CONFLICT (feed) DO UPDATE SET cursor = excluded.cursor"
)


def _text(field: str, value: object, longest: int) -> str:
    if (
        not isinstance(value, str)
        or not value.strip()
        or not value.isprintable()
        or len(value) > longest
    ):
        raise ValidationError(
            field, value, f"must be printable text of 1 to {longest} characters"
        )
    return value


class FeedCursors:
    """A `CursorStore` in the table `shop_feed_cursors` of a SQLite file.

    Each call is one short transaction on the store's own connection. A
    compare-and-set reads and writes under `BEGIN IMMEDIATE`, SQLite's write
    lock, so of processes advancing one feed from the same cursor exactly
    one moves it.
    """

    def __init__(self, path: str | Path) -> None:
        """Open the file and create the table if it is new."""
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(
                path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._conn.execute(_TABLE)
        except sqlite3.Error as error:
            raise StoreError("shop", "open", str(error)) from error

    def get(self, feed: str) -> str | None:
        """Return the feed's cursor, or `None` if it was never advanced."""
        _text("feed", feed, 255)
        try:
            with self._lock:
                row = self._conn.execute(_READ, (feed,)).fetchone()
        except sqlite3.Error as error:
            raise StoreError("shop", "get", str(error)) from error
        return None if row is None else str(row[0])

    def advance(self, feed: str, expected: str | None, cursor: str) -> bool:
        """Move the feed from `expected` to `cursor`; `False` if it moved."""
        _text("feed", feed, 255)
        if expected is not None:
            _text("expected", expected, 4096)
        _text("cursor", cursor, 4096)
        try:
            with self._lock:
                return self._advance(feed, expected, cursor)
        except sqlite3.Error as error:
            raise StoreError("shop", "advance", str(error)) from error

    def _advance(self, feed: str, expected: str | None, cursor: str) -> bool:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            row = self._conn.execute(_READ, (feed,)).fetchone()
            current = None if row is None else row[0]
            if current == cursor:
                moved = True  # a retry of an advance that was done
            elif current != expected:
                moved = False  # another puller moved the feed first
            else:
                self._conn.execute(_WRITE, (feed, cursor))
                moved = True
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        return moved

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
