"""The SQLite ledger's tables, and how their rows become ledger values.

Times are integer microseconds since the epoch; a receipt is stored whole, as
compact JSON of its rows in column order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from orderkit import _fast
from orderkit.adapters import _ledger_engine as engine
from orderkit.adapters._micros import from_us, to_us
from orderkit.adapters._sqlite_session import declare
from orderkit.inventory import (
    Backorder,
    Hold,
    HoldState,
    Movement,
    MovementKind,
    NoOversell,
    Preorder,
    Receipt,
    StockPolicy,
)


SCHEMA_VERSION: Final = 1
"""The version of the tables this module writes, kept in `orderkit_meta`."""

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
        "CREATE TABLE orderkit_receipts (key TEXT NOT NULL UNIQUE, body TEXT NOT NULL)",
        (
            "CREATE TABLE orderkit_policies ("
            " sku TEXT PRIMARY KEY, kind TEXT NOT NULL, quantity INTEGER NOT NULL,"
            " ends_at INTEGER) WITHOUT ROWID"
        ),
        "INSERT INTO orderkit_mark (id, high_water) VALUES (1, NULL)",
    ),
)
"""The ledger's tables, versioned by the `schema_version` row."""

HOLD_COLUMNS: Final = (
    "hold_id, owner, sku, location, quantity, placed_at, expires_at,"
    " state, committed, shipped, resolved_at"
)
"""A hold's columns, in the order `read_hold()` reads them."""
HOLD: Final = f"SELECT {HOLD_COLUMNS} FROM orderkit_holds"  # noqa: S608 - constants only
"""Every hold, read for `read_hold()`; callers add the WHERE clause."""
MOVEMENT: Final = (
    "SELECT key, idx, kind, sku, location, on_hand, reserved, allocated, at,"
    " reason, actor, hold_id, counted, seq FROM orderkit_movements"
)
"""Every movement, read for `read_movement()`; callers add the WHERE clause."""
HOLD_BY_ID: Final = f"{HOLD} WHERE hold_id = ?"
"""One hold, by id."""
POLICY: Final = "SELECT kind, quantity, ends_at FROM orderkit_policies WHERE sku = ?"
"""One SKU's stock policy, read for `read_policy()`."""

_STATES = {s.value: s for s in HoldState}
_KINDS = {k.value: k for k in MovementKind}
NO_POLICY: Final = NoOversell()
"""The policy of a SKU without one."""
_build_hold = _fast.builder(Hold)
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def read_hold(row: Sequence[Any]) -> Hold:
    """The hold in a row of `HOLD_COLUMNS`."""
    resolved = row[10]
    return _build_hold(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        from_us(row[5]),
        from_us(row[6]),
        _STATES[row[7]],
        row[8],
        row[9],
        None if resolved is None else from_us(resolved),
    )


def hold_row(h: Hold) -> tuple[Any, ...]:
    """The hold as a row of `HOLD_COLUMNS`."""
    resolved = h.resolved_at
    return (
        h.hold_id,
        h.owner,
        h.sku,
        h.location,
        h.quantity,
        to_us(h.placed_at),
        to_us(h.expires_at),
        h.state.value,
        h.committed,
        h.shipped,
        None if resolved is None else to_us(resolved),
    )


def read_movement(row: Sequence[Any]) -> Movement:
    """The movement in a row of `MOVEMENT`."""
    return engine.build_movement(
        row[0],
        row[1],
        _KINDS[row[2]],
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        from_us(row[8]),
        row[9],
        row[10],
        row[11],
        row[12],
        row[13],
    )


def movement_row(m: Movement) -> tuple[Any, ...]:
    """The movement as a row of `MOVEMENT`."""
    return (
        m.key,
        m.index,
        m.kind.value,
        m.sku,
        m.location,
        m.on_hand,
        m.reserved,
        m.allocated,
        to_us(m.at),
        m.reason,
        m.actor,
        m.hold_id,
        m.counted,
        m.seq,
    )


def encode_receipt(r: Receipt) -> str:
    """The receipt as compact JSON: rows in column order, times in microseconds."""
    return _ENCODER.encode(
        [
            r.key,
            to_us(r.at),
            [movement_row(m) for m in r.movements],
            [hold_row(h) for h in r.holds],
            [
                (b.sku, b.location, b.on_hand, b.reserved, b.allocated, b.safety_stock)
                for b in r.balances
            ],
        ]
    )


def decode_receipt(body: str) -> Receipt:
    """The receipt `encode_receipt` wrote."""
    key, at, movements, holds, balances = json.loads(body)
    return Receipt(
        key=key,
        at=from_us(at),
        movements=[read_movement(m) for m in movements],
        holds=[read_hold(h) for h in holds],
        balances=[engine.build_balance(*b) for b in balances],
    )


def read_policy(row: Sequence[Any] | None) -> StockPolicy:
    """The policy in a row of `POLICY`; `NoOversell()` for no row."""
    if row is None:
        return NO_POLICY
    kind, quantity, ends_at = row
    if kind == "backorder":
        return Backorder(quantity)
    return Preorder(quantity, from_us(ends_at))
