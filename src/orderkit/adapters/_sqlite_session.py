"""What both SQLite stores share: the connection, its transactions, the schema.

A `Session` opens its own connection or joins a host's, runs each call in a
short `BEGIN IMMEDIATE` transaction or inside the host's open one, and turns
driver failures into `StoreError`. Each store declares its tables as a
`Component`; `orderkit_meta` keeps one version row per component, so the
stores may open a database in any order and each checks only its own tables.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, ClassVar, Final, Self, TypeVar, final

import attrs

from orderkit.errors import StoreError


T = TypeVar("T")

STORE: Final = "sqlite"
"""The store name every `StoreError` from these stores carries."""
DEFAULT_TIMEOUT: Final = 10.0
"""Seconds an owned connection waits for another process's write lock."""
WRITE_SAVEPOINT: Final = "orderkit_write"
"""The savepoint a write runs in when it shares a transaction with others."""
# What binding a value can raise besides the driver's own errors: text that is
# not valid UTF-8 (a lone surrogate) and integers beyond SQLite's 64 bits.
FAILURES: Final = (sqlite3.Error, UnicodeEncodeError, OverflowError)
"""The exceptions that become `StoreError`."""

_SCHEMA_SAVEPOINT = "orderkit_schema"
# The text and the row names are those of the first release's files, which
# must keep opening: the ledger's row is `schema_version`, as it was when the
# ledger was the only component.
_CREATE_META = (
    "CREATE TABLE orderkit_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
)
_HAS_META = (
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'orderkit_meta'"
)
_VERSION = "SELECT value FROM orderkit_meta WHERE name = ?"
_SET_VERSION = "INSERT INTO orderkit_meta (name, value) VALUES (?, ?)"
_UPDATE_VERSION = "UPDATE orderkit_meta SET value = ? WHERE name = ?"


# --------------------------------------------------------------------------
# Schema registry


@final
@attrs.frozen
class Component:
    """One store's tables, created together and versioned by one meta row."""

    row: str
    """Its row in `orderkit_meta`."""
    label: str
    """What an error calls its version: "the database's {label} version"."""
    version: int
    """The version this orderkit writes; a file holding a newer one is refused."""
    ddl: Sequence[str]
    """The statements that create the tables (names prefixed `orderkit_`)."""
    upgrades: Sequence[Sequence[str]] = ()
    """The statements that bring version `n` to `n + 1`, at index `n - 1`."""


_COMPONENTS: dict[str, Component] = {}


_WAITS: Final = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
# Values per `IN (...)` query: under the 999 parameters of SQLite before 3.32.
_IN_CHUNK: Final = 500
# Parameters per statement: the limit of SQLite before 3.32.
_MAX_PARAMETERS: Final = 999
# Multi-row forms of one-row INSERTs, by statement and row count.
_MANY_ROWS: dict[tuple[str, int], str] = {}
# `select_in`'s statements with their `IN (...)` lists, by statement and length.
_IN_QUERIES: dict[tuple[str, int], str] = {}


# A unit of work writes a row or two into some thirty B-trees, and a commit
# copies each page it dirtied into the WAL: small pages copy a quarter of the
# bytes. Checkpoints then fsync and copy pages back into the file: a longer
# WAL (at most about 16 MiB) lets one checkpoint write a hot page once for
# many commits. Measured on the desk benchmark: 1.25-1.3x the orders/s of
# SQLite's defaults (4 KiB pages, 1,000-page WAL).
_PAGE_SIZE: Final = 1024
_WAL_PAGES: Final = 16_000


