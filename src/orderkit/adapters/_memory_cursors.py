"""The in-memory cursor store, and the argument checks every cursor store shares."""

from __future__ import annotations

import copy
import threading
from typing import Final, cast, final

from orderkit.adapters._memory_journal import Journal, Journaled
from orderkit.dedupe._claims import check_text


MAX_CURSOR_LENGTH: Final = 4096
"""The longest cursor a cursor store accepts, in characters."""


def check_feed(feed: object) -> str:
    """Return `feed` if it is printable text of 1 to 255 characters.

    Raises:
        ValidationError: Naming `feed`.
    """
    return check_text("feed", feed)


def check_cursor(field: str, value: object) -> str:
    """Return `value` if it is printable text of 1 to 4096 characters.

    The rules of a key (`check_text`), with room for the long opaque cursors
    some channels hand out (signed, base64-encoded page states).

    Raises:
        ValidationError: Naming `field`.
    """
    return check_text(field, value, MAX_CURSOR_LENGTH)


def check_advance(
    feed: object, expected: object, cursor: object
) -> tuple[str, str | None, str]:
    """Return the arguments of `advance` once each is valid, in order.

    Raises:
        ValidationError: Naming `feed`, `expected` or `cursor`.
    """
    return (
        check_feed(feed),
        None if expected is None else check_cursor("expected", expected),
        check_cursor("cursor", cursor),
    )


@final
class MemoryCursorStore(Journaled):
    """A `CursorStore` in a dict, safe to share between threads.

    Each call holds one lock, so concurrent `advance` calls on a feed are
    served one at a time. Nothing survives the process.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        """Create an empty store."""
        self._lock = threading.Lock()
        self._cursors: dict[str, str] = {}
        self._journal: Journal | None = None

    def get(self, feed: str) -> str | None:
        """Return the feed's cursor, or `None` if it was never advanced.

        Raises:
            ValidationError: `feed` is not printable text of 1 to 255
                characters.
        """
        name = check_feed(feed)
        with self._lock:
            if self._owned:
                self._in_unit("get")
            return self._cursors.get(name)

    def advance(self, feed: str, expected: str | None, cursor: str) -> bool:
        """Move the feed from `expected` to `cursor`; `False` if it moved.

        See `orderkit.ports.CursorStore`.

        Raises:
            ValidationError: Bad feed, expected cursor or cursor; nothing
                changed.
        """
        name, old, new = check_advance(feed, expected, cursor)
        with self._lock:
            if self._owned:
                self._in_unit("advance")
            current = self._cursors.get(name)
            # A retried call whose first attempt moved the feed: already done.
            if current == new:
                return True
            if current != old:
                return False
            if self._journal is not None:
                self._journal.item(self._cursors, name)
            self._cursors[name] = new
            return True

    def _snapshot(self) -> object:
        """A copy of the store's data, for `MemoryUnitOfWork` to roll back to."""
        with self._lock:
            return copy.deepcopy(self._cursors)

    def _restore(self, snapshot: object) -> None:
        """Put back the data `_snapshot` copied; the snapshot stays reusable."""
        state = copy.deepcopy(cast("dict[str, str]", snapshot))
        with self._lock:
            self._cursors = state
