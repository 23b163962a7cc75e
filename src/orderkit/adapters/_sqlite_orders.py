"""`SqliteOrderStore` and `SqliteAuditLog`: orders and their trail as documents."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, TypeVar, final

import pendulum

from orderkit.adapters._documents import Documents, Remembered
from orderkit.adapters._memory_orders import (
    audit_conflict,
    check_key,
    check_records,
    check_save,
    conflict,
    new_records,
)
from orderkit.adapters._micros import to_us
from orderkit.adapters._order_listing import AuditListing, OrderListing, Undated
from orderkit.adapters._sqlite_session import (
    DEFAULT_TIMEOUT,
    SessionStore,
    declare,
    insert_new,
    select_in,
    write_rows,
)
from orderkit.orders import AuditRecord, Order, waits
from orderkit.serialization import make_converter


T = TypeVar("T")

ORDERS_SCHEMA_VERSION: Final = 3
"""The version of the order tables this module writes, kept in `orderkit_meta`."""
# Whether a version 1 document's order waits (`orderkit.orders.waits`), read
# from its JSON. A document not shaped as orderkit writes an order (not
# JSON, or JSON without the keys `saga`, `review` and `after_sales`: a
# host's converter) counts as waiting, which costs a read, never a missed
# saga. CASE, not AND or OR: SQLite does not promise to skip the JSON
# functions on text that is not JSON.
_WAITS_IN_JSON = (
    "CASE WHEN NOT json_valid(d) THEN 1"
    " WHEN json_type(d, '$.saga') IS NULL"
    " OR coalesce(json_type(d, '$.review'), '') != 'array'"
    " OR coalesce(json_type(d, '$.after_sales'), '') != 'array' THEN 1"
    " ELSE json_type(d, '$.saga') != 'null'"
    " OR json_array_length(d, '$.review') > 0"
    " OR EXISTS (SELECT 1 FROM json_each(d, '$.after_sales')"
    " WHERE json_extract(value, '$.state') = 'inspected') END"
)
_FILL_WAITING = (
    "UPDATE orderkit_orders SET waiting = (SELECT"  # noqa: S608 - constants only
    f" {_WAITS_IN_JSON} FROM (SELECT CAST(document AS TEXT) AS d))"
)
# A stored instant as `to_us` writes it, read from the text orderkit's
# converter writes (`2026-11-11T00:05:00Z`, or with six digits of fraction);
# NULL for any other text, whose document the store reads instead. The
# fields are checked first: SQLite rolls 30 February or 24:00 over into
# another instant, which Python refuses to read. (Not by a round trip:
# SQLite's instant-to-date is off on some days before 1582, such as 1
# March 300, though its date-to-instant is exact from year 1 to 9999.)
_ISO_GLOB = (
    "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]"
)
_Y, _M, _D = (
    f"CAST(substr(t, {at}, {n}) AS INTEGER)" for at, n in ((1, 4), (6, 2), (9, 2))
)
_LEAP = f"({_Y} % 4 = 0 AND ({_Y} % 100 != 0 OR {_Y} % 400 = 0))"
_DAYS = f"CASE {_M} WHEN 2 THEN 28 + {_LEAP} ELSE 30 + ({_M} + {_M} / 8) % 2 END"
_US_OF_ISO = (
    f"CASE WHEN (t GLOB {_ISO_GLOB}Z'"
    f" OR t GLOB {_ISO_GLOB}.[0-9][0-9][0-9][0-9][0-9][0-9]Z')"
    f" AND {_Y} >= 1 AND {_M} BETWEEN 1 AND 12 AND {_D} BETWEEN 1 AND {_DAYS}"
    " AND substr(t, 12, 2) < '24' AND substr(t, 15, 2) < '60'"
    " AND substr(t, 18, 2) < '60'"
    " THEN CAST(strftime('%s', substr(t, 1, 10) || ' ' || substr(t, 12, 8))"
    " AS INTEGER) * 1000000"
    " + CASE WHEN length(t) = 27 THEN CAST(substr(t, 21, 6) AS INTEGER) ELSE 0 END"
    " END"
)


def _fill_instant(table: str, column: str, document: str) -> str:
    """The statement that fills `column` from the instant of the same name."""
    # CASE first: SQLite does not promise to skip json_extract on text that
    # is not JSON, which it refuses.
    return (
        f"UPDATE {table} SET {column} = (SELECT {_US_OF_ISO} FROM"  # noqa: S608 - constants only
        f" (SELECT CASE WHEN json_valid(d) THEN json_extract(d, '$.{column}')"
        f" END AS t FROM (SELECT CAST({document} AS TEXT) AS d)))"
    )


_PLACED_INDEX = (
    "CREATE INDEX orderkit_orders_placed"
    " ON orderkit_orders (placed_at, channel, order_id)"
)
_RECORDED_INDEX = (
    "CREATE INDEX orderkit_audit_recorded"
    " ON orderkit_audit (recorded_at, channel, order_id, version)"
)
_WAITING_INDEX = (
    "CREATE INDEX orderkit_orders_waiting"
    " ON orderkit_orders (channel, order_id) WHERE waiting = 1"
)
ORDERS = declare(
    "orders_schema_version",
    "order schema",
    ORDERS_SCHEMA_VERSION,
    (
        # A rowid table: documents run to kilobytes, which WITHOUT ROWID
        # tables store badly. The order is one document; the columns beside
        # it are what is looked up.
        (
            "CREATE TABLE orderkit_orders ("
            " channel TEXT NOT NULL, order_id TEXT NOT NULL,"
            " version INTEGER NOT NULL, status TEXT NOT NULL,"
            " document BLOB NOT NULL, waiting INTEGER NOT NULL,"
            # NULL: not known from an upgraded row's document (see
            # `_fill_instant`); the store reads that document instead.
            " placed_at INTEGER, UNIQUE (channel, order_id))"
        ),
        (
            "CREATE INDEX orderkit_orders_status"
            " ON orderkit_orders (status, channel, order_id)"
        ),
        _WAITING_INDEX,
        _PLACED_INDEX,
    ),
    upgrades=(
        (
            # Without a default: an older orderkit still running inserts
            # without the column, which the trigger refuses, rather than an
            # order lost to `waiting()`.
            "ALTER TABLE orderkit_orders ADD COLUMN waiting INTEGER",
            _FILL_WAITING,
            _WAITING_INDEX,
            (
                "CREATE TRIGGER orderkit_orders_waiting_set"
                " BEFORE INSERT ON orderkit_orders WHEN NEW.waiting IS NULL"
                " BEGIN SELECT RAISE(ABORT, 'orderkit_orders.waiting is not set:"
                " an older orderkit writes to a newer table'); END"
            ),
        ),
        (
            "ALTER TABLE orderkit_orders ADD COLUMN placed_at INTEGER",
            _fill_instant("orderkit_orders", "placed_at", "document"),
            _PLACED_INDEX,
        ),
    ),
)
"""The order table, versioned by the `orders_schema_version` row.