def use_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Put the file in WAL mode with `synchronous = NORMAL`, waiting for writers.

    A file created here gets 1 KiB pages (SQLite keeps an existing file's
    page size), and the connection checkpoints when its WAL passes 16,000
    pages.

    Switching a file to WAL needs it to itself for a moment, and SQLite
    answers "busy" at once, without the connection's busy timeout, while
    another process writes (two processes opening a new file together, a
    host writing its own tables). So the switch is tried again until
    `timeout` seconds are up, as every other wait for the write lock is.

    Raises:
        sqlite3.OperationalError: Still busy after `timeout`, or another error.
    """
    # Before the first write, which fixes a new file's page size for good.
    conn.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            break
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code not in _WAITS or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"PRAGMA wal_autocheckpoint = {_WAL_PAGES}")


def declare(
    row: str,
    label: str,
    version: int,
    ddl: Sequence[str],
    upgrades: Sequence[Sequence[str]] = (),
) -> Component:
    """Register a store's tables under their own row of `orderkit_meta`.

    `ddl` creates the tables at `version`; `upgrades` bring a file at each
    earlier version to the next, one list of statements per version.

    Raises:
        ValueError: Another component already keeps its version in `row`,
            or `upgrades` do not lead from version 1 to `version`.
    """
    if len(upgrades) != version - 1:
        raise ValueError(f"{row!r} needs {version - 1} upgrades to reach {version}")
    component = Component(row, label, version, tuple(ddl), tuple(map(tuple, upgrades)))
    # Declaring the same tables again (a module reloaded) is harmless.
    if _COMPONENTS.setdefault(row, component) != component:
        raise ValueError(f"{row!r} already versions another component")
    return component


def _version(cur: sqlite3.Cursor, component: Component) -> int | None:
    """The component's version in the database; `None` if not created yet."""
    if not cur.execute(_HAS_META).fetchone()[0]:
        return None
    row = cur.execute(_VERSION, (component.row,)).fetchone()
    return None if row is None else int(row[0])


def _prepare(cur: sqlite3.Cursor, component: Component) -> None:
    """Create or upgrade the component's tables, inside the caller's transaction."""
    version = _version(cur, component)
    if version is None:
        if not cur.execute(_HAS_META).fetchone()[0]:
            cur.execute(_CREATE_META)
        for statement in component.ddl:
            cur.execute(statement)
        cur.execute(_SET_VERSION, (component.row, component.version))
    elif 1 <= version < component.version:
        for upgrade in component.upgrades[version - 1 :]:
            for statement in upgrade:
                cur.execute(statement)
        cur.execute(_UPDATE_VERSION, (component.version, component.row))
    elif version != component.version:
        newer = "newer than" if version > component.version else "unknown to"
        raise StoreError(
            STORE,
            "open",
            f"the database's {component.label} version {version} is {newer} this"
            f" orderkit (version {component.version})",
        )


# --------------------------------------------------------------------------
# Errors and savepoints


def store_error(operation: str, exc: BaseException) -> StoreError:
    """`exc` as the `StoreError` of `operation`, with `exc` as its cause."""
    error = StoreError(STORE, operation, str(exc))
    error.__cause__ = exc
    return error


def undo(cur: sqlite3.Cursor, savepoint: str) -> None:
    """Roll back to `savepoint` and drop it, if the transaction still exists."""
    # A failed statement may have ended the whole transaction already.
    with contextlib.suppress(sqlite3.Error):
        cur.execute(f"ROLLBACK TO {savepoint}")
        cur.execute(f"RELEASE {savepoint}")


def in_savepoint(
    cur: sqlite3.Cursor, savepoint: str | None, work: Callable[[], T]
) -> T:
    """Run `work()` in `savepoint` when joining a host's transaction.

    A failure then undoes this call's writes alone; the host's transaction
    goes on. In the session's own transaction (`savepoint` is `None`) the
    session rolls everything back instead.
    """
    if savepoint is None:
        return work()
    cur.execute(f"SAVEPOINT {savepoint}")
    try:
        result = work()
    except BaseException:
        undo(cur, savepoint)
        raise
    cur.execute(f"RELEASE {savepoint}")
    return result


