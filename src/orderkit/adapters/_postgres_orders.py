"""`PostgresOrderStore` and `PostgresAuditLog`: orders and their trail as documents.

Documents are `bytea`: the converter's own JSON bytes, kept verbatim. `jsonb`
would reorder keys and drop the bytes' identity (audit records compare by
their bytes), and refuses the escaped NUL character a buyer's text may carry;
`text` would tie the bytes to the server's encoding. Decimal amounts are
strings in that JSON, so they come back exactly either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, final

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
from orderkit.adapters._postgres_session import (
    DEFAULT_ATTEMPTS,
    Cursor,
    SessionStore,
    Target,
    declare,
)
from orderkit.orders import AuditRecord, Order, waits
from orderkit.serialization import make_converter


WAITS_FUNCTION: Final = """
CREATE FUNCTION pg_temp.orderkit_waits(document bytea) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    d json;
BEGIN
    -- PostgreSQL refuses to read a string holding an escaped NUL, even
    -- to step over it: the escape becomes another, which leaves the JSON
    -- as it was around the strings.
    d := replace(convert_from(document, 'UTF8'), '\\u0000', '\\u0001')::json;
    -- Not shaped as orderkit writes an order (a host's converter): counted
    -- as waiting, which costs a read, never a missed saga.
    IF json_typeof(d) IS DISTINCT FROM 'object'
        OR d -> 'saga' IS NULL
        OR json_typeof(d -> 'review') IS DISTINCT FROM 'array'
        OR json_typeof(d -> 'after_sales') IS DISTINCT FROM 'array'
    THEN
        RETURN true;
    END IF;
    RETURN json_typeof(d -> 'saga') <> 'null'
        OR json_array_length(d -> 'review') > 0
        OR EXISTS (
            SELECT 1 FROM json_array_elements(d -> 'after_sales') AS c
            WHERE c ->> 'state' = 'inspected'
        );
EXCEPTION WHEN others THEN
    -- Not JSON at all: counted as waiting too.
    RETURN true;
END
$$
"""
"""Whether a stored document's order waits, read from its JSON (for a migration)."""
INSTANT_FUNCTION: Final = r"""
CREATE FUNCTION pg_temp.orderkit_instant(document bytea, name text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    t text;
    at timestamptz;
BEGIN
    -- The NUL escape as in orderkit_waits.
    t := replace(convert_from(document, 'UTF8'), '\u0000', '\u0001')::json ->> name;
    -- Only the text orderkit's converter writes; any other leaves the
    -- column NULL, and the store reads that document instead.
    IF t IS NULL OR t !~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$' THEN
        RETURN NULL;
    END IF;
    at := t::timestamptz;
    -- What the server would roll over (24:00, a leap second) Python
    -- cannot read: refused as the text orderkit never writes.
    IF to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') <> left(t, 19) THEN
        RETURN NULL;
    END IF;
    -- Whole seconds, then the microseconds: exact, whatever type extract
    -- returns on this server.
    RETURN extract(epoch FROM date_trunc('second', at))::bigint * 1000000
        + extract(microseconds FROM at)::bigint % 1000000;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$
"""
"""A document's instant `name` in microseconds, from its JSON (for a migration)."""
_PLACED_INDEX: Final = (
    "CREATE INDEX orderkit_orders_placed"
    " ON orderkit_orders (placed_at, channel, order_id)"
)
ORDERS = declare(
    "orders_schema_version",
    "order schema",
    (
        (
            # The order id leads the key, so the table can be distributed
            # (Citus) or hash-partitioned by order without code changes.
            # "C" collation: keys compare by bytes, i.e. by code point, as
            # Python sorts the listing, whatever the database's locale.
            (
                "CREATE TABLE orderkit_orders ("
                ' order_id text COLLATE "C" NOT NULL,'
                ' channel text COLLATE "C" NOT NULL,'
                " version bigint NOT NULL, status text NOT NULL,"
                " document bytea NOT NULL, PRIMARY KEY (order_id, channel))"
            ),
            # The listing pages by (channel, order_id), which the key, led
            # by the order id, cannot serve.
            (
                "CREATE INDEX orderkit_orders_listing"
                " ON orderkit_orders (channel, order_id)"
            ),
            (
                "CREATE INDEX orderkit_orders_status"
                " ON orderkit_orders (status, channel, order_id)"
            ),
        ),
        # Whether the order waits (`orderkit.orders.waits`), which `save`
        # keeps; the orders stored before are read from their JSON.
        (
            (
                "ALTER TABLE orderkit_orders"
                " ADD COLUMN waiting boolean NOT NULL DEFAULT false"
            ),
            WAITS_FUNCTION,
            (
                "UPDATE orderkit_orders SET waiting = true"
                " WHERE pg_temp.orderkit_waits(document)"
            ),
            "DROP FUNCTION pg_temp.orderkit_waits(bytea)",
            # An older orderkit still running would insert without the
            # column: refused, rather than an order lost to `waiting()`.
            "ALTER TABLE orderkit_orders ALTER COLUMN waiting DROP DEFAULT",
            (
                "CREATE INDEX orderkit_orders_waiting"
                " ON orderkit_orders (channel, order_id) WHERE waiting"
            ),
        ),
        # When the order was placed, which `save` keeps, for
        # `placed_between`; NULL where a document does not say it in
        # orderkit's text (a host's converter), which the store then reads.
        (
            "ALTER TABLE orderkit_orders ADD COLUMN placed_at bigint",
            INSTANT_FUNCTION,
            (
                "UPDATE orderkit_orders"
                " SET placed_at = pg_temp.orderkit_instant(document, 'placed_at')"
            ),
            "DROP FUNCTION pg_temp.orderkit_instant(bytea, text)",
            _PLACED_INDEX,
        ),
    ),
)
"""The order table, versioned by the `orders_schema_version` row."""
AUDIT = declare(
    "audit_schema_version",
    "audit schema",
    (
        (
            # Led by the order id, like the orders, so an order's trail
            # lives beside it when distributed.
            (
                "CREATE TABLE orderkit_audit ("
                ' order_id text COLLATE "C" NOT NULL,'
                ' channel text COLLATE "C" NOT NULL,'
                " version bigint NOT NULL, record bytea NOT NULL,"
                " PRIMARY KEY (order_id, channel, version))"
            ),
        ),
        # When each record was recorded, for `recorded_between`: NULL as
        # the orders' `placed_at`.
        (
            "ALTER TABLE orderkit_audit ADD COLUMN recorded_at bigint",
            INSTANT_FUNCTION,
            (
                "UPDATE orderkit_audit"
                " SET recorded_at = pg_temp.orderkit_instant(record, 'recorded_at')"
            ),
            "DROP FUNCTION pg_temp.orderkit_instant(bytea, text)",
            (
                "CREATE INDEX orderkit_audit_recorded"
                " ON orderkit_audit (recorded_at, channel, order_id, version)"
            ),
        ),
    ),
)
"""The audit table, versioned by the `audit_schema_version` row."""

_GET = "SELECT document FROM orderkit_orders WHERE channel = %s AND order_id = %s"
# Inside a host's or a unit's transaction the row stays locked until it
# ends: read-modify-write units on one order queue up instead of conflicting.
_GET_LOCKED = f"{_GET} FOR UPDATE"
_INSERT = (
    "INSERT INTO orderkit_orders"
    " (channel, order_id, version, status, document, waiting, placed_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (order_id, channel) DO NOTHING"
)
# The row lock makes a racing writer wait, then re-check the version it
# expected against the winner's row: of racers exactly one updates.
_UPDATE = (
    "UPDATE orderkit_orders SET version = %s, status = %s, document = %s,"
    " waiting = %s, placed_at = %s"
    " WHERE channel = %s AND order_id = %s AND version = %s"
)
# Two statements rather than "status IS NULL OR ...": a prepared statement's
# generic plan could then use neither index.
_LIST = (
    "SELECT document FROM orderkit_orders WHERE (channel, order_id) > (%s, %s)"
    " ORDER BY channel, order_id LIMIT %s"
)
_LIST_STATUS = (
    "SELECT document FROM orderkit_orders"
    " WHERE status = %s AND (channel, order_id) > (%s, %s)"
    " ORDER BY channel, order_id LIMIT %s"
)
_LIST_WAITING = (
    "SELECT document FROM orderkit_orders"
    " WHERE waiting AND (channel, order_id) > (%s, %s)"
    " ORDER BY channel, order_id LIMIT %s"
)
_LIST_PLACED = (
    "SELECT document FROM orderkit_orders"
    " WHERE placed_at >= %s AND placed_at < %s"
    " AND (placed_at, channel, order_id) > (%s, %s, %s)"
    " ORDER BY placed_at, channel, order_id LIMIT %s"
)
_PLACED_UNDATED = Undated(
    "SELECT channel, order_id FROM orderkit_orders WHERE placed_at IS NULL",
    "SELECT channel, order_id, document FROM orderkit_orders WHERE placed_at IS NULL",
    "SELECT document FROM orderkit_orders WHERE channel = %s AND order_id = %s",
)
_LIST_RECORDED = (
    "SELECT channel, record FROM orderkit_audit"
    " WHERE recorded_at >= %s AND recorded_at < %s"
    " AND (recorded_at, channel, order_id, version) > (%s, %s, %s, %s)"
    " ORDER BY recorded_at, channel, order_id, version LIMIT %s"
)
_RECORDED_UNDATED = Undated(
    "SELECT channel, order_id, version FROM orderkit_audit WHERE recorded_at IS NULL",
    (
        "SELECT channel, order_id, version, record FROM orderkit_audit"
        " WHERE recorded_at IS NULL"
    ),
    (
        "SELECT record FROM orderkit_audit"
        " WHERE channel = %s AND order_id = %s AND version = %s"
    ),
)
_RECORDS_AT = (
    "SELECT order_id, version, record FROM orderkit_audit"
    " WHERE channel = %s AND (order_id, version) IN"
    " (SELECT * FROM unnest(%s::text[], %s::bigint[]))"
)
_NEW_RECORD = (
    "INSERT INTO orderkit_audit (channel, order_id, version, record, recorded_at)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (order_id, channel, version) DO NOTHING"
)
_RECORDS = (
    "SELECT record FROM orderkit_audit"
    " WHERE channel = %s AND order_id = %s ORDER BY version"
)

_AuditKey = tuple[str, int]


class _DocumentStore(SessionStore):
    """A store whose values are documents written by a converter."""

    def __init__(
        self,
        target: Target,
        *,
        converter: Documents | None = None,
        attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        """Open the store on `target`, creating or migrating its tables."""
        super().__init__(target, attempts=attempts)
        self._converter = Remembered(
            make_converter() if converter is None else converter
        )
        self._undated_at: dict[tuple[Any, ...], pendulum.DateTime] = {}


@final
class PostgresOrderStore(_DocumentStore, OrderListing):
    """An `OrderStore` in PostgreSQL: any number of processes and app servers.

    `target` is a DSN (the store opens and owns one connection), a host's
    `psycopg.Connection`, or a host's pool (`psycopg_pool.ConnectionPool`).
    `converter` is `orderkit.serialization.make_converter()` (or one
    configured alike): each order is kept whole, as one JSON document
    (`bytea`, the converter's bytes verbatim), beside the columns it is
    looked up by (channel, id, version, status), so fields an order gains
    later need no new columns.

    **Transactions.** Every `save` is one conditional statement: an insert
    that does nothing when the order exists, or an update of the row at the
    expected version. A racing writer waits for the row, then finds the
    version moved: of writers expecting one version exactly one wins, in any
    process, at READ COMMITTED.

    **Joined sessions.** Given a connection inside a transaction (a
    `PostgresUnitOfWork`'s or the host's), the store joins it, neither
    beginning nor committing, and writes in a savepoint, so a failed call
    undoes only its own writes. Given a connection or a pool, `get` reads
    the row `FOR UPDATE`: inside the host's transaction it stays locked until
    the transaction ends, so units that read, change and save one order run
    one after the other instead of failing. Given a DSN, `get` locks nothing.
    The store never changes a given connection's settings and never closes
    it or the pool.

    **Reading.** The store keeps the last 2,048 documents it wrote or
    read, each with its value, under the document's bytes: reading the same
    bytes again hands back that value, unparsed (orders are immutable; an
    order saved comes back as it was saved, as from the memory store), so
    a saga that saves an order and reads it back parses nothing. A row
    another process changed, or a write a rolled-back transaction made,
    reads as other bytes, and is parsed afresh.

    **Schema.** The table `orderkit_orders` (primary key `(order_id,
    channel)`, so it can be distributed by order) is created on first use,
    versioned by its own row of `orderkit_meta`. An older database gains
    the `waiting` column (version 2) and the `placed_at` column (version 3)
    on the first open by this orderkit, filled from the stored documents:
    stop every process of the older orderkit first (inserts by a version 1
    orderkit are refused after it). A document whose placed instant is not
    in orderkit's text (a host converter's) is left undated in its row:
    `placed_between` reads its document once per store to date it, until
    the order is saved again.

    **Errors.** Every psycopg error becomes `StoreError("postgres",
    operation, detail)` with the driver's error as its cause, after rolling
    back; serialization failures and deadlocks are retried, then raised as
    `ConcurrencyConflict`. orderkit's own errors propagate unchanged,
    writing nothing; a stored document the converter cannot read raises its
    `StructureError`.

    Args:
        target: A DSN, an open connection, or a pool.
        converter: Writes and reads the documents;
            `orderkit.serialization.make_converter()` by default.
        attempts: How often a call in its own transaction runs before a
            serialization failure is raised.

    Raises:
        StoreError: The server cannot be reached, or holds a schema from a
            newer orderkit.

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

        On a given connection or pool the row is read `FOR UPDATE`: inside
        a transaction it stays locked until the transaction ends.

        Raises:
            ValidationError: Bad channel or order id.
            StoreError: PostgreSQL failed.
        """
        key = check_key(channel, order_id)
        query = _GET if self._session.owned else _GET_LOCKED
        row = self._session.read("get", lambda cur: cur.execute(query, key).fetchone())
        return None if row is None else self._converter.loads(row[0], Order)

    def save(self, order: Order, expected_version: int | None) -> None:
        """Store `order` if the stored version is `expected_version`.

        See `orderkit.ports.OrderStore`.

        Raises:
            ValidationError: Bad arguments; nothing changed.
            ConcurrencyConflict: The stored version is not the expected one;
                nothing changed.
            StoreError: PostgreSQL failed; nothing changed.
        """
        order, expected = check_save(order, expected_version)
        key = (order.channel, order.order_id)
        fields = (
            order.version,
            order.status.value,
            self._converter.dumps(order),
            waits(order),
            to_us(order.placed_at),
        )

        def work(cur: Cursor) -> None:
            if expected is None:
                cur.execute(_INSERT, (*key, *fields))
            else:
                cur.execute(_UPDATE, (*fields, *key, expected))
            if cur.rowcount != 1:
                raise conflict(*key)

        self._session.transact("save", work)


@final
class PostgresAuditLog(_DocumentStore, AuditListing):
    """An `AuditLog` in PostgreSQL, alone or beside the other stores.

    `target`, `converter` and `attempts` are as for `PostgresOrderStore`,
    and so are transactions, joined sessions, reading and errors. Each
    record is one JSON document (`bytea`) under its `(order_id, channel,
    version)`; records compare equal when their documents are the same
    bytes. Racing appends of one record store it once: the insert does
    nothing when the key exists, and the stored bytes are then compared
    with the call's.

    **Schema.** The table `orderkit_audit` (primary key `(order_id,
    channel, version)`, so it can be distributed by order beside the
    orders) is created on first use, versioned by its own row of
    `orderkit_meta`. A database of version 1 gains the `recorded_at`
    column on the first open by this orderkit, filled from the stored
    records; a record it cannot date is dated by
    `recorded_between` as `placed_between` dates an order.

    Args:
        target: A DSN, an open connection, or a pool.
        converter: Writes and reads the documents;
            `orderkit.serialization.make_converter()` by default.
        attempts: How often a call in its own transaction runs before a
            serialization failure is raised.

    Raises:
        StoreError: The server cannot be reached, or holds a schema from a
            newer orderkit.

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
            StoreError: PostgreSQL failed; nothing was stored.
        """
        name, checked = check_records(channel, records)
        documents = {id(r): self._converter.dumps(r) for r in checked}

        def work(cur: Cursor) -> None:
            found = _stored_records(cur, name, checked)
            stored: dict[_AuditKey, AuditRecord] = {}
            for record in checked:
                key = (record.order_id, record.version)
                if key not in found:
                    continue
                if found[key] != documents[id(record)]:
                    raise audit_conflict(name, record)
                stored[key] = record
            fresh = new_records(
                name, checked, lambda order_id, v: stored.get((order_id, v))
            )
            rows = [
                (name, r.order_id, r.version, documents[id(r)], to_us(r.recorded_at))
                for r in fresh
            ]
            if not rows:
                return
            cur.executemany(_NEW_RECORD, rows)
            if cur.rowcount == len(rows):
                return
            # A racing append stored some of them since we looked: the insert
            # waited for it to commit, so its records are there to compare.
            late = _stored_records(cur, name, fresh)
            for record in fresh:
                if late.get((record.order_id, record.version)) != documents[id(record)]:
                    raise audit_conflict(name, record)

        self._session.transact("append", work)

    def records(self, channel: str, order_id: str) -> Sequence[AuditRecord]:
        """Return the order's records in version order.

        Raises:
            ValidationError: Bad channel or order id.
            StoreError: PostgreSQL failed.
        """
        key = check_key(channel, order_id)
        rows = self._session.read(
            "records", lambda cur: cur.execute(_RECORDS, key).fetchall()
        )
        return [self._converter.loads(row[0], AuditRecord) for row in rows]


def _stored_records(
    cur: Cursor, channel: str, records: Sequence[AuditRecord]
) -> dict[_AuditKey, bytes]:
    """The stored documents under the records' keys, by `(order_id, version)`."""
    ids = [r.order_id for r in records]
    versions = [r.version for r in records]
    rows = cur.execute(_RECORDS_AT, (channel, ids, versions)).fetchall()
    return {(str(order_id), int(v)): bytes(record) for order_id, v, record in rows}