Version 2 added the `waiting` column and its index, version 3 the
`placed_at` column and its index; opening an older file adds them, filled
from the documents.
"""
AUDIT_SCHEMA_VERSION: Final = 2
"""The version of the audit table this module writes, kept in `orderkit_meta`."""
AUDIT = declare(
    "audit_schema_version",
    "audit schema",
    AUDIT_SCHEMA_VERSION,
    (
        (
            "CREATE TABLE orderkit_audit ("
            " channel TEXT NOT NULL, order_id TEXT NOT NULL,"
            " version INTEGER NOT NULL, record BLOB NOT NULL,"
            # NULL as `placed_at` of the orders.
            " recorded_at INTEGER, PRIMARY KEY (channel, order_id, version))"
        ),
        _RECORDED_INDEX,
    ),
    upgrades=(
        (
            "ALTER TABLE orderkit_audit ADD COLUMN recorded_at INTEGER",
            _fill_instant("orderkit_audit", "recorded_at", "record"),
            _RECORDED_INDEX,
        ),
    ),
)
"""The audit table, versioned by the `audit_schema_version` row.

Version 2 added the `recorded_at` column and its index; opening a version 1
file adds them, filled from the records.
"""

_GET = "SELECT document FROM orderkit_orders WHERE channel = ? AND order_id = ?"
_INSERT = (
    "INSERT INTO orderkit_orders"
    " (channel, order_id, version, status, document, waiting, placed_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel, order_id) DO NOTHING"
)
_UPDATE = (
    "UPDATE orderkit_orders SET version = ?3, status = ?4, document = ?5,"
    " waiting = ?6, placed_at = ?7"
    " WHERE channel = ?1 AND order_id = ?2 AND version = ?8"
)
# Row values compare column by column, TEXT by bytes: UTF-8 byte order is
# code point order, as Python sorts strings. A status gets a query of its
# own: "?1 IS NULL OR status = ?1" would walk every order's row.
_LIST = (
    "SELECT document FROM orderkit_orders WHERE (channel, order_id) > (?, ?)"
    " ORDER BY channel, order_id LIMIT ?"
)
_LIST_STATUS = (
    "SELECT document FROM orderkit_orders"
    " WHERE status = ? AND (channel, order_id) > (?, ?)"
    " ORDER BY channel, order_id LIMIT ?"
)
# The literal 1, not a parameter: SQLite uses a partial index only for a
# query whose terms name its condition.
_LIST_WAITING = (
    "SELECT document FROM orderkit_orders"
    " WHERE waiting = 1 AND (channel, order_id) > (?, ?)"
    " ORDER BY channel, order_id LIMIT ?"
)
# Row values again: the index serves the window and the page's start.
_LIST_PLACED = (
    "SELECT document FROM orderkit_orders"
    " WHERE placed_at >= ? AND placed_at < ?"
    " AND (placed_at, channel, order_id) > (?, ?, ?)"
    " ORDER BY placed_at, channel, order_id LIMIT ?"
)
_PLACED_UNDATED = Undated(
    "SELECT channel, order_id FROM orderkit_orders WHERE placed_at IS NULL",
    "SELECT channel, order_id, document FROM orderkit_orders WHERE placed_at IS NULL",
    "SELECT document FROM orderkit_orders WHERE channel = ? AND order_id = ?",
)
_LIST_RECORDED = (
    "SELECT channel, record FROM orderkit_audit"
    " WHERE recorded_at >= ? AND recorded_at < ?"
    " AND (recorded_at, channel, order_id, version) > (?, ?, ?, ?)"
    " ORDER BY recorded_at, channel, order_id, version LIMIT ?"
)
_RECORDED_UNDATED = Undated(
    "SELECT channel, order_id, version FROM orderkit_audit WHERE recorded_at IS NULL",
    (
        "SELECT channel, order_id, version, record FROM orderkit_audit"
        " WHERE recorded_at IS NULL"
    ),
    (
        "SELECT record FROM orderkit_audit"
        " WHERE channel = ? AND order_id = ? AND version = ?"
    ),
)
_RECORD = (
    "SELECT version, record FROM orderkit_audit"
    " WHERE channel = ? AND order_id = ? AND version IN ({})"
)
_NEW_RECORD = (
    "INSERT INTO orderkit_audit (channel, order_id, version, record, recorded_at)"
    " VALUES (?, ?, ?, ?, ?)"
)
_RECORDS = (
    "SELECT record FROM orderkit_audit"
    " WHERE channel = ? AND order_id = ? ORDER BY version"
)


class _DocumentStore(SessionStore):
    """A store whose values are documents written by a converter."""

    def __init__(
        self,
        target: str | os.PathLike[str] | sqlite3.Connection,
        *,
        converter: Documents | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Open the store on `target`, creating its tables if missing."""
        super().__init__(target, timeout=timeout)
        self._converter = Remembered(
            make_converter() if converter is None else converter
        )
        self._undated_at: dict[tuple[Any, ...], pendulum.DateTime] = {}