def write_rows(
    cur: sqlite3.Cursor,
    savepoint: str | None,
    statement: str,
    rows: Sequence[Sequence[object]],
) -> None:
    """Write `rows` in order with the one-row `statement`, all or nothing.

    `statement` writes one row (`VALUES (?, ...)`, as for `insert_new`, and
    may go on with a conflict clause). Rows that fit in one statement go in
    one: SQLite writes its rows one after the other, as one statement each
    would (the same rowids; an upsert's later row updates what an earlier
    one wrote). Several rows go in `savepoint` (see `in_savepoint`; with
    `None`, the caller's transaction or savepoint undoes them): a statement
    is undone whole only when it aborts, and a host's trigger may make it
    fail instead, keeping its rows before the failing one.
    """
    count = len(rows)
    if count == 1:
        cur.execute(statement, rows[0])
    elif count and _fits(rows):
        query = _many_rows(statement, count)
        values = [value for row in rows for value in row]
        in_savepoint(cur, savepoint, lambda: cur.execute(query, values))
    elif count:
        in_savepoint(cur, savepoint, lambda: cur.executemany(statement, rows))


def insert_new(
    cur: sqlite3.Cursor, statement: str, rows: Sequence[Sequence[object]]
) -> bool:
    """Insert all `rows` in one statement if none of their keys is stored.

    `statement` inserts one row (`VALUES (?, ...)`, no conflict clause);
    here it takes every row at once. One statement is all or nothing on its
    own, so it needs no savepoint, and the store needs no read first: a key
    stored already fails it whole, with nothing written, and the caller
    then compares with what is stored, as a read first would have (False).
    So do rows too many for one statement.

    A statement that fails rather than aborts keeps its rows before the
    failing one: orderkit's tables take no such conflict clause, and a
    host's trigger on them must `RAISE(ABORT, ...)`, as the SQLite adapter
    documents.
    """
    if not rows or not _fits(rows):
        return False
    try:
        cur.execute(
            _many_rows(statement, len(rows)),
            [value for row in rows for value in row],
        )
    except sqlite3.IntegrityError:
        return False
    return True


def _fits(rows: Sequence[Sequence[object]]) -> bool:
    """Whether `rows` (not empty) fit the parameters of one statement."""
    return len(rows) * len(rows[0]) <= _MAX_PARAMETERS


def _many_rows(statement: str, count: int) -> str:
    """The one-row `statement` taking `count` rows, built once per count.

    Its `VALUES (...)` list, which holds no parentheses of its own, is
    repeated; whatever follows it (a conflict clause) stays after the last.
    """
    query = _MANY_ROWS.get((statement, count))
    if query is None:
        start = statement.index(" VALUES (") + len(" VALUES ")
        end = statement.index(")", start) + 1
        one = statement[start:end]
        if statement.count(" VALUES (") != 1 or "(" in one[1:]:
            raise ValueError(f"not a one-row VALUES statement: {statement}")
        query = _MANY_ROWS[statement, count] = (
            statement[:end] + f", {one}" * (count - 1) + statement[end:]
        )
    return query


def select_in(
    cur: sqlite3.Cursor,
    statement: str,
    values: Sequence[object],
    prefix: Sequence[object] = (),
) -> list[Any]:
    """The rows `statement` selects for `values`, in one query per chunk.

    `statement` has one `{}` where its `IN (...)` list goes, after the
    parameters in `prefix`. One query instead of one per value saves a
    statement per value; chunks stay under the oldest SQLite's limit of
    999 parameters.
    """
    rows: list[Any] = []
    for start in range(0, len(values), _IN_CHUNK):
        chunk = values[start : start + _IN_CHUNK]
        query = _IN_QUERIES.get((statement, len(chunk)))
        if query is None:
            query = _IN_QUERIES[statement, len(chunk)] = statement.format(
                ", ".join("?" * len(chunk))
            )
        rows.extend(cur.execute(query, (*prefix, *chunk)))
    return rows


# --------------------------------------------------------------------------
# Sessions


