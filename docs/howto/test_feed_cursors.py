"""FeedCursors passes orderkit's cursor store contract, racing across processes."""

import functools
import itertools
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from feed_cursors import FeedCursors

from orderkit.ports import CursorStore
from orderkit.testing.contracts import CursorStoreContract


class TestFeedCursors(CursorStoreContract):
    """Every rule of the CursorStore port, on a fresh file per test."""

    @pytest.fixture(autouse=True)
    def _files(self, tmp_path: Path) -> None:
        self.files = (tmp_path / f"shop-{n}.db" for n in itertools.count())
        self.paths: dict[int, Path] = {}

    def make_store(self) -> FeedCursors:
        """A store on a new, empty file."""
        path = next(self.files)
        store = FeedCursors(path)
        self.paths[id(store)] = path
        return store

    def connect(self, store: CursorStore) -> Callable[[], CursorStore]:
        """Open the same file again, in each racing process."""
        return functools.partial(FeedCursors, self.paths[id(store)])

    def break_store(self, store: CursorStore) -> bool:
        """Drop the table behind the store's back."""
        with sqlite3.connect(self.paths[id(store)]) as other:
            other.execute("DROP TABLE shop_feed_cursors")
        other.close()
        return True