@final
class SqliteOrderStore(_DocumentStore, OrderListing):
    """An `OrderStore` in SQLite: one file, any number of processes.

    `target` is a file path, `":memory:"`, or an open `sqlite3.Connection`,
    exactly as for `SqliteLedgerStore`, and the stores may share a file or
    a connection. `converter` is `orderkit.serialization.make_converter()`
    (or one configured alike): each order is kept whole, as one JSON
    document, beside the columns it is looked up by (channel, id, version,
    status), so fields an order gains later need no new columns.

    **Transactions.** Given a path (or `":memory:"`), every `save` is one
    short `BEGIN IMMEDIATE` transaction on the store's own connection
    (autocommit mode, WAL, `synchronous=NORMAL`, waiting up to `timeout`
    seconds for the lock): the compare-and-set is one conditional statement
    under the write lock, so of racing writers expecting one version exactly
    one wins.

    **Joined sessions.** Given a connection inside a transaction (a
    `SqliteUnitOfWork`'s), the store joins it, neither beginning nor
    committing, and writes in a `SAVEPOINT`, so a failed call undoes only its
    own writes. Given a connection outside a transaction, the store opens and
    commits its own. The store never changes a given connection's settings
    and never closes it.

    **Reading.** The store keeps the last 2,048 documents it wrote or
    read, each with its value, under the document's bytes: reading the same
    bytes again hands back that value, unparsed (orders are immutable; an
    order saved comes back as it was saved, as from the memory store), so
    a saga that saves an order and reads it back parses nothing. A row
    another process changed, or a write a rolled-back transaction made,
    reads as other bytes, and is parsed afresh.

    **Threads.** One connection per store behind a lock; give each process
    its own store.

    **Schema.** The table `orderkit_orders` is created on first use,
    versioned by its own row of `orderkit_meta`. An older file gains the
    `waiting` column (version 2) and the `placed_at` column (version 3) on
    the first open by this orderkit, filled from the stored documents:
    stop every process of the older orderkit first (inserts by a version 1
    orderkit are refused after it). A document whose placed instant is not
    in orderkit's text (a host converter's) is left undated in its row:
    `placed_between` reads its document once per store to date it, until
    the order is saved again.

    **Errors.** Every `sqlite3.Error` becomes `StoreError("sqlite",
    operation, detail)` with the driver's error as its cause, after rolling
    back. orderkit's own errors propagate unchanged, writing nothing; a
    stored document the converter cannot read raises its `StructureError`.

    Args:
        target: A file path, `":memory:"`, or an open connection.
        converter: Writes and reads the documents;
            `orderkit.serialization.make_converter()` by default.
        timeout: Seconds to wait for another process's write lock (paths only).

    Raises:
        StoreError: The file cannot be opened, is not a database, or holds a
            schema from a newer orderkit.

    .. versionadded:: 0.1.0
    """

    _component = ORDERS
    _every = _LIST
    _of_status = _LIST_STATUS
    _waiting = _LIST_WAITING
    _placed = _LIST_PLACED
    _placed_undated = _PLACED_UNDATED

    def get(self, channel: str, order_id: str) -> Order | None:
        """Return the stored order, or `None`.

        Raises:
            ValidationError: Bad channel or order id.
            StoreError: SQLite failed.
        """
        key = check_key(channel, order_id)
        row = self._session.read("get", lambda cur: cur.execute(_GET, key).fetchone())
        return None if row is None else self._converter.loads(row[0], Order)

    def save(self, order: Order, expected_version: int | None) -> None:
        """Store `order` if the stored version is `expected_version`.

        See `orderkit.ports.OrderStore`.

        Raises:
            ValidationError: Bad arguments; nothing changed.
            ConcurrencyConflict: The stored version is not the expected one;
                nothing changed.
            StoreError: SQLite failed; nothing changed.
        """
        order, expected = check_save(order, expected_version)
        key = (order.channel, order.order_id)
        values = (
            *key,
            order.version,
            order.status.value,
            self._converter.dumps(order),
            int(waits(order)),
            to_us(order.placed_at),
        )

        def work(cur: sqlite3.Cursor, _savepoint: str | None) -> None:
            # One statement: SQLite undoes it alone if it fails, no savepoint.
            if expected is None:
                saved = cur.execute(_INSERT, values).rowcount
            else:
                saved = cur.execute(_UPDATE, (*values, expected)).rowcount
            if not saved:
                raise conflict(*key)

        self._session.transact("save", work)


