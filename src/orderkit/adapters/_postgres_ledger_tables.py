"""The PostgreSQL ledger's tables and the statements over them.

Rows become ledger values with the SQLite ledger's codecs (`read_hold`,
`hold_row`, `read_movement`, `movement_row`, the receipt's compact JSON):
both stores keep times as integer microseconds and the same columns in the
same order, so the codecs are shared rather than written twice.

Text keys are `COLLATE "C"`: comparisons and `ORDER BY` are by code point,
as in Python and in the memory and SQLite stores, and cheaper than a
language's collation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from orderkit.adapters import _ledger_engine as engine
from orderkit.adapters._ledger_rows import HOLD_COLUMNS, decode_receipt
from orderkit.adapters._postgres_ledger_function import (
    APPLY_FUNCTION,
    APPLY_FUNCTION_6,
    BY_KEY,
    HOLD_FUNCTION,
    HOLD_FUNCTION_6,
    REPLACE_APPLY_FUNCTION,
)
from orderkit.adapters._postgres_session import declare
from orderkit.inventory import Receipt


HOLD: Final = f"SELECT {HOLD_COLUMNS} FROM orderkit_holds"  # noqa: S608 - constants only
"""Every hold, read for `read_hold()`; callers add the WHERE clause."""
HOLD_BY_ID: Final = f"{HOLD} WHERE hold_id = %s LIMIT 1"
"""One hold, by id."""
MOVEMENT: Final = (
    "SELECT key, idx, kind, sku, location, on_hand, reserved, allocated, at,"
    " reason, actor, hold_id, counted, seq FROM orderkit_movements"
)
"""Every movement, read for `read_movement()`; callers add the WHERE clause."""
POLICY: Final = "SELECT kind, quantity, ends_at FROM orderkit_policies WHERE sku = %s"
"""One SKU's stock policy, read for `read_policy()`."""
MARK: Final = "(SELECT max(high_water) FROM orderkit_marks)"
"""The store's high-water mark, as a scalar subquery (NULL before any write)."""


# Rows travel as one JSON array of arrays per parameter: one text value
# however many rows, JSON's own escapes for any text, and one string is far
# cheaper for the driver to send than an array per column. Both functions
# plan their statements once per connection (`plan_cache_mode`, for their
# own statements only: a host's connection keeps its settings), so every
# statement is written to look each row up by its key, whatever number of
# rows the plan guessed: LATERAL look-ups, `= ANY`, loops.
#
# The read, in one round trip. Each statement of a VOLATILE function takes
# a snapshot of its own, so what is read after the lock is what the plan
# waited for. Tagged rows laid out as `HOLD_COLUMNS` plus one array:
#   4  the touched balances, locked one by one in the order given (sorted
#      by the caller, so that every plan locks in one order):
#      sku, location, -, -, on_hand, reserved, allocated, -, safety_stock;
#   5  balances missing and created here (sku, location), then 4 again for
#      every touched balance, all now locked;
# and unless `p_read` is false:
#   0  the mark and the key's receipt: body, -, -, -, -, mark, ..., seqs;
#   1  holds on the touched balances: live ones due by the store's time,
#      and the superseding owner's (through the owner index: its resolved
#      holds come too, to be dropped by the caller);
#   2  the holds the plan writes, by id;
#   3  the touched SKUs' policies: -, -, sku, -, quantity, -, ends_at, kind.
# `p_lock` false reads the balances unlocked: the test seam of
# `PostgresRows.locking`, never false in use.
_TOUCHED_ROWS = "json_array_elements(p_touched) AS t (e)"
_LOCKED = (
    "SELECT 4, b.sku::text, b.location::text, NULL::text, NULL::text,"  # noqa: S608 - constants
    " b.on_hand, b.reserved, b.allocated, NULL::text, b.safety_stock,"
    f" NULL::bigint, NULL::bigint, NULL::bigint[] FROM {_TOUCHED_ROWS}"
    " CROSS JOIN LATERAL (SELECT * FROM orderkit_balances"
    " WHERE sku = t.e->>0 AND location = t.e->>1{lock}) AS b"
)
_LOCK_ALL = f"""
    IF p_lock THEN
        RETURN QUERY {_LOCKED.format(lock=" FOR UPDATE")};
    ELSE
        RETURN QUERY {_LOCKED.format(lock=" OFFSET 0")};
    END IF;"""
_BY_ROW = (
    f"FROM {_TOUCHED_ROWS} CROSS JOIN LATERAL ({HOLD}"
    " WHERE sku = t.e->>0 AND location = t.e->>1"
)


