"""The services the desk keeps over a unit's stores: made again for other stores.

The desk makes its duplicate detector, purchase limits and ledger once per
store, not once per order: what each order does must not change with it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Self, cast

import pytest
from tests.services._samples import T0, awaiting_payment, cny

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import ValidationError
from orderkit.integrations import ChannelOrder
from orderkit.orders import Address, Buyer, OrderLine, OrderPlaced
from orderkit.ports import UnitOfWork
from orderkit.pricing import LimitRule, LimitScope
from orderkit.services import (
    Accepted,
    DeskPolicy,
    Held,
    Ledger,
    OrderDesk,
    RefusalReason,
    Refused,
)
from orderkit.testing import FrozenClock


SECRET = b"desk-services-secret-0123456789"


class _Switching:
    """A host's unit of work whose stores are another unit's once switched."""

    def __init__(self, inner: MemoryUnitOfWork) -> None:
        self.inner = inner

    def __enter__(self) -> Self:
        self.inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.__exit__(*exc)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _order(order_id: str, buyer: str = "buyer-1", n: int = 0) -> ChannelOrder:
    """A tin of tea; orders of other `n` share no phone nor address."""
    placed = OrderPlaced(
        order_id=order_id,
        key=IdempotencyKey("douyin", "trade.created", order_id, "1"),
        occurred_at=T0,
        channel="douyin",
        buyer=Buyer(buyer, "韩梅梅", phone=f"+861390013900{n}"),
        address=Address("CN", "上海市", "上海市", "浦东新区", f"世纪大道 10{n} 号"),
        lines=[OrderLine("L1", "TEA-TIN", 1, cny("58.00"))],
    )
    return awaiting_payment(placed)


def _stocked(clock: FrozenClock, quantity: int = 5) -> MemoryUnitOfWork:
    unit = MemoryUnitOfWork()
    with unit as uow:
        Ledger(uow.ledger, clock).receive("TEA-TIN", "SH-1", quantity)
        uow.commit()
    return unit


def _desk(unit: UnitOfWork, clock: FrozenClock, **policy: Any) -> OrderDesk:
    return OrderDesk(
        unit, clock, DeskPolicy(locations=["SH-1"], **policy), Fingerprinter(SECRET)
    )


def _reserved(unit: MemoryUnitOfWork, clock: FrozenClock) -> int:
    with unit as uow:
        return Ledger(uow.ledger, clock).balance("TEA-TIN", "SH-1").reserved


class TestServicesFollowTheStores:
    def test_a_unit_with_other_stores_gets_its_own_services(self) -> None:
        clock = FrozenClock(T0)
        first, second = _stocked(clock), _stocked(clock, quantity=1)
        switching = _Switching(first)
        rule = LimitRule(LimitScope.BUYER, 1, dt.timedelta(days=1))
        desk = _desk(cast("UnitOfWork", switching), clock, limits=[rule])
        assert isinstance(desk.accept(_order("DY-1")), Accepted)

        switching.inner = second
        # The second unit's limits have not counted the buyer, its detector
        # has not seen the order's twin, and its ledger holds its own stock.
        taken = desk.accept(_order("DY-2"))
        assert isinstance(taken, Accepted), taken
        assert (_reserved(first, clock), _reserved(second, clock)) == (1, 1)
        # And the services over the second unit's stores stay its own.
        refused = desk.accept(_order("DY-3", buyer="buyer-2", n=3))
        assert isinstance(refused, Refused)
        assert refused.reason is RefusalReason.OUT_OF_STOCK
        assert [(s.requested, s.available) for s in refused.shortages] == [(1, 0)]

    def test_the_same_stores_keep_counting(self) -> None:
        clock = FrozenClock(T0)
        unit = _stocked(clock)
        rule = LimitRule(LimitScope.BUYER, 1, dt.timedelta(days=1))
        desk = _desk(unit, clock, limits=[rule])
        assert isinstance(desk.accept(_order("DY-1")), Accepted)
        refused = desk.accept(_order("DY-2"))
        assert isinstance(refused, Refused)
        assert refused.reason is RefusalReason.LIMITS
        held = desk.accept(_order("DY-3", buyer="buyer-2"))
        assert isinstance(held, Held)
        assert held.order.review == ("duplicate",)


class TestWhatAServiceRefuses:
    def test_a_window_the_detector_refuses_fails_every_accept(self) -> None:
        clock = FrozenClock(T0)
        unit = _stocked(clock)
        # The policy takes any window; the detector keeps orders a week.
        desk = _desk(unit, clock, duplicate_window=dt.timedelta(days=8))
        for order_id in ("DY-1", "DY-1", "DY-2"):
            with pytest.raises(ValidationError) as raised:
                desk.accept(_order(order_id))
            assert raised.value.field == "retention"
        assert _reserved(unit, clock) == 0
        with unit as uow:
            assert uow.orders.get("douyin", "DY-1") is None