@final
class SqliteAuditLog(_DocumentStore, AuditListing):
    """An `AuditLog` in SQLite, alone or beside the other stores.

    `target`, `converter` and `timeout` are as for `SqliteOrderStore`, and
    so are transactions, joined sessions, threads, reading and errors. Each
    record is one JSON document under its `(channel, order_id, version)`;
    records compare equal when their documents are the same bytes.

    **Schema.** The table `orderkit_audit` is created on first use,
    versioned by its own row of `orderkit_meta`. A file of version 1 gains
    the `recorded_at` column on the first open by this orderkit, filled
    from the stored records; a record it cannot date is dated by
    `recorded_between` as `placed_between` dates an order.

    Args:
        target: A file path, `":memory:"`, or an open connection.
        converter: Writes and reads the documents;
            `orderkit.serialization.make_converter()` by default.
        timeout: Seconds to wait for another process's write lock (paths only).

    Raises:
        StoreError: The file cannot be opened, is not a database, or holds a
            schema from a newer orderkit.

    .. versionadded:: 0.1.0
    """

    _component = AUDIT
    _recorded = _LIST_RECORDED
    _recorded_undated = _RECORDED_UNDATED

    def append(self, channel: str, records: Sequence[AuditRecord]) -> None:
        """Store the records, skipping those stored; all or nothing.

        See `orderkit.ports.AuditLog`.

        Raises:
            ValidationError: Bad channel or records; nothing was stored.
            ConcurrencyConflict: A record differs from the one stored under
                its order and version; nothing was stored.
            StoreError: SQLite failed; nothing was stored.
        """
        name, checked = check_records(channel, records)
        documents = {id(r): self._converter.dumps(r) for r in checked}

        def work(cur: sqlite3.Cursor, savepoint: str | None) -> None:
            # One new record, the usual case: one statement. Several are
            # read first, so that a batch of stored and new records takes
            # two statements, never three.
            if len(checked) == 1:
                (r,) = checked
                row = (
                    name,
                    r.order_id,
                    r.version,
                    documents[id(r)],
                    to_us(r.recorded_at),
                )
                if insert_new(cur, _NEW_RECORD, [row]):
                    return
            versions: dict[str, list[int]] = {}
            for record in checked:
                versions.setdefault(record.order_id, []).append(record.version)
            found = {
                (order_id, version): bytes(document)
                for order_id, wanted in versions.items()
                for version, document in select_in(
                    cur, _RECORD, wanted, (name, order_id)
                )
            }
            stored: dict[tuple[str, int], AuditRecord] = {}
            for record in checked:
                document = found.get((record.order_id, record.version))
                if document is None:
                    continue
                if document != documents[id(record)]:
                    raise audit_conflict(name, record)
                stored[record.order_id, record.version] = record
            fresh = new_records(
                name, checked, lambda order_id, v: stored.get((order_id, v))
            )
            rows = [
                (name, r.order_id, r.version, documents[id(r)], to_us(r.recorded_at))
                for r in fresh
            ]
            write_rows(cur, savepoint, _NEW_RECORD, rows)

        self._session.transact("append", work)

    def records(self, channel: str, order_id: str) -> Sequence[AuditRecord]:
        """Return the order's records in version order.

        Raises:
            ValidationError: Bad channel or order id.
            StoreError: SQLite failed.
        """
        key = check_key(channel, order_id)
        rows = self._session.read(
            "records", lambda cur: cur.execute(_RECORDS, key).fetchall()
        )
        return [self._converter.loads(row[0], AuditRecord) for row in rows]


def holds_orders(path: str | os.PathLike[str]) -> bool:
    """Whether the SQLite file at `path` holds orderkit's orders table.

    Read only: unlike opening a store, it creates nothing. `False` for a
    file that is not a SQLite database at all.

    .. versionadded:: 0.1.0
    """
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            found = db.execute(
                "SELECT 1 FROM sqlite_master"
                " WHERE type = 'table' AND name = 'orderkit_orders'"
            ).fetchone()
    except sqlite3.Error:
        return False
    return found is not None