def _read_function(create: str, by_key: str) -> str:
    """`orderkit_ledger_read`, its receipt `r` found by `by_key`."""
    return f"""
{create} orderkit_ledger_read(p_touched json, p_lock boolean,
    p_read boolean, p_now bigint, p_key text, p_owner text, p_ids json,
    p_policies json)
RETURNS TABLE (r_tag integer, r_1 text, r_2 text, r_3 text, r_4 text,
    r_5 bigint, r_6 bigint, r_7 bigint, r_8 text, r_9 bigint, r_10 bigint,
    r_11 bigint, r_12 bigint[])
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    got bigint;
BEGIN{_LOCK_ALL}
    GET DIAGNOSTICS got = ROW_COUNT;
    IF got < json_array_length(p_touched) THEN
        RETURN QUERY WITH made AS (INSERT INTO orderkit_balances (sku, location,
            on_hand, reserved, allocated, safety_stock)
            SELECT t.e->>0, t.e->>1, 0, 0, 0, 0 FROM {_TOUCHED_ROWS}
            ON CONFLICT (sku, location) DO NOTHING RETURNING sku, location)
        SELECT 5, made.sku::text, made.location::text, NULL::text, NULL::text,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint[] FROM made;{_LOCK_ALL}
    END IF;
    IF NOT p_read THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT 0, r.body::text, NULL::text, NULL::text, NULL::text,
        NULL::bigint, m.mark, NULL::bigint, NULL::text, NULL::bigint,
        NULL::bigint, NULL::bigint, r.seqs
    FROM (SELECT {MARK} AS mark) AS m
    LEFT JOIN orderkit_receipts AS r ON {by_key}
    UNION ALL SELECT 1, due.*, NULL::bigint[] {_BY_ROW} AND state = 'live'
        AND expires_at <= greatest(p_now, {MARK}) OFFSET 0) AS due
    UNION ALL SELECT 1, own.*, NULL::bigint[] {_BY_ROW} AND owner = p_owner
        OFFSET 0) AS own
    UNION ALL SELECT 2, held.*, NULL::bigint[]
    FROM json_array_elements_text(p_ids) AS i (id)
    CROSS JOIN LATERAL ({HOLD} WHERE hold_id = i.id OFFSET 0) AS held
    UNION ALL SELECT 3, NULL::text, NULL::text, sku::text, NULL::text, quantity,
        NULL::bigint, ends_at, kind, NULL::bigint, NULL::bigint, NULL::bigint,
        NULL::bigint[]
    FROM orderkit_policies
    WHERE sku = ANY(ARRAY(SELECT json_array_elements_text(p_policies)));
END
$$"""  # noqa: S608 - constants only


