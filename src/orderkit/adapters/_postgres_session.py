"""What every PostgreSQL store shares: connections, transactions, retries, schema.

A `Session` gets its connection from a DSN (one connection it owns), a
host's connection (used as is, never closed), or a host's pool (one
connection per call, given back after it). Each call runs in its own
transaction, or in a savepoint of the host's or a unit of work's open one,
and turns driver failures into orderkit errors: serialization failures and
deadlocks become `ConcurrencyConflict` once a bounded number of fresh
attempts in its own transaction failed (inside someone else's transaction
the whole transaction is lost, so the caller retries it), everything else
`StoreError`.

Schema: each store declares its tables as a `Component`, a list of
migrations; `orderkit_meta` keeps one version row per component. A session
applies the missing migrations once, under a transaction-level advisory lock,
so that several processes starting at once create the tables exactly once.
The tables go in the connection's current schema (the first of its
`search_path`), so a host may give orderkit a schema of its own.
"""

from __future__ import annotations

import contextlib
import math
import random
import select
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, ClassVar, Final, Protocol, Self, TypeVar, final

import attrs
import psycopg
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.rows import tuple_row

from orderkit.errors import ConcurrencyConflict, StoreError


T = TypeVar("T")

Connection = psycopg.Connection[Any]
Cursor = psycopg.Cursor[Any]

STORE: Final = "postgres"
"""The store name every `StoreError` from these stores carries."""
DEFAULT_ATTEMPTS: Final = 8
"""How many times a call runs before a serialization failure is raised."""

RETRYABLE: Final = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)
"""The driver errors that running the transaction again may cure."""
# One lock for every orderkit schema change in the database: migrations are
# rare and short, and a per-schema key would need hashing the search_path.
_SCHEMA_LOCK: Final = 0x6F72_6465_726B_6974  # "orderkit"
_CREATE_META = (
    "CREATE TABLE IF NOT EXISTS orderkit_meta"
    " (name text PRIMARY KEY, value integer NOT NULL)"
)
# Whether the current schema (where tables are created) holds orderkit's
# tables, and which schema the search_path would find them in otherwise.
_HAS_META = (
    "SELECT EXISTS (SELECT FROM pg_class c"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relname = 'orderkit_meta' AND n.nspname = current_schema()),"
    " (SELECT relnamespace::regnamespace::text FROM pg_class"
    " WHERE oid = to_regclass('orderkit_meta')),"
    " current_schema()"
)
# `mine`: the row was written by the open transaction, so may yet be undone.
_VERSION = (
    "SELECT value, xmin::text = pg_current_xact_id_if_assigned()::text AS mine"
    " FROM orderkit_meta WHERE name = %s"
)
_SET_VERSION = (
    "INSERT INTO orderkit_meta (name, value) VALUES (%s, %s)"
    " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
)


class ConnectionPool(Protocol):
    """A host's pool: `psycopg_pool.ConnectionPool` or anything shaped like it.

    .. versionadded:: 0.1.0
    """

    def connection(self) -> AbstractContextManager[Connection]:
        """Lend one connection for the `with` block."""
        ...


Target = str | Connection | ConnectionPool
"""Where a store connects: a DSN, a host's connection, or a host's pool."""


# --------------------------------------------------------------------------
# Schema registry


@final
@attrs.frozen
class Component:
    """One store's tables: the migrations that build them, in order.

    The component's version is the number of migrations; a database at
    version `n` gets migrations `n` onwards.
    """

    row: str
    """Its row in `orderkit_meta`."""
    label: str
    """What an error calls its version: "the database's {label} version"."""
    migrations: Sequence[Sequence[str]]
    """Each migration's statements (table names prefixed `orderkit_`)."""

    @property
    def version(self) -> int:
        """The version this orderkit writes; a newer database is refused."""
        return len(self.migrations)


_COMPONENTS: dict[str, Component] = {}


