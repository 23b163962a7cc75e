"""The monitor flags an order whose parked event waits for a step that never came.

A warehouse that reports a parcel without its picking, a carrier that
scans a delivery without the transit scan: the event is parked with the
order (`Order.parked`) until its predecessor comes. If it never comes, the
order goes no further, and the docs promised stuck-order detection looks
for it; under the default rules nothing did.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest
from tests.services._samples import backend, cny

from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.integrations import ChannelOrder
from orderkit.orders import (
    Address,
    Buyer,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    PickingStarted,
    ShipmentLine,
    Shipped,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import Quote
from orderkit.services import (
    DeskPolicy,
    Ledger,
    OrderDesk,
    StuckReason,
    StuckRules,
    stuck_from_stores,
)
from orderkit.testing import FrozenClock


CH, ID, SKU = "douyin", "DY-6006", "TEA-TIN"
T0 = pendulum.datetime(2026, 11, 11, 2, 0)
SHIPPED_AT = T0.add(minutes=20)


@pytest.fixture(params=["memory", "sqlite"])
def unit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWork]:
    yield from backend(request.param, tmp_path / "desk.db")


def paid_order(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    with unit as uow:
        Ledger(uow.ledger, clock).receive(SKU, "SH-1", 5, key="PO-1")
        uow.commit()
    desk = OrderDesk(
        unit,
        clock,
        DeskPolicy(locations=["SH-1"]),
        Fingerprinter(b"parked-secret-of-16-bytes"),
    )
    placed = OrderPlaced(
        order_id=ID,
        key=IdempotencyKey(CH, "created", ID, "1"),
        occurred_at=T0,
        channel=CH,
        buyer=Buyer("buyer-6006", phone="+8613800136006"),
        address=Address("CN", "上海市", "上海市", "徐汇区", "漕溪北路 6 号"),
        lines=[OrderLine("L1", SKU, 1, cny("10.00"))],
    )
    paid = PaymentCaptured(
        order_id=ID,
        key=IdempotencyKey(CH, "paid", ID, "1"),
        occurred_at=T0,
        payment_id="alipay-6006",
        amount=cny("10.00"),
    )
    desk.accept(
        ChannelOrder(
            placed=placed,
            quote=Quote(ID, CH, placed.lines),
            status=OrderStatus.PAID,
            channel_status="paid",
            events=(paid,),
        )
    )
    return desk


def parcel() -> Shipped:
    """The warehouse's parcel, reported without its picking first."""
    return Shipped(
        order_id=ID,
        key=IdempotencyKey("wms", "shipped", ID, "P1"),
        occurred_at=SHIPPED_AT,
        shipment_id="P1",
        lines=[ShipmentLine("L1", 1)],
        carrier="SF",
        tracking_number="SF0001",
    )


# The paid order's own limit (30 minutes to picking) is turned off, so that
# only the parked parcel can flag it.
NO_STATUS_LIMIT = StuckRules(limits={})


class TestParkedEvents:
    def test_a_parcel_parked_for_its_picking_is_flagged_after_the_limit(
        self, unit: UnitOfWork
    ) -> None:
        clock = FrozenClock(T0)
        desk = paid_order(unit, clock)
        recorded = desk.record(CH, ID, parcel())
        assert [type(e).__name__ for e in recorded.order.parked] == ["Shipped"]

        clock.advance(hours=6, minutes=19)
        assert stuck_from_stores(unit, clock, rules=NO_STATUS_LIMIT) == []
        clock.advance(minutes=1)
        (stuck,) = stuck_from_stores(unit, clock, rules=NO_STATUS_LIMIT)

        assert stuck.order_id == ID
        assert stuck.reason is StuckReason.EVENT_PARKED
        assert stuck.deadline == SHIPPED_AT.add(hours=6)
        assert stuck.detail == "parked: Shipped"

    def test_the_default_rules_say_why_it_is_stuck(self, unit: UnitOfWork) -> None:
        clock = FrozenClock(T0)
        desk = paid_order(unit, clock)
        desk.record(CH, ID, parcel())
        clock.advance(days=1)

        (stuck,) = stuck_from_stores(unit, clock)

        # Also past its 30 minutes to picking: the parked parcel says why.
        assert stuck.reason is StuckReason.EVENT_PARKED

    def test_once_its_picking_comes_nothing_is_stuck(self, unit: UnitOfWork) -> None:
        clock = FrozenClock(T0)
        desk = paid_order(unit, clock)
        desk.record(CH, ID, parcel())
        desk.record(
            CH,
            ID,
            PickingStarted(
                order_id=ID,
                key=IdempotencyKey("wms", "picking", ID, "1"),
                occurred_at=T0.add(minutes=10),
            ),
        )
        order = desk.order(CH, ID)
        assert order.status is OrderStatus.SHIPPED
        assert order.parked == ()

        clock.advance(days=1)
        assert stuck_from_stores(unit, clock, rules=NO_STATUS_LIMIT) == []

    def test_a_limit_of_none_turns_the_check_off(self, unit: UnitOfWork) -> None:
        clock = FrozenClock(T0)
        desk = paid_order(unit, clock)
        desk.record(CH, ID, parcel())
        clock.advance(days=3)

        rules = StuckRules(limits={}, parked_limit=None)

        assert stuck_from_stores(unit, clock, rules=rules) == []

    def test_a_parked_limit_must_be_a_positive_timedelta(self) -> None:
        with pytest.raises(ValueError, match="parked_limit"):
            StuckRules(parked_limit=dt.timedelta(0))
