"""An order split between two warehouses: each parcel leaves its own stock.

DY-5005 is five tins of tea on one line. Shanghai (SH-1) has 3, Shenzhen
(SZ-1) has 3: the desk commits 3 at SH-1 and 2 at SZ-1, and each warehouse
gets its pick task. A `Shipped` event names no warehouse, so the desk took
every parcel from the oldest holds first: Shenzhen's parcel of 2 came out of
Shanghai's stock, and a stocktake in between made the error permanent
(units on sale that are not on the shelf).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest
from tests.services._samples import backend, cny

from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.integrations import ChannelOrder, ChannelRefund, RefundLine
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
from orderkit.services import DeskPolicy, Ledger, OrderDesk
from orderkit.services._desk_stock import OrderStock
from orderkit.testing import FrozenClock


CH, ID = "douyin", "DY-5005"
TEA, CUP = "TEA-TIN", "CUP-GLASS"
T0 = pendulum.datetime(2026, 11, 11, 2, 0)


@pytest.fixture(params=["memory", "sqlite"])
def unit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWork]:
    yield from backend(request.param, tmp_path / "desk.db")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


def desk(
    unit: UnitOfWork, clock: FrozenClock, stock: dict[tuple[str, str], int]
) -> OrderDesk:
    with unit as uow:
        ledger = Ledger(uow.ledger, clock)
        for (sku, location), quantity in stock.items():
            ledger.receive(sku, location, quantity, key=f"PO:{sku}:{location}")
        uow.commit()
    return OrderDesk(
        unit,
        clock,
        DeskPolicy(locations=["SH-1", "SZ-1"]),
        Fingerprinter(b"split-parcels-secret-16"),
    )


def accept_paid(orders: OrderDesk, lines: list[OrderLine]) -> None:
    placed = OrderPlaced(
        order_id=ID,
        key=IdempotencyKey(CH, "created", ID, "1"),
        occurred_at=T0,
        channel=CH,
        buyer=Buyer("buyer-5005", phone="+8613800135005"),
        address=Address("CN", "上海市", "上海市", "徐汇区", "漕溪北路 5 号"),
        lines=lines,
    )
    total = sum((line.unit_price * line.quantity for line in lines), cny("0"))
    paid = PaymentCaptured(
        order_id=ID,
        key=IdempotencyKey(CH, "paid", ID, "1"),
        occurred_at=T0,
        payment_id="alipay-5005",
        amount=total,
    )
    orders.accept(
        ChannelOrder(
            placed=placed,
            quote=Quote(ID, CH, placed.lines),
            status=OrderStatus.PAID,
            channel_status="paid",
            events=(paid,),
        )
    )
    orders.record(
        CH,
        ID,
        PickingStarted(
            order_id=ID, key=IdempotencyKey("wms", "picking", ID, "1"), occurred_at=T0
        ),
    )


def parcel(
    shipment_id: str, *parts: tuple[str, int], location: str | None = None
) -> Shipped:
    return Shipped(
        order_id=ID,
        key=IdempotencyKey("wms", "shipped", ID, shipment_id),
        occurred_at=T0.add(hours=1),
        shipment_id=shipment_id,
        lines=[ShipmentLine(line_id, quantity) for line_id, quantity in parts],
        carrier="SF",
        tracking_number=f"SF{shipment_id}",
        location=location,
    )


def figures(
    unit: UnitOfWork, clock: FrozenClock, sku: str, location: str
) -> tuple[int, int, int]:
    with unit as uow:
        b = Ledger(uow.ledger, clock).balance(sku, location)
    return (b.on_hand, b.reserved, b.allocated)


def tins(quantity: int) -> list[OrderLine]:
    return [OrderLine("L1", TEA, quantity, cny("10.00"))]


class TestEachParcelLeavesItsOwnWarehouse:
    def test_the_order_is_split_three_and_two(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = desk(unit, clock, {(TEA, "SH-1"): 3, (TEA, "SZ-1"): 3})
        accept_paid(orders, tins(5))

        assert figures(unit, clock, TEA, "SH-1") == (3, 0, 3)
        assert figures(unit, clock, TEA, "SZ-1") == (3, 0, 2)

    def test_shenzhens_parcel_comes_out_of_shenzhen(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = desk(unit, clock, {(TEA, "SH-1"): 3, (TEA, "SZ-1"): 3})
        accept_paid(orders, tins(5))

        orders.record(CH, ID, parcel("SZ-P1", ("L1", 2)))

        assert figures(unit, clock, TEA, "SZ-1") == (1, 0, 0)
        assert figures(unit, clock, TEA, "SH-1") == (3, 0, 3)

    def test_a_stocktake_between_the_parcels_changes_nothing(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = desk(unit, clock, {(TEA, "SH-1"): 3, (TEA, "SZ-1"): 3})
        accept_paid(orders, tins(5))
        orders.record(CH, ID, parcel("SZ-P1", ("L1", 2)))
        with unit as uow:
            # Shanghai counts its shelf before its parcel leaves: 3 tins.
            Ledger(uow.ledger, clock).adjust(TEA, "SH-1", counted=3, key="count-1")
            uow.commit()

        shipped = orders.record(CH, ID, parcel("SH-P2", ("L1", 3)))

        assert shipped.order.status is OrderStatus.SHIPPED
        assert shipped.order.review == ()
        assert figures(unit, clock, TEA, "SH-1") == (0, 0, 0)
        assert figures(unit, clock, TEA, "SZ-1") == (1, 0, 0)

    def test_the_location_holding_exactly_the_parcel_ships_it(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = desk(unit, clock, {(TEA, "SH-1"): 3, (TEA, "SZ-1"): 3})
        accept_paid(orders, tins(5))

        # Both could have sent 2 tins; only Shanghai's task is 3.
        orders.record(CH, ID, parcel("SH-P1", ("L1", 3)))

        assert figures(unit, clock, TEA, "SH-1") == (0, 0, 0)
        assert figures(unit, clock, TEA, "SZ-1") == (3, 0, 2)

    def test_the_only_location_with_a_sku_ships_its_parcel(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = desk(
            unit, clock, {(TEA, "SH-1"): 2, (TEA, "SZ-1"): 3, (CUP, "SZ-1"): 1}
        )
        lines = [*tins(4), OrderLine("L2", CUP, 1, cny("20.00"))]
        accept_paid(orders, lines)
        assert figures(unit, clock, TEA, "SH-1") == (2, 0, 2)
        assert figures(unit, clock, TEA, "SZ-1") == (3, 0, 2)

        # One tin and the cup: only Shenzhen holds cups for the order.
        orders.record(CH, ID, parcel("SZ-P1", ("L1", 1), ("L2", 1)))

        assert figures(unit, clock, TEA, "SZ-1") == (2, 0, 1)
        assert figures(unit, clock, CUP, "SZ-1") == (0, 0, 0)
        assert figures(unit, clock, TEA, "SH-1") == (2, 0, 2)


class TestTheRestIsPicked:
    def test_pick_tasks_ask_for_what_is_left_to_ship(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = desk(unit, clock, {(TEA, "SH-1"): 3, (TEA, "SZ-1"): 3})
        accept_paid(orders, tins(5))
        orders.record(CH, ID, parcel("SZ-P1", ("L1", 2)))
        order = orders.order(CH, ID)

        with unit as uow:
            policy = DeskPolicy(locations=["SH-1", "SZ-1"])
            tasks = OrderStock(uow.ledger, clock, policy, uow.outbox).pick_tasks(order)

        assert [(t.location, [p.quantity for p in t.lines]) for t in tasks] == [
            ("SH-1", [3])
        ]


class TestAParcelThatNamesItsWarehouse:
    """A sender that knows where the parcel left says so: no judging."""

    def test_shanghais_first_box_of_two_leaves_shanghai(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = desk(unit, clock, {(TEA, "SH-1"): 3, (TEA, "SZ-1"): 3})
        accept_paid(orders, tins(5))

        # Two tins are Shenzhen's whole task: unnamed, the parcel would be
        # judged Shenzhen's.
        orders.record(CH, ID, parcel("SH-P1", ("L1", 2), location="SH-1"))

        assert figures(unit, clock, TEA, "SH-1") == (1, 0, 1)
        assert figures(unit, clock, TEA, "SZ-1") == (3, 0, 2)

    def test_an_even_split_takes_the_named_warehouse(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = desk(unit, clock, {(TEA, "SH-1"): 1, (TEA, "SZ-1"): 1})
        accept_paid(orders, tins(2))

        orders.record(CH, ID, parcel("SZ-P1", ("L1", 1), location="SZ-1"))

        assert figures(unit, clock, TEA, "SZ-1") == (0, 0, 0)
        assert figures(unit, clock, TEA, "SH-1") == (1, 0, 1)

    def test_a_warehouse_that_holds_none_of_it_is_short(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = desk(unit, clock, {(TEA, "SH-1"): 5})
        accept_paid(orders, tins(2))

        recorded = orders.record(CH, ID, parcel("SZ-P1", ("L1", 2), location="SZ-1"))

        # The parcel left all the same; the ledger's figures wait for a person.
        assert recorded.order.status is OrderStatus.SHIPPED
        assert "stock" in recorded.order.review
        assert figures(unit, clock, TEA, "SH-1") == (5, 0, 2)


class TestARefundWhileAnotherWarehousePacks:
    def test_the_order_waits_for_a_person(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = desk(unit, clock, {(TEA, "SH-1"): 3, (TEA, "SZ-1"): 3})
        accept_paid(orders, tins(5))
        orders.record(CH, ID, parcel("SZ-P1", ("L1", 2)))

        # Shanghai is still packing its 3 tins when the buyer cancels one.
        orders.record_refund(
            CH,
            ID,
            ChannelRefund(
                refund_id="RF-1",
                order_id=ID,
                key=IdempotencyKey(CH, "refund", ID, "RF-1"),
                amount=cny("10.00"),
                created_at=T0.add(hours=2),
                lines=(RefundLine("L1", 1),),
            ),
        )

        order = orders.order(CH, ID)
        assert order.status is OrderStatus.PARTIALLY_SHIPPED
        assert "cancelled_units" in order.review
        assert figures(unit, clock, TEA, "SH-1") == (3, 0, 2)


def refund_one() -> ChannelRefund:
    """The buyer cancels one tin before it ships."""
    return ChannelRefund(
        refund_id="RF-9",
        order_id=ID,
        key=IdempotencyKey(CH, "refund", ID, "RF-9"),
        amount=cny("10.00"),
        created_at=T0.add(minutes=30),
        lines=(RefundLine("L1", 1),),
    )


class TestAParcelOfMoreThanTheOrderHeld:
    """A tin cancelled and packed all the same left the shelf: the ledger says so."""

    def test_the_extra_unit_comes_off_the_shelf(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = desk(unit, clock, {(TEA, "SH-1"): 5})
        accept_paid(orders, tins(3))
        orders.record_refund(CH, ID, refund_one())
        assert figures(unit, clock, TEA, "SH-1") == (5, 0, 2)

        shipped = orders.record(CH, ID, parcel("SH-P1", ("L1", 3)))

        assert shipped.order.status is OrderStatus.SHIPPED
        assert "stock" not in shipped.order.review
        assert figures(unit, clock, TEA, "SH-1") == (2, 0, 0)
        with unit as uow:
            kinds = [
                m.kind.value
                for m in Ledger(uow.ledger, clock).movements(sku=TEA, location="SH-1")
            ]
        assert kinds[-2:] == ["ship", "adjust"]

    def test_a_unit_promised_to_another_buyer_waits_for_a_person(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = desk(unit, clock, {(TEA, "SH-1"): 3})
        accept_paid(orders, tins(3))
        orders.record_refund(CH, ID, refund_one())
        with unit as uow:
            # The tin given back sold at once: promised to another buyer.
            Ledger(uow.ledger, clock).reserve("cart-2", [(TEA, "SH-1", 1)])
            uow.commit()

        shipped = orders.record(CH, ID, parcel("SH-P1", ("L1", 3)))

        assert shipped.order.status is OrderStatus.SHIPPED
        assert "stock" in shipped.order.review
        # The order's two tins shipped; the third is a person's to settle.
        assert figures(unit, clock, TEA, "SH-1") == (1, 1, 0)

    def test_two_lines_of_one_sku_beyond_are_one_correction(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = desk(unit, clock, {(TEA, "SH-1"): 5})
        lines = [*tins(3), OrderLine("L2", TEA, 2, cny("10.00"))]
        accept_paid(orders, lines)
        orders.record_refund(
            CH,
            ID,
            ChannelRefund(
                refund_id="RF-3",
                order_id=ID,
                key=IdempotencyKey(CH, "refund", ID, "RF-3"),
                amount=cny("30.00"),
                created_at=T0.add(minutes=30),
                lines=(RefundLine("L1", 3),),
            ),
        )
        assert figures(unit, clock, TEA, "SH-1") == (5, 0, 2)

        # Everything went in the box all the same.
        shipped = orders.record(CH, ID, parcel("SH-P1", ("L1", 3), ("L2", 2)))

        assert shipped.order.status is OrderStatus.SHIPPED
        assert "stock" not in shipped.order.review
        assert figures(unit, clock, TEA, "SH-1") == (0, 0, 0)

    def test_the_extra_unit_comes_off_the_shelf_the_parcel_left(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = desk(unit, clock, {(TEA, "SH-1"): 3, (TEA, "SZ-1"): 3})
        accept_paid(orders, tins(5))
        orders.record(CH, ID, parcel("SH-P1", ("L1", 3)))  # Shanghai's task
        orders.record_refund(CH, ID, refund_one())  # Shenzhen keeps one held
        assert figures(unit, clock, TEA, "SZ-1") == (3, 0, 1)

        # Shenzhen packed the cancelled tin all the same.
        orders.record(CH, ID, parcel("SZ-P2", ("L1", 2)))

        assert figures(unit, clock, TEA, "SZ-1") == (1, 0, 0)
        assert figures(unit, clock, TEA, "SH-1") == (0, 0, 0)

    def test_units_held_elsewhere_go_back_when_one_shelf_sent_them_all(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = desk(unit, clock, {(TEA, "SH-1"): 3, (TEA, "SZ-1"): 3})
        accept_paid(orders, tins(5))
        with unit as uow:
            Ledger(uow.ledger, clock).receive(TEA, "SZ-1", 10, key="PO-more")
            uow.commit()

        # Shenzhen, restocked, sent the whole order.
        shipped = orders.record(CH, ID, parcel("SZ-P1", ("L1", 5), location="SZ-1"))

        assert shipped.order.status is OrderStatus.SHIPPED
        assert figures(unit, clock, TEA, "SZ-1") == (8, 0, 0)
        # Shanghai's three never left: nothing holds them any more.
        assert figures(unit, clock, TEA, "SH-1") == (3, 0, 0)