# The one write, in one round trip: a loop per kind of row, each statement
# a look-up by key whatever the number of rows. In order: fresh movement
# numbers, this connection's mark row raised (unless `mark` is NULL), the
# changed balances ([sku, location, on_hand, reserved, allocated]),
# balances created for nothing dropped ([sku, location]), new holds
# inserted (`HOLD_COLUMNS` rows), stored ones updated ([sku, location,
# hold_id, expires_at, state, committed, shipped, resolved_at]: only what a
# hold write may change), the movements (`movement_row()` without `seq`)
# numbered in order, and the receipt (unless `key` is NULL).
def _write_function(create: str, by_id: str) -> str:
    """`orderkit_ledger_write`, a stored hold `e` updated where `by_id`."""
    return f"""
{create} orderkit_ledger_write(p_count integer, p_mark bigint,
    p_balances json, p_dropped json, p_new_holds json, p_holds json,
    p_movements json, p_key text, p_body text) RETURNS bigint[]
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    numbers bigint[] := ARRAY(SELECT nextval('orderkit_movements_seq')
        FROM generate_series(1, p_count) ORDER BY 1);
    e json;
    n integer := 0;
BEGIN
    IF p_mark IS NOT NULL THEN
        INSERT INTO orderkit_marks (backend, high_water)
        VALUES (pg_backend_pid(), p_mark) ON CONFLICT (backend) DO UPDATE
        SET high_water = greatest(orderkit_marks.high_water, excluded.high_water);
    END IF;
    FOR e IN SELECT json_array_elements(p_balances) LOOP
        UPDATE orderkit_balances SET on_hand = (e->>2)::bigint,
            reserved = (e->>3)::bigint, allocated = (e->>4)::bigint
        WHERE sku = e->>0 AND location = e->>1;
    END LOOP;
    FOR e IN SELECT json_array_elements(p_dropped) LOOP
        DELETE FROM orderkit_balances WHERE sku = e->>0 AND location = e->>1;
    END LOOP;
    FOR e IN SELECT json_array_elements(p_new_holds) LOOP
        INSERT INTO orderkit_holds (hold_id, owner, sku, location, quantity,
            placed_at, expires_at, state, committed, shipped, resolved_at)
        VALUES (e->>0, e->>1, e->>2, e->>3, (e->>4)::bigint, (e->>5)::bigint,
            (e->>6)::bigint, e->>7, (e->>8)::bigint, (e->>9)::bigint,
            (e->>10)::bigint);
    END LOOP;
    FOR e IN SELECT json_array_elements(p_holds) LOOP
        UPDATE orderkit_holds SET expires_at = (e->>3)::bigint, state = e->>4,
            committed = (e->>5)::bigint, shipped = (e->>6)::bigint,
            resolved_at = (e->>7)::bigint
        WHERE {by_id};
    END LOOP;
    FOR e IN SELECT json_array_elements(p_movements) LOOP
        n := n + 1;
        INSERT INTO orderkit_movements (key, idx, kind, sku, location, on_hand,
            reserved, allocated, at, reason, actor, hold_id, counted, seq)
        VALUES (e->>0, (e->>1)::integer, e->>2, e->>3, e->>4, (e->>5)::bigint,
            (e->>6)::bigint, (e->>7)::bigint, (e->>8)::bigint, e->>9, e->>10,
            e->>11, (e->>12)::bigint, numbers[n]);
    END LOOP;
    IF p_key IS NOT NULL THEN
        INSERT INTO orderkit_receipts (key, body, seqs)
        VALUES (p_key, p_body, numbers);
    END IF;
    RETURN numbers;
END
$$"""  # noqa: S608 - constants only


# Before schema version 6, receipts were keyed by the key and holds by
# (sku, location, hold_id); the steps of those versions keep their text, so
# that no migration step ever changes once released. Since, a stored hold is
# updated through its primary key, its id compared as well.
_READ_FUNCTION = _read_function("CREATE FUNCTION", "r.key = p_key")
_WRITE_FUNCTION = _write_function(
    "CREATE FUNCTION", "sku = e->>0 AND location = e->>1 AND hold_id = e->>2"
)
_STORED_HOLD = (
    "sku = e->>0 AND location = e->>1 AND hold_digest = md5(e->>2)::uuid"
    " AND hold_id = e->>2"
)


