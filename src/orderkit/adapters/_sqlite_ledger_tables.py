"""The SQLite ledger's tables and the statements that read them.

The rows' codec is `_ledger_rows`, shared with the PostgreSQL ledger.
"""

from __future__ import annotations

from typing import Final

from orderkit.adapters._ledger_rows import HOLD_COLUMNS, MOVEMENT_COLUMNS
from orderkit.adapters._sqlite_session import declare


SCHEMA_VERSION: Final = 2
"""The version of the tables this module writes, kept in `orderkit_meta`."""

# A balance's movements in order, for its stock card: the rowid is `seq`,
# so the index is ordered by (sku, location, seq).
_MOVEMENTS_ROW = (
    "CREATE INDEX orderkit_movements_row ON orderkit_movements (sku, location)"
)

# Every name carries the `orderkit_` prefix: the store may live in a host's
# own database, beside the host's tables.
LEDGER = declare(
    "schema_version",
    "schema",
    SCHEMA_VERSION,
    (
        (
            "CREATE TABLE orderkit_mark"
            " (id INTEGER PRIMARY KEY CHECK (id = 1), high_water INTEGER)"
        ),
        (
            "CREATE TABLE orderkit_balances ("
            " sku TEXT NOT NULL, location TEXT NOT NULL,"
            " on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL,"
            " allocated INTEGER NOT NULL, safety_stock INTEGER NOT NULL,"
            " PRIMARY KEY (sku, location)) WITHOUT ROWID"
        ),
        "CREATE INDEX orderkit_balances_location ON orderkit_balances (location)",
        (
            "CREATE TABLE orderkit_holds ("
            " id INTEGER PRIMARY KEY, hold_id TEXT NOT NULL UNIQUE,"
            " owner TEXT NOT NULL,"
            " sku TEXT NOT NULL, location TEXT NOT NULL, quantity INTEGER NOT NULL,"
            " placed_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
            " state TEXT NOT NULL, committed INTEGER NOT NULL,"
            " shipped INTEGER NOT NULL,"
            " resolved_at INTEGER)"
        ),
        # Partial indexes hold live holds only, so expiry reads O(expired) rows
        # however many resolved holds the table keeps.
        (
            "CREATE INDEX orderkit_holds_live_row ON orderkit_holds"
            " (sku, location, expires_at) WHERE state = 'live'"
        ),
        (
            "CREATE INDEX orderkit_holds_live_due ON orderkit_holds"
            " (expires_at) WHERE state = 'live'"
        ),
        "CREATE INDEX orderkit_holds_owner ON orderkit_holds (owner, sku, location)",
        (
            "CREATE TABLE orderkit_movements ("
            " seq INTEGER PRIMARY KEY, key TEXT NOT NULL, idx INTEGER NOT NULL,"
            " kind TEXT NOT NULL, sku TEXT NOT NULL, location TEXT NOT NULL,"
            " on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL,"
            " allocated INTEGER NOT NULL, at INTEGER NOT NULL, reason TEXT NOT NULL,"
            " actor TEXT NOT NULL, hold_id TEXT, counted INTEGER, UNIQUE (key, idx))"
        ),
        _MOVEMENTS_ROW,
        "CREATE TABLE orderkit_receipts (key TEXT NOT NULL UNIQUE, body TEXT NOT NULL)",
        (
            "CREATE TABLE orderkit_policies ("
            " sku TEXT PRIMARY KEY, kind TEXT NOT NULL, quantity INTEGER NOT NULL,"
            " ends_at INTEGER) WITHOUT ROWID"
        ),
        "INSERT INTO orderkit_mark (id, high_water) VALUES (1, NULL)",
    ),
    upgrades=((_MOVEMENTS_ROW,),),
)
"""The ledger's tables, versioned by the `schema_version` row.

Version 2 added the index of movements by balance; opening a version 1
file builds it.
"""

HOLD: Final = f"SELECT {HOLD_COLUMNS} FROM orderkit_holds"  # noqa: S608 - constants only
"""Every hold, read for `read_hold()`; callers add the WHERE clause."""
MOVEMENT: Final = f"SELECT {MOVEMENT_COLUMNS} FROM orderkit_movements"  # noqa: S608 - constants only
"""Every movement, read for `read_movement()`; callers add the WHERE clause."""
HOLD_BY_ID: Final = f"{HOLD} WHERE hold_id = ?"
"""One hold, by id."""
POLICY: Final = "SELECT kind, quantity, ends_at FROM orderkit_policies WHERE sku = ?"
"""One SKU's stock policy, read for `read_policy()`."""