def declare(row: str, label: str, migrations: Sequence[Sequence[str]]) -> Component:
    """Register a store's migrations under their own row of `orderkit_meta`.

    Raises:
        ValueError: Another component already keeps its version in `row`.
    """
    component = Component(row, label, tuple(tuple(m) for m in migrations))
    if _COMPONENTS.setdefault(row, component) != component:
        raise ValueError(f"{row!r} already versions another component")
    return component


def _settled(cur: Cursor, component: Component) -> bool | None:
    """Whether the component is at this orderkit's version, and committed so.

    `None`: it is not (missing or older). `False`: it is, but written by the
    open transaction itself, which may yet roll back. `True`: committed.

    Raises:
        StoreError: The database holds a newer version than this orderkit
            knows; or orderkit's tables are on the search_path in another
            schema than the current one, where tables are made and the
            unqualified names would soon find new, empty ones.
    """
    found = cur.execute(_HAS_META).fetchone()
    assert found is not None  # noqa: S101 - one row of scalars
    here, elsewhere, schema = found
    if not here:
        if elsewhere is not None:
            raise StoreError(
                STORE,
                "open",
                f"orderkit's tables are in schema {elsewhere}, but the current"
                f" schema (the search_path's first) is {schema}: put {elsewhere}"
                " first on the search_path",
            )
        return None
    row = cur.execute(_VERSION, (component.row,)).fetchone()
    if row is None:
        return None
    version = int(row[0])
    if version > component.version:
        raise StoreError(
            STORE,
            "open",
            f"the database's {component.label} version {version} is newer than"
            f" this orderkit (version {component.version})",
        )
    if version < component.version:
        return None
    return not row[1]


def migrate(cur: Cursor, component: Component) -> bool:
    """Bring `component`'s tables to this orderkit's version, in the open transaction.

    Checks without locking first: the advisory lock serialises every
    migration in the database, and a transaction that took it would hold it
    to its end, queueing every other process's first call behind it.

    Returns:
        Whether the tables were at this version, committed, before the call.

    Raises:
        StoreError: The database holds a newer version than this orderkit knows.
    """
    settled = _settled(cur, component)
    if settled is not None:
        return settled
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
    cur.execute(_CREATE_META)
    # Another process may have migrated while this one waited for the lock.
    if _settled(cur, component) is not None:
        return False
    row = cur.execute(_VERSION, (component.row,)).fetchone()
    for migration in component.migrations[0 if row is None else int(row[0]) :]:
        for statement in migration:
            cur.execute(statement)
    cur.execute(_SET_VERSION, (component.row, component.version))
    return False


# --------------------------------------------------------------------------
# Errors


def _cursor(conn: Connection) -> Cursor:
    """A cursor giving tuples, whatever row factory a host's connection has.

    The stores read rows by position; a host may have set `dict_row` on the
    connection or pool it lends them.
    """
    return conn.cursor(row_factory=tuple_row)


# How many connections' cursors a session keeps before it forgets the closed
# ones: a pool replaces its connections now and then.
_CURSORS_KEPT = 64


def store_error(operation: str, exc: BaseException) -> StoreError:
    """`exc` as the `StoreError` of `operation`, with `exc` as its cause."""
    detail = str(exc).strip() or type(exc).__name__
    error = StoreError(STORE, operation, detail)
    error.__cause__ = exc
    return error


def conflict(operation: str, exc: BaseException) -> ConcurrencyConflict:
    """A serialization failure or deadlock in `operation` as `ConcurrencyConflict`."""
    error = ConcurrencyConflict(f"{STORE}:{operation}")
    error.__cause__ = exc
    return error


def _pause(attempt: int) -> None:
    # Jittered exponential backoff: racers that collided once spread out.
    time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))  # noqa: S311 - jitter, not secrets


# A network that drops idle connections unheard (a NAT, a load balancer)
# waits minutes first; a connection used within this many seconds is alive.
_FRESH_SECONDS = 10.0


