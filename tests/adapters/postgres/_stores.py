"""The contract suites' hooks for a PostgreSQL store: a schema of its own per store.

`make_store` opens the store on a new empty schema, `connect` opens it again
there (in a racing process: the DSN names the schema), and `break_store`
drops one of its tables from another connection, so that the store's next
call fails as a lost table would make it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Generic, TypeVar, cast

import psycopg
import pytest


S = TypeVar("S")


class OneSchemaPerStore(Generic[S]):
    """Mix into a contract suite before it; set `store_class` and `victim`."""

    store_class: ClassVar[type]
    """The store, opened as `store_class(dsn)`."""
    victim: ClassVar[str]
    """The table `break_store` drops."""

    @pytest.fixture(autouse=True)
    def _schemas(self, pg_schemas: Callable[[], str]) -> Iterator[None]:
        self.schemas = pg_schemas
        self.dsns: dict[int, str] = {}
        self.opened: list[Any] = []
        yield
        for store in self.opened:
            store.close()

    def make_store(self) -> S:
        dsn = self.schemas()
        store = cast("S", self.store_class(dsn))
        self.opened.append(store)
        self.dsns[id(store)] = dsn
        return store

    def connect(self, store: object) -> Callable[[], S]:
        return cast(
            "Callable[[], S]", functools.partial(self.store_class, self.dsns[id(store)])
        )

    def break_store(self, store: object) -> bool:
        with psycopg.connect(self.dsns[id(store)], autocommit=True) as other:
            other.execute(f"DROP TABLE {self.victim}")
        return True


def someone_waits_for_a_lock(dsn: str) -> bool:
    """Whether a session of the DSN's database waits for a lock right now."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        found = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database()"
        ).fetchone()
    return found is not None and found[0] > 0


def until_someone_waits_for_a_lock(dsn: str, *, seconds: float = 10.0) -> bool:
    """Wait until a session waits for a lock; `False` if none did in time."""
    deadline = time.monotonic() + seconds
    while not someone_waits_for_a_lock(dsn):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
