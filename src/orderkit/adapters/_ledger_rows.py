"""The ledger's rows as every SQL store writes them, and back to ledger values.

The SQLite and PostgreSQL ledgers keep the same columns: times as integer
microseconds since the epoch, states and kinds as their values, and a
receipt whole, as compact JSON of its rows in column order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Final

from orderkit import _fast
from orderkit._validate import as_tuple
from orderkit.adapters import _ledger_engine as engine
from orderkit.adapters._micros import from_us, to_us
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


HOLD_COLUMNS: Final = (
    "hold_id, owner, sku, location, quantity, placed_at, expires_at,"
    " state, committed, shipped, resolved_at"
)
"""A hold's columns, in the order `read_hold()` reads them."""
MOVEMENT_COLUMNS: Final = (
    "key, idx, kind, sku, location, on_hand, reserved, allocated, at,"
    " reason, actor, hold_id, counted, seq"
)
"""A movement's columns, in the order `read_movement()` reads them."""

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
    """The movement in a row of `MOVEMENT_COLUMNS`."""
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


def movement_row(
    m: Movement,
    index: int | None = None,
    at_us: int | None = None,
    seq: int | None = None,
) -> tuple[Any, ...]:
    """The movement as a row of `MOVEMENT_COLUMNS`, numbered as given if given."""
    return (
        m.key,
        m.index if index is None else index,
        m.kind.value,
        m.sku,
        m.location,
        m.on_hand,
        m.reserved,
        m.allocated,
        to_us(m.at) if at_us is None else at_us,
        m.reason,
        m.actor,
        m.hold_id,
        m.counted,
        m.seq if seq is None else seq,
    )


def encode_receipt(r: Receipt) -> str:
    """The receipt as compact JSON: rows in column order, times in microseconds."""
    return encode_receipt_rows(
        r,
        to_us(r.at),
        [movement_row(m) for m in r.movements],
        [hold_row(h) for h in r.holds],
    )


def encode_receipt_rows(
    r: Receipt,
    at_us: int,
    movements: Sequence[Sequence[Any]],
    holds: Sequence[Sequence[Any]],
) -> str:
    """`encode_receipt(r)`, given its time and the rows of its movements and holds.

    A store that writes those rows anyway encodes them once.
    """
    return _ENCODER.encode(
        [
            r.key,
            at_us,
            movements,
            holds,
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
    """The policy in a row of `kind, quantity, ends_at`; `NoOversell()` for no row."""
    if row is None:
        return NO_POLICY
    kind, quantity, ends_at = row
    if kind == "backorder":
        return Backorder(quantity)
    return Preorder(quantity, from_us(ends_at))


def holds_query(
    marker: str, owner: str | None, sku: str | None, state: HoldState | None
) -> tuple[str, list[str]]:
    """`LedgerStore.holds`' query and values, `marker` the driver's (`?`, `%s`)."""
    where = []
    values: list[str] = []
    chosen = (("owner", owner), ("sku", sku), ("state", state and state.value))
    for column, value in chosen:
        if value is not None:
            where.append(f"{column} = {marker}")
            values.append(value)
    query = f"SELECT {HOLD_COLUMNS} FROM orderkit_holds"  # noqa: S608 - constants only
    if where:
        query += " WHERE " + " AND ".join(where)
    return query + " ORDER BY placed_at, hold_id", values


def due_query(marker: str) -> str:
    """`due_holds`' query, `marker` the driver's (`?`, `%s`), for the expiry index."""
    return (
        f"SELECT {HOLD_COLUMNS} FROM orderkit_holds"  # noqa: S608 - constants only
        f" WHERE state = 'live' AND expires_at <= {marker}"
        " ORDER BY expires_at, hold_id"
    )


def wanted_skus(skus: Iterable[str]) -> list[str]:
    """`balances_of`' SKUs checked: each once, sorted.

    Raises:
        ValidationError: `skus` is text, or not a sequence of text.
    """
    return sorted(set(as_tuple(skus, "skus", str)))
