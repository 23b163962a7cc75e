"""What every contract suite shares: the hooks a subclass overrides, and fixtures."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import pendulum
import pytest

from orderkit.testing._clock import FrozenClock


START = pendulum.datetime(2026, 11, 11, 0, 0)
"""Where every contract test's clock starts: Singles' Day, midnight UTC."""

WEIRD_NAMES = [
    "SKU-'quoted'",
    'SKU-"double"',
    "SKU; DROP TABLE balances; --",
    "SKU-100%_off",
    "SKU-🎁",
    "礼盒-北京",
    "Robert'); --",
]
"""Names that are data, never code: quotes, SQL, percent signs, emoji, Chinese."""

S = TypeVar("S")


class StoreContract(abc.ABC, Generic[S]):
    """The base of every contract suite: how to make, reopen, break and close a store.

    .. versionadded:: 0.1.0
    """

    race_workers: int = 4
    """Threads or processes in a race."""

    @abc.abstractmethod
    def make_store(self) -> S:
        """Return a new, empty store."""

    def connect(self, store: S) -> Callable[[], S] | None:  # noqa: ARG002 - a hook for subclasses
        """Return a picklable factory opening `store` again in another process.

        `None` (the default) races threads on `store` itself.
        """
        return None

    def break_store(self, store: S) -> bool:  # noqa: ARG002 - a hook for subclasses
        """Make the backend fail on its next write (drop a table, revoke rights).

        Return False (the default) when the store has no backend to break;
        the error-translation test is then skipped.
        """
        return False

    def dispose(self, store: S) -> None:
        """Release what `make_store` opened; calls `store.close()` if it has one."""
        close = getattr(store, "close", None)
        if callable(close):
            close()

    @pytest.fixture
    def clock(self) -> FrozenClock:
        """A clock at 2026-11-11T00:00Z, when a flash sale starts."""
        return FrozenClock(START)

    @pytest.fixture
    def store(self) -> Iterator[S]:
        """A fresh store from `make_store`, disposed of after the test."""
        store = self.make_store()
        yield store
        self.dispose(store)