def _quiet(conn: Connection) -> bool:
    """Whether nothing waits on `conn`: a server ending a session says so first."""
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return False
    return not readable


def in_transaction(conn: Connection) -> bool:
    """Whether `conn` is inside a transaction (open or failed) that is not ours."""
    return conn.info.transaction_status != pq.TransactionStatus.IDLE


# --------------------------------------------------------------------------
# Sessions


@final
class Session:
    """A store's connections and the transactions it runs on them.

    Given a DSN, the session owns one autocommit connection (reopened if the
    server dropped it) and creates or migrates `component`'s tables at once.
    Given a connection or a pool, it changes no settings, never closes them,
    and migrates on first use.

    Raises:
        StoreError: The server cannot be reached, or holds tables from a
            newer orderkit.
    """

    __slots__ = (
        "_attempts",
        "_closed",
        "_component",
        "_conn",
        "_cursors",
        "_dsn",
        "_lock",
        "_pool",
        "_ready",
        "_used",
    )

    def __init__(self, target: Target, component: Component, *, attempts: int) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {attempts}")
        self._lock = threading.Lock()
        self._component = component
        self._attempts = attempts
        self._ready = False
        self._closed = False
        # When a call last finished on each connection (a pool lends several):
        # `_fresh` trusts a connection used lately.
        self._used: weakref.WeakKeyDictionary[Connection, float] = (
            weakref.WeakKeyDictionary()
        )
        # One cursor per connection, kept: a cursor caches how it sends each
        # parameter type and reads each column, which a new one finds out
        # again (a tenth of a one-line reservation's time on the client).
        # Keyed by the connection, so it keeps a pool's lent connections
        # alive until `_cursor_for` forgets the closed ones.
        self._cursors: dict[Connection, Cursor] = {}
        self._dsn: str | None = None
        self._conn: Connection | None = None
        self._pool: ConnectionPool | None = None
        if isinstance(target, str):
            self._dsn = target
            self._conn = self._connect()
            try:
                self._ensure(self._conn)
            except BaseException as exc:
                self._conn.close()
                if isinstance(exc, psycopg.Error):
                    raise store_error("open", exc) from exc
                raise
        elif isinstance(target, psycopg.Connection):
            self._conn = target
        else:
            self._pool = target

    @property
    def owned(self) -> bool:
        """Whether the session opened its connection itself (from a DSN)."""
        return self._dsn is not None

    def transact(
        self, operation: str, work: Callable[[Cursor], T], *, single: bool = False
    ) -> T:
        """Run `work(cursor)` in a transaction of its own or a savepoint of one open.

        In its own transaction a serialization failure or deadlock reruns
        `work` from the start, up to the session's attempts.

        `single` says `work` sends one statement: on a quiet autocommit
        connection outside any transaction, used by a call a moment ago, it
        runs as its own transaction, without BEGIN and COMMIT. Otherwise the
        BEGIN finds out about a connection that was lost meanwhile, before
        `work` sends anything: the server's hang-up (which `_quiet` sees
        waiting), or a network that dropped an idle connection unheard.

        Raises:
            ConcurrencyConflict: Every attempt collided with another
                transaction, or one did inside a host's transaction.
            StoreError: The server failed; nothing of `work` was written,
                unless the connection was lost while committing: then, as
                with any database, whether it committed is unknown.
        """
        with self._connection(operation) as lent:
            conn = lent
            attempt = 0
            reopened = False
            while True:
                joined = in_transaction(conn)
                began = False
                try:
                    self._ensure(conn)
                    if single and not joined and self._fresh(conn):
                        began = True
                        result = work(self._cursor_for(conn))
                    else:
                        with conn.transaction():
                            began = True
                            result = work(self._cursor_for(conn))
                except RETRYABLE as exc:
                    attempt += 1
                    if joined or attempt >= self._attempts:
                        raise conflict(operation, exc) from exc
                    _pause(attempt)
                except psycopg.Error as exc:
                    # The server may have dropped an idle owned connection;
                    # psycopg learns so only on use. Nothing was sent for
                    # `work` yet, so one new connection is safe to try.
                    if began or reopened or self._dsn is None or not conn.broken:
                        raise store_error(operation, exc) from exc
                    conn = self._reopen()
                    reopened = True
                else:
                    self._used[conn] = time.monotonic()
                    return result

    def _cursor_for(self, conn: Connection) -> Cursor:
        """This session's cursor on `conn` (see `_cursor`), made once."""
        cursors = self._cursors
        cur = cursors.get(conn)
        if cur is None or cur.closed:
            if len(cursors) >= _CURSORS_KEPT:
                # A snapshot of the keys: a pool's other threads add theirs.
                for gone in [c for c in list(cursors) if c.closed]:
                    cursors.pop(gone, None)
            cur = cursors[conn] = _cursor(conn)
        return cur

    def _fresh(self, conn: Connection) -> bool:
        """Whether `conn` may run a statement without BEGIN (see `transact`)."""
        return (
            conn.autocommit
            and time.monotonic() - self._used.get(conn, -math.inf) < _FRESH_SECONDS
            and _quiet(conn)
        )

    def read(self, operation: str, work: Callable[[Cursor], T]) -> T:
        """Run `work(cursor)` in one transaction: one consistent view of the tables.

        Raises:
            StoreError: The server failed.
        """
        return self.transact(operation, work)

    def close(self) -> None:
        """Close an owned connection; leave a given connection or pool alone."""
        with self._lock:
            self._closed = True
            if self._dsn is not None and self._conn is not None:
                self._conn.close()

    @contextlib.contextmanager
    def _connection(self, operation: str) -> Iterator[Connection]:
        if self._pool is not None:
            if self._closed:
                raise StoreError(STORE, operation, "the store is closed")
            with contextlib.ExitStack() as lent:
                try:
                    conn = lent.enter_context(self._pool.connection())
                except Exception as exc:  # the pool's own timeout is no psycopg error
                    raise store_error(operation, exc) from exc
                yield conn
            return
        with self._lock:
            if self._closed:
                raise StoreError(STORE, operation, "the store is closed")
            own = self._conn
            assert own is not None  # noqa: S101 - set in __init__ for these targets
            if own.closed or own.broken:
                if self._dsn is None:
                    raise StoreError(STORE, operation, "the given connection is closed")
                own = self._reopen()
            yield own

    def _reopen(self) -> Connection:
        """A new owned connection in place of a dropped one (the lock is held)."""
        conn = self._conn = self._connect()
        self._ready = False
        return conn

    def _connect(self) -> Connection:
        assert self._dsn is not None  # noqa: S101 - only owned sessions connect
        try:
            conn = psycopg.connect(self._dsn, autocommit=True)
        except psycopg.Error as exc:
            raise store_error("open", exc) from exc
        self._used[conn] = time.monotonic()  # a connection just made is alive
        return conn

    def _ensure(self, conn: Connection) -> None:
        """Create or migrate the component's tables, once per session."""
        if self._ready:
            return
        joined = in_transaction(conn)
        with conn.transaction():
            settled = migrate(_cursor(conn), self._component)
        # Tables this call created inside a host's transaction may yet be
        # rolled back with it: check again next time.
        self._ready = settled or not joined


class SessionStore:
    """A store on a `Session` over its `_component`'s tables.

    Opening and closing are the same for every PostgreSQL store; leaving the
    store's `with` block closes it.
    """

    _component: ClassVar[Component]
    """The tables the store keeps; each store sets its own."""

    def __init__(self, target: Target, *, attempts: int = DEFAULT_ATTEMPTS) -> None:
        """Open the store on `target`, creating or migrating its tables."""
        self._session = Session(target, self._component, attempts=attempts)

    def close(self) -> None:
        """Close the store's own connection; a given connection or pool stays open.

        Closing twice is harmless; any other use after closing raises
        `StoreError`.
        """
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
