"""What the SQLite and PostgreSQL upgrades that date orders and records are tested with.

Four orders, each with one audit record recorded as it was placed: `DY-3`
outside the window, `DY-2` and `DY-4` a few microseconds apart, and one
order (`DY-4`) and one record (`DY-1`) written by a host's converter, whose
JSON names no instant where orderkit's does, so the upgrade leaves them
undated: the listings read each of them through the store's converter,
once per store, to date it.
"""

from __future__ import annotations

from typing import Final

import attrs
import pytest
from tests.adapters._foreign_documents import Enveloped

from orderkit.adapters._micros import to_us
from orderkit.orders import AuditRecord, Order
from orderkit.ports import AuditLog, OrderStore
from orderkit.serialization import make_converter
from orderkit.testing._contract_base import START
from orderkit.testing._order_store_contract import sample_order, sample_record


PLACED_AT: Final = {
    "DY-1": START.add(hours=2),
    "DY-2": START.add(hours=1, microseconds=7),
    "DY-3": START.add(days=2),
    "DY-4": START.add(hours=1, microseconds=3),
}
ORDERS: Final = {k: sample_order(order_id=k, placed_at=v) for k, v in PLACED_AT.items()}
RECORDS: Final = [
    attrs.evolve(sample_record(k, 2), recorded_at=v) for k, v in PLACED_AT.items()
]
HOST: Final = Enveloped()
"""The host's converter, which the upgraded stores are opened with."""
WINDOW: Final = (START, START.add(days=1))
UPGRADED: Final = [
    ("DY-1", to_us(PLACED_AT["DY-1"]), None),
    ("DY-2", to_us(PLACED_AT["DY-2"]), to_us(PLACED_AT["DY-2"])),
    ("DY-3", to_us(PLACED_AT["DY-3"]), to_us(PLACED_AT["DY-3"])),
    ("DY-4", None, to_us(PLACED_AT["DY-4"])),
]
"""Each order's `placed_at` and its record's `recorded_at`, once upgraded."""


def order_documents() -> dict[str, bytes]:
    """The orders as stored before the upgrade, by order id."""
    return {
        k: (HOST if k == "DY-4" else make_converter()).dumps(o)
        for k, o in ORDERS.items()
    }


def record_documents() -> dict[str, bytes]:
    """The records as stored before the upgrade, by order id (version 2 each)."""
    return {
        r.order_id: (HOST if r.order_id == "DY-1" else make_converter()).dumps(r)
        for r in RECORDS
    }


def check_window_reads(store: OrderStore, log: AuditLog) -> None:
    """The upgraded store and log list the window's orders and records in order."""
    check_placed_between(store)
    recorded_between = getattr(log, "recorded_between")  # noqa: B009 - optional read
    recorded: list[tuple[str, AuditRecord]] = recorded_between(*WINDOW)
    assert [r.order_id for _, r in recorded] == ["DY-4", "DY-2", "DY-1"]
    after = recorded_between(*WINDOW, after=("douyin", RECORDS[3]))
    assert [r.order_id for _, r in after] == ["DY-2", "DY-1"]


def check_placed_between(store: OrderStore) -> None:
    """The upgraded store lists the window's orders in order, in pages."""
    placed_between = getattr(store, "placed_between")  # noqa: B009 - optional read
    placed: list[Order] = placed_between(*WINDOW)
    assert [o.order_id for o in placed] == ["DY-4", "DY-2", "DY-1"]
    assert [o.order_id for o in placed_between(*WINDOW, limit=1)] == ["DY-4"]
    later = placed_between(*WINDOW, after=ORDERS["DY-4"])
    assert [o.order_id for o in later] == ["DY-2", "DY-1"]


UNREAD_INSTANTS: Final = [
    pytest.param("2026-02-30T00:00:00Z", id="30-february"),
    pytest.param("2026-11-11T24:00:00Z", id="24-hours"),
    pytest.param("2026-12-31T23:59:60Z", id="leap-second"),
    pytest.param("0000-01-01T00:00:00Z", id="year-0"),
    pytest.param("2026-11-11T00:00:00+00:00", id="offset"),
    pytest.param("2026-11-11T00:00:00.1234567Z", id="seven-digits"),
]
"""Instant texts orderkit's converter never writes or reads: left undated."""