@final
class Session:
    """A store's connection, its lock, and the transactions it runs there.

    Given a path, the session owns a connection in autocommit mode, with WAL
    and `synchronous=NORMAL`, and creates or checks `component`'s tables at
    once. Given a connection, it changes none of its settings, never closes
    it, and checks the tables on first use, inside the host's transaction if
    one is open.

    Raises:
        StoreError: The file cannot be opened, is not a database, or holds
            tables from a newer orderkit.
    """

    __slots__ = ("_component", "_cur", "_lock", "_owned", "_ready", "conn", "joined")

    def __init__(
        self,
        target: str | os.PathLike[str] | sqlite3.Connection,
        component: Component,
        *,
        timeout: float,
    ) -> None:
        self._lock = threading.Lock()
        self._component = component
        self._ready = False
        self.joined: Callable[[], None] | None = None
        """Set by a unit of work holding the connection: called before every
        call, it makes sure the unit's transaction is open (or raises)."""
        if isinstance(target, sqlite3.Connection):
            self._owned = False
            self.conn = target
            self._cur = target.cursor()
            return
        self._owned = True
        try:
            self.conn = sqlite3.connect(
                target, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise store_error("open", exc) from exc
        self._cur = self.conn.cursor()
        try:
            use_wal(self.conn, timeout)
            self._ensure()
        except BaseException as exc:
            self.conn.close()
            if isinstance(exc, sqlite3.Error):
                raise store_error("open", exc) from exc
            raise

    def transact(
        self, operation: str, work: Callable[[sqlite3.Cursor, str | None], T]
    ) -> T:
        """Run `work(cursor, savepoint)` in the host's transaction or a new one.

        `savepoint` names the savepoint that `work` writes in when it joins
        the host's transaction; `None` when the session began its own, which
        it commits, or rolls back if `work` raises anything.

        Raises:
            StoreError: SQLite failed; nothing was written.
        """
        with self._lock:
            cur = self._cur
            try:
                self._ensure()
                if self.joined is not None:
                    self.joined()
                if self.conn.in_transaction:
                    return work(cur, WRITE_SAVEPOINT)
                cur.execute("BEGIN IMMEDIATE")
                try:
                    result = work(cur, None)
                    cur.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
            except FAILURES as exc:
                raise store_error(operation, exc) from exc
            return result

    def read(self, operation: str, work: Callable[[sqlite3.Cursor], T]) -> T:
        """Run `work(cursor)`: one statement, so one consistent snapshot.

        Raises:
            StoreError: SQLite failed.
        """
        with self._lock:
            try:
                self._ensure()
                if self.joined is not None:
                    self.joined()
                return work(self._cur)
            except FAILURES as exc:
                raise store_error(operation, exc) from exc

    def close(self) -> None:
        """Close an owned connection; leave a given one open."""
        with self._lock:
            if self._owned:
                self.conn.close()
            else:
                with contextlib.suppress(sqlite3.Error):
                    self._cur.close()

    def _rollback(self) -> None:
        # SQLite may have rolled back already (a failed COMMIT, a full disk).
        if self.conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._cur.execute("ROLLBACK")

    def _ensure(self) -> None:
        """Create or check the component's tables, once per connection."""
        if self._ready:
            return
        cur = self._cur
        component = self._component
        if self.conn.in_transaction:
            # Not marked ready: the host may yet roll back what this creates.
            cur.execute(f"SAVEPOINT {_SCHEMA_SAVEPOINT}")
            try:
                _prepare(cur, component)
            except BaseException:
                undo(cur, _SCHEMA_SAVEPOINT)
                raise
            cur.execute(f"RELEASE {_SCHEMA_SAVEPOINT}")
            return
        if _version(cur, component) != component.version:
            cur.execute("BEGIN IMMEDIATE")
            try:
                _prepare(cur, component)
                cur.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        self._ready = True


class SessionStore:
    """A store on a `Session` over its `_component`'s tables.

    Opening and closing are the same for every SQLite store; leaving the
    store's `with` block closes it.
    """

    _component: ClassVar[Component]
    """The tables the store keeps; each store sets its own."""

    def __init__(
        self,
        target: str | os.PathLike[str] | sqlite3.Connection,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Open the store on `target`, creating its tables if missing."""
        self._session = Session(target, self._component, timeout=timeout)

    def close(self) -> None:
        """Close the store's own connection; a given connection stays open.

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