LEDGER = declare(
    "schema_version",
    "schema",
    [  # version 1
        (
            # One row per connection that moved time on (keyed by its server
            # process id), never one row for everybody: a single mark row
            # would be written by nearly every plan and so serialize all of
            # them, whatever their SKUs. The store's mark is the max over
            # the rows; a backend only ever raises its own row, so the max
            # never goes back. A reused process id raises its predecessor's
            # row, which is harmless for the same reason. Tiny: in Citus, a
            # reference table.
            (
                "CREATE TABLE orderkit_marks ("
                " backend integer PRIMARY KEY, high_water bigint NOT NULL)"
            ),
            "CREATE INDEX orderkit_marks_high_water ON orderkit_marks (high_water)",
            # Keyed by (sku, location), the unit every plan locks: the table
            # can be partitioned by location or distributed by sku as is.
            (
                "CREATE TABLE orderkit_balances ("
                ' sku text COLLATE "C" NOT NULL, location text COLLATE "C" NOT NULL,'
                " on_hand bigint NOT NULL, reserved bigint NOT NULL,"
                " allocated bigint NOT NULL, safety_stock bigint NOT NULL,"
                " PRIMARY KEY (sku, location))"
            ),
            "CREATE INDEX orderkit_balances_location ON orderkit_balances (location)",
            # Keyed by (sku, location, hold_id), so that a hold lives on its
            # balance's partition or shard. A unique index on hold_id alone
            # would stop that (Citus and declarative partitioning require
            # every unique index to hold the distribution or partition key),
            # so the index on hold_id is a plain one for look-ups. hold_id
            # is unique all the same: ids are `<plan key>/<n>`, a remembered
            # key's receipt is unique (two plans racing under one key: the
            # second rolls back on the receipt's key and replays the first),
            # a drawn key is never repeated, and every hold write compares
            # and sets the stored hold, read by id under its balance's lock.
            (
                "CREATE TABLE orderkit_holds ("
                ' sku text COLLATE "C" NOT NULL, location text COLLATE "C" NOT NULL,'
                ' hold_id text COLLATE "C" NOT NULL, owner text COLLATE "C" NOT NULL,'
                " quantity bigint NOT NULL, placed_at bigint NOT NULL,"
                " expires_at bigint NOT NULL, state text NOT NULL,"
                " committed bigint NOT NULL, shipped bigint NOT NULL,"
                " resolved_at bigint, PRIMARY KEY (sku, location, hold_id))"
            ),
            "CREATE INDEX orderkit_holds_id ON orderkit_holds (hold_id)",
            # Partial indexes hold live holds only, so expiry reads
            # O(expired) rows however many resolved holds the table keeps.
            (
                "CREATE INDEX orderkit_holds_live_row ON orderkit_holds"
                " (sku, location, expires_at) WHERE state = 'live'"
            ),
            (
                "CREATE INDEX orderkit_holds_live_due ON orderkit_holds"
                " (expires_at, hold_id) WHERE state = 'live'"
            ),
            (
                "CREATE INDEX orderkit_holds_owner ON orderkit_holds"
                " (owner, sku, location)"
            ),
            # Keyed by (sku, location, seq) so that movements can live beside
            # their balance; `seq` comes from the sequence (unique by
            # construction; a unique index on it alone could not be
            # distributed) and its own index serves `movements(after=)`.
            "CREATE SEQUENCE orderkit_movements_seq AS bigint",
            (
                "CREATE TABLE orderkit_movements ("
                ' sku text COLLATE "C" NOT NULL, location text COLLATE "C" NOT NULL,'
                " seq bigint NOT NULL, key text NOT NULL, idx integer NOT NULL,"
                " kind text NOT NULL, on_hand bigint NOT NULL,"
                " reserved bigint NOT NULL, allocated bigint NOT NULL,"
                " at bigint NOT NULL, reason text NOT NULL, actor text NOT NULL,"
                " hold_id text, counted bigint, PRIMARY KEY (sku, location, seq))"
            ),
            "CREATE INDEX orderkit_movements_by_seq ON orderkit_movements (seq)",
            ("ALTER SEQUENCE orderkit_movements_seq OWNED BY orderkit_movements.seq"),
            # Keyed by the plan's idempotency key, its natural key: the
            # unique index that makes a concurrent duplicate roll back.
            # `seqs` holds the stored numbers of the receipt's movements,
            # which the body numbers 1, 2, ... (see `load_receipt`).
            (
                "CREATE TABLE orderkit_receipts ("
                ' key text COLLATE "C" NOT NULL PRIMARY KEY, body text NOT NULL,'
                " seqs bigint[] NOT NULL)"
            ),
            # Keyed by sku: a policy covers every location of its SKU.
            (
                "CREATE TABLE orderkit_policies ("
                ' sku text COLLATE "C" NOT NULL PRIMARY KEY, kind text NOT NULL,'
                " quantity bigint NOT NULL, ends_at bigint)"
            ),
            _READ_FUNCTION,
            _WRITE_FUNCTION,
        ),
        (APPLY_FUNCTION,),  # version 2: a plan in one call
        # version 3: its figures summed as numeric, so no quantity overflows
        (REPLACE_APPLY_FUNCTION,),
        (HOLD_FUNCTION,),  # version 4: a one-line reservation in three statements
        (  # version 5: an owner index that holds any owner the validators accept
            # A btree row holds at most 2704 bytes; (owner, sku, location)
            # reach 6 KB with an owner of 1024 characters (an order's stream)
            # and names of 255, at 4 bytes each in UTF-8. A hash index keeps
            # only the owner's hash, whatever its length, and answers the one
            # question asked of it, `owner = ?`, as the btree did.
            "DROP INDEX orderkit_holds_owner",
            "CREATE INDEX orderkit_holds_owner ON orderkit_holds USING hash (owner)",
        ),
        (  # version 6: keys that hold any key and name the validators accept
            # A btree row holds at most 2704 bytes: a receipt's key reaches
            # 16 KB (4096 characters of 4 bytes), and (sku, location,
            # hold_id) 18 KB, the hold id being `<key>/<n>`. The primary keys
            # hold the md5 digest of the long text instead, 16 bytes whatever
            # its length, generated by the server so that no writer can store
            # one that disagrees. Holds stay keyed by (sku, location) first,
            # to be partitioned and distributed as before. Every look-up
            # compares the text as well as its digest, so a match is exact;
            # a digest shared by two texts (md5 collisions can be made on
            # purpose, never by accident) would only refuse the second
            # text's insert as a duplicate, never answer for the first.
            # Each statement may run again over its own result (hence IF NOT
            # EXISTS), as the earlier steps may: tests set a database's
            # version back and let every later step run again.
            (
                "ALTER TABLE orderkit_receipts ADD COLUMN IF NOT EXISTS"
                " key_digest uuid GENERATED ALWAYS AS (md5(key)::uuid) STORED"
            ),
            (
                "ALTER TABLE orderkit_receipts DROP CONSTRAINT orderkit_receipts_pkey,"
                " ADD PRIMARY KEY (key_digest)"
            ),
            (
                "ALTER TABLE orderkit_holds ADD COLUMN IF NOT EXISTS"
                " hold_digest uuid GENERATED ALWAYS AS (md5(hold_id)::uuid) STORED"
            ),
            (
                "ALTER TABLE orderkit_holds DROP CONSTRAINT orderkit_holds_pkey,"
                " ADD PRIMARY KEY (sku, location, hold_digest)"
            ),
            # A hash index, as the owner's since version 5, for the one
            # question asked of it: `hold_id = ?`.
            "DROP INDEX orderkit_holds_id",
            "CREATE INDEX orderkit_holds_id ON orderkit_holds USING hash (hold_id)",
            # Due holds by expiry alone: ties are few, and sorted by id after
            # the index read (`DUE_ROWS`).
            "DROP INDEX orderkit_holds_live_due",
            (
                "CREATE INDEX orderkit_holds_live_due ON orderkit_holds (expires_at)"
                " WHERE state = 'live'"
            ),
            _read_function("CREATE OR REPLACE FUNCTION", BY_KEY),
            _write_function("CREATE OR REPLACE FUNCTION", _STORED_HOLD),
            APPLY_FUNCTION_6,
            HOLD_FUNCTION_6,
        ),
    ],
)
"""The ledger's tables, versioned by the `schema_version` row of `orderkit_meta`."""


