"""What every contract suite shares: the hooks a subclass overrides, and fixtures."""

from __future__ import annotations

import abc
import concurrent.futures
import multiprocessing
import multiprocessing.queues
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, Protocol, TypeVar

import pendulum
import pytest
from hypothesis import HealthCheck, settings

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


def lenient(**changes: Any) -> settings:  # noqa: ANN401 - any hypothesis setting
    """The host's hypothesis profile with `changes`, never failing as too slow.

    A contract's hypothesis tests drive the host's store: a correct one
    that takes a database round trip a call, on a loaded machine, must not
    fail with `FailedHealthCheck` (`too_slow`), nor with `DeadlineExceeded`
    (or `FlakyFailure` over it): a state machine's example is a whole run
    of steps, and hypothesis gives its own state machines no deadline.
    Every other setting and health check stays the host's.
    """
    profile = settings.default
    kept = () if profile is None else tuple(profile.suppress_health_check)
    quiet = list(dict.fromkeys((*kept, HealthCheck.too_slow)))
    return settings(profile, suppress_health_check=quiet, deadline=None, **changes)


S = TypeVar("S")
R = TypeVar("R")
T = TypeVar("T")


class Barrier(Protocol):
    """`threading.Barrier` and `multiprocessing`'s alike."""

    def wait(self, timeout: float | None = None) -> int: ...


Racer = Callable[[Callable[[], S], Barrier], R]
"""A racer: given a factory for its store and the start barrier, it races."""


def _race_process(
    racer: Racer[S, R],
    factory: Callable[[], S],
    barrier: Barrier,
    results: multiprocessing.queues.Queue[R],
) -> None:
    results.put(racer(factory, barrier))


def _still_abstract(cls: type) -> list[str]:
    """The abstract methods `cls` leaves unimplemented, worked out as `abc` does.

    `__init_subclass__` runs before `ABCMeta` sets `__abstractmethods__`, so
    the names are gathered from the bases and checked on `cls` itself.
    """
    names = {
        name
        for base in cls.__bases__
        for name in getattr(base, "__abstractmethods__", ())
    }
    names.update(
        name
        for name, value in vars(cls).items()
        if getattr(value, "__isabstractmethod__", False)
    )
    return sorted(
        name
        for name in names
        if getattr(getattr(cls, name, None), "__isabstractmethod__", False)
    )


def refuse_abstract_test_class(cls: type) -> None:
    """Raise when pytest would collect `cls` but skips it for being abstract.

    pytest skips an abstract class without a word, so a suite whose subclass
    misspells a hook (`make_stores`) is green and checks nothing. A class
    pytest collects by default (its name starts with `Test`, and it does not
    set `__test__ = False`) must implement every hook; a base meant for other
    test classes takes a name without the prefix.

    Raises:
        TypeError: Naming the class and the hooks it does not define.
    """
    if not cls.__name__.startswith("Test") or not getattr(cls, "__test__", True):
        return
    missing = _still_abstract(cls)
    if missing:
        hooks = ", ".join(f"{name}()" for name in missing)
        raise TypeError(
            f"{cls.__module__}.{cls.__qualname__} does not define {hooks}: pytest "
            "would skip the class and check nothing (a base for other test "
            "classes takes a name not starting with 'Test')"
        )


class StoreContract(abc.ABC, Generic[S]):
    """The base of every contract suite: how to make, reopen, break and close a store.

    A subclass pytest collects (its name starts with `Test`) must define
    `make_store` and every other abstract hook of its contract: one that
    does not is refused with a `TypeError` as its module is imported, not
    skipped in silence.

    .. versionadded:: 0.1.0
    """

    race_workers: int = 4
    """Threads or processes in a race."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        refuse_abstract_test_class(cls)

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
        the error-translation test is then skipped. That test checks that
        the failing call raises `StoreError` with the driver's error as its
        `__cause__`; `LedgerStoreContract` also reads the store back (each of
        balances, holds and movements that does not raise `StoreError`
        itself) and checks the failed plan changed none of it.
        """
        return False

    def dispose(self, store: S) -> None:
        """Release what `make_store` opened; calls `store.close()` if it has one."""
        close = getattr(store, "close", None)
        if callable(close):
            close()

    def _race(self, store: S, racers: Sequence[Racer[S, R]]) -> list[R]:
        """Run `racers` at once on `store`; return what each returned.

        Each racer is called with a factory for its store and a barrier
        shared by all of them. Without a `connect` factory the racers are
        threads sharing `store`, and the results come in the racers' order;
        otherwise each is a spawned process opening its own store (so each
        racer must pickle: a `functools.partial` of a module-level
        function), and the results come in the order they finished.
        """
        return self._race_with(store, racers, self.connect(store))

    def _race_with(
        self,
        store: T,
        racers: Sequence[Racer[T, R]],
        factory: Callable[[], T] | None,
    ) -> list[R]:
        """`_race` with the factory given: for a store of another kind than `S`."""
        if factory is None:
            barrier = threading.Barrier(len(racers))
            with concurrent.futures.ThreadPoolExecutor(len(racers)) as pool:
                return list(
                    pool.map(lambda racer: racer(lambda: store, barrier), racers)
                )
        context = multiprocessing.get_context("spawn")
        shared = context.Barrier(len(racers))
        results: multiprocessing.queues.Queue[R] = context.Queue()
        processes = [
            context.Process(
                target=_race_process, args=(racer, factory, shared, results)
            )
            for racer in racers
        ]
        for process in processes:
            process.start()
        try:
            found = [results.get(timeout=180) for _ in processes]
        finally:
            for process in processes:
                process.join(timeout=60)
        exits = [process.exitcode for process in processes]
        assert exits == [0] * len(processes), exits  # noqa: S101 - a shipped test
        return found

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