READ: Final = (
    "SELECT * FROM orderkit_ledger_read(%(touched)s, %(lock)s, %(read)s, %(now)s,"
    " %(key)s, %(owner)s, %(ids)s, %(policies)s)"
)
"""Lock the touched balances and read what the engine will ask (`_READ_FUNCTION`)."""
LOCK: Final = (
    "SELECT count(*) FROM json_array_elements(%s::json) AS t (e)"
    " CROSS JOIN LATERAL (SELECT 1 FROM orderkit_balances"
    " WHERE sku = t.e->>0 AND location = t.e->>1 FOR UPDATE) AS b"
)
"""Lock the existing balances among those given, one by one in the order given."""
DUE_ROWS: Final = (
    f"SELECT {MARK}, array_agg(sku), array_agg(location) FROM ("  # noqa: S608 - constants
    f" SELECT DISTINCT sku, location FROM ({HOLD} WHERE state = 'live'"
    " AND expires_at <= %(now)s::bigint ORDER BY expires_at, hold_id"
    " LIMIT %(limit)s::bigint) AS due) AS due_rows"
)
"""The mark, and the balances of the first `limit` due holds (NULL: all)."""
SKU_KNOWN: Final = (
    "SELECT 1 FROM orderkit_balances"
    " WHERE sku = %s AND location <> ALL(%s::text[]) LIMIT 1"
)
"""Whether the SKU has a balance other than those at the given locations."""
LOCATION_KNOWN: Final = (
    "SELECT 1 FROM orderkit_balances"
    " WHERE location = %s AND sku <> ALL(%s::text[]) LIMIT 1"
)
"""Whether the location has a balance other than those of the given SKUs."""
WRITE: Final = (
    "SELECT orderkit_ledger_write(%(count)s, %(mark)s, %(balances)s,"
    " %(dropped)s, %(new_holds)s, %(holds)s, %(movements)s, %(key)s, %(body)s)"
)
"""The plan's whole write (`_WRITE_FUNCTION`); returns the movements' numbers."""


# The store's own reads and settings.
DROP_BALANCES: Final = (
    "DELETE FROM orderkit_balances AS b USING json_array_elements(%s::json) AS r (e)"
    " WHERE b.sku = r.e->>0 AND b.location = r.e->>1"
)
"""Drop the balances of a JSON array of [sku, location]: those a read created."""
MOVEMENTS_AFTER: Final = f"{MOVEMENT} WHERE seq > %s ORDER BY seq LIMIT %s"
"""Up to `limit` movements after a sequence number, in order."""
MOVEMENTS_OF_ROW: Final = (
    f"{MOVEMENT} WHERE sku = %s AND location = %s AND seq > %s ORDER BY seq LIMIT %s"
)
"""Up to `limit` of one balance's movements after a sequence number, in order.

Read through the primary key, (sku, location, seq).
"""
MOVEMENTS_OF_SKU: Final = (
    "WITH RECURSIVE at (location) AS ("  # noqa: S608 - constants only
    " SELECT min(location) FROM orderkit_movements WHERE sku = %(sku)s"
    " UNION ALL SELECT (SELECT min(m.location) FROM orderkit_movements AS m"
    " WHERE m.sku = %(sku)s AND m.location > at.location) FROM at"
    " WHERE at.location IS NOT NULL)"
    f" SELECT run.* FROM at CROSS JOIN LATERAL ({MOVEMENT}"
    " WHERE sku = %(sku)s AND location = at.location AND seq > %(after)s"
    " ORDER BY seq LIMIT %(limit)s) AS run ORDER BY run.seq LIMIT %(limit)s"
)
"""Up to `limit` of one SKU's movements after a sequence number, in order.

The SKU's locations are found one index probe each (a skip scan of the
primary key), then each location's first `limit` movements: a page reads
at most `limit` rows per location, however long the history.
"""
MOVEMENTS_AT: Final = (
    f"{MOVEMENT} WHERE location = %s AND seq > %s ORDER BY seq LIMIT %s"
)
"""Up to `limit` of one location's movements (of every SKU), in order.

Read along `orderkit_movements_by_seq`: the primary key leads with the SKU.
"""
SET_SAFETY: Final = (
    "INSERT INTO orderkit_balances"
    " (sku, location, on_hand, reserved, allocated, safety_stock)"
    " VALUES (%s, %s, 0, 0, 0, %s) ON CONFLICT (sku, location) DO UPDATE SET"
    " safety_stock = excluded.safety_stock"
)
"""Set one balance's safety stock, creating the balance empty if new."""
SET_POLICY: Final = (
    "INSERT INTO orderkit_policies (sku, kind, quantity, ends_at)"
    " VALUES (%s, %s, %s, %s) ON CONFLICT (sku) DO UPDATE SET kind = excluded.kind,"
    " quantity = excluded.quantity, ends_at = excluded.ends_at"
)
"""Set a SKU's stock policy."""
DROP_POLICY: Final = "DELETE FROM orderkit_policies WHERE sku = %s"
"""Drop a SKU's stock policy (back to `NoOversell()`)."""
RECEIPT: Final = (
    "SELECT body, seqs FROM orderkit_receipts"
    " WHERE key_digest = md5(%(key)s)::uuid AND key = %(key)s"
)
"""A key's receipt, read for `load_receipt()`."""

# Due holds count as expired at the later of the caller's time and the mark,
# whether or not a sweep has written so: one aggregate over the live index.
BALANCES: Final = (
    "SELECT b.sku, b.location, b.on_hand,"  # noqa: S608 - constants only
    " b.reserved - coalesce(sum(h.quantity), 0)::bigint, b.allocated,"
    " b.safety_stock FROM orderkit_balances AS b LEFT JOIN orderkit_holds AS h"
    " ON h.state = 'live' AND h.sku = b.sku AND h.location = b.location"
    f" AND h.expires_at <= greatest(%(now)s::bigint, {MARK})"
)
"""Balances as of `now`; callers add `BALANCES_BY` and `BALANCES_END`."""
BALANCES_BY: Final = {
    (False, False): "",
    (True, False): " WHERE b.sku = %(sku)s",
    (False, True): " WHERE b.location = %(location)s",
    (True, True): " WHERE b.sku = %(sku)s AND b.location = %(location)s",
}
"""The filter of `BALANCES`, by whether a SKU and a location are given."""
BALANCES_END: Final = " GROUP BY b.sku, b.location ORDER BY b.sku, b.location"
"""The end of `BALANCES`: one row per balance, in key order."""


def load_receipt(body: str, seqs: Sequence[int]) -> Receipt:
    """The receipt in `body`, its movements given their stored numbers `seqs`."""
    receipt = decode_receipt(body)
    return engine.copy_receipt(
        receipt,
        movements=tuple(
            engine.copy_movement(m, seq=seqs[m.seq - 1]) for m in receipt.movements
        ),
    )
