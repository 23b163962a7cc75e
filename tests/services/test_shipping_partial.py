"""`Shipping.ship` with `lines` and `location`: one label per warehouse's parcel.

DY-5005 is five tins of tea on one line. Shanghai (SH-1) has 3, Shenzhen
(SZ-1) has 3: the desk commits 3 at SH-1 and 2 at SZ-1. `ship` booked one
label for every unit not shipped yet, and its `Shipped` named no location,
so the split order could not be shipped by the saga at all: the first
warehouse's label would carry the second's units.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pendulum
import pytest
from tests.services._samples import cny

from orderkit.adapters.sqlite import SqliteUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import (
    CallTimedOut,
    IdempotencyConflict,
    IllegalTransition,
    InvalidQuantity,
    UnknownLocation,
    ValidationError,
)
from orderkit.integrations import ChannelOrder, ChannelRefund, Label, RefundLine
from orderkit.orders import (
    Address,
    AddressChanged,
    Buyer,
    Order,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    Saga,
    ShipmentLine,
    Shipped,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import Quote
from orderkit.serialization import make_converter
from orderkit.services import (
    AlreadyDone,
    DeskPolicy,
    Dispatched,
    Ledger,
    OrderDesk,
    Shipping,
    recover,
)
from orderkit.testing import FrozenClock
from orderkit.testing._order_store_contract import paid, sample_order
from orderkit.testing.fakes import FakeCarrier
from orderkit.testing.faults import Fault, FaultPlan, faulty


CH, ID = "douyin", "DY-5005"
TEA, CUP = "TEA-TIN", "CUP-GLASS"
T0 = pendulum.datetime(2026, 11, 11, 2, 0)
SH, SZ = "SH-1", "SZ-1"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def carrier(clock: FrozenClock) -> FakeCarrier:
    return FakeCarrier(clock)


def desk(
    unit: UnitOfWork, clock: FrozenClock, stock: dict[tuple[str, str], int]
) -> OrderDesk:
    """A desk over SH-1 and SZ-1, each stocked as `stock` says."""
    with unit as uow:
        ledger = Ledger(uow.ledger, clock)
        for (sku, location), quantity in stock.items():
            ledger.receive(sku, location, quantity, key=f"PO:{sku}:{location}")
        uow.commit()
    return OrderDesk(
        unit,
        clock,
        DeskPolicy(locations=[SH, SZ]),
        Fingerprinter(b"shipping-partial-secret-16"),
    )


def accept_paid(orders: OrderDesk, lines: list[OrderLine]) -> None:
    """DY-5005 taken in paid: its stock committed, split where it must be."""
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
    captured = PaymentCaptured(
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
            events=(captured,),
        )
    )


def tins(quantity: int) -> list[OrderLine]:
    return [OrderLine("L1", TEA, quantity, cny("10.00"))]


def figures(
    unit: UnitOfWork, clock: FrozenClock, sku: str, location: str
) -> tuple[int, int, int]:
    """(on hand, reserved, allocated) of `sku` at `location`."""
    with unit as uow:
        b = Ledger(uow.ledger, clock).balance(sku, location)
    return (b.on_hand, b.reserved, b.allocated)


def stored(unit: UnitOfWork) -> Order:
    with unit as uow:
        order = uow.orders.get(CH, ID)
    assert order is not None
    return order


def audit_count(unit: UnitOfWork) -> int:
    with unit as uow:
        return len(list(uow.audit.records(CH, ID)))


def split_order(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    """DY-5005 paid: 3 tins committed at SH-1, 2 at SZ-1."""
    orders = desk(unit, clock, {(TEA, SH): 3, (TEA, SZ): 3})
    accept_paid(orders, tins(5))
    assert figures(unit, clock, TEA, SH) == (3, 0, 3)
    assert figures(unit, clock, TEA, SZ) == (3, 0, 2)
    return orders


class TestTwoWarehouses:
    def test_each_warehouse_ships_its_own_parcel_from_its_own_holds(
        self, unit: UnitOfWork, clock: FrozenClock, carrier: FakeCarrier
    ) -> None:
        orders = split_order(unit, clock)
        shipping = Shipping(unit, clock, orders, carrier)

        first = shipping.ship(
            CH, ID, "SZ-P1", lines=[ShipmentLine("L1", 2)], location=SZ
        )

        assert isinstance(first, Dispatched)
        assert first.order.status is OrderStatus.PARTIALLY_SHIPPED
        assert first.order.saga is None
        assert first.order.shipments[0].lines == (ShipmentLine("L1", 2),)
        assert figures(unit, clock, TEA, SZ) == (1, 0, 0)
        assert figures(unit, clock, TEA, SH) == (3, 0, 3)

        second = shipping.ship(
            CH, ID, "SH-P2", lines=[ShipmentLine("L1", 3)], location=SH
        )

        assert isinstance(second, Dispatched)
        assert second.order.status is OrderStatus.SHIPPED
        assert {s.shipment_id for s in second.order.shipments} == {"SZ-P1", "SH-P2"}
        assert figures(unit, clock, TEA, SH) == (0, 0, 0)
        assert figures(unit, clock, TEA, SZ) == (1, 0, 0)
        assert carrier.effects == {"SZ-P1": 1, "SH-P2": 1}
        assert first.label != second.label

    def test_the_location_named_is_the_one_shipped_from_not_a_guess(
        self, unit: UnitOfWork, clock: FrozenClock, carrier: FakeCarrier
    ) -> None:
        # Shanghai's first box of two looks like Shenzhen's whole task: without
        # the location the desk would take it from Shenzhen.
        orders = split_order(unit, clock)
        shipping = Shipping(unit, clock, orders, carrier)

        shipping.ship(CH, ID, "SH-P1", lines=[ShipmentLine("L1", 2)], location=SH)
        assert figures(unit, clock, TEA, SH) == (1, 0, 1)
        assert figures(unit, clock, TEA, SZ) == (3, 0, 2)

        shipping.ship(CH, ID, "SH-P2", lines=[ShipmentLine("L1", 1)], location=SH)
        assert figures(unit, clock, TEA, SH) == (0, 0, 0)
        assert stored(unit).status is OrderStatus.PARTIALLY_SHIPPED

        # The rest of the order, all of it Shenzhen's.
        last = shipping.ship(CH, ID, "SZ-P3", location=SZ)

        assert isinstance(last, Dispatched)
        assert last.order.status is OrderStatus.SHIPPED
        rest = last.order.shipment("SZ-P3")
        assert rest is not None
        assert rest.lines == (ShipmentLine("L1", 2),)
        assert figures(unit, clock, TEA, SZ) == (1, 0, 0)
        assert figures(unit, clock, TEA, SH) == (0, 0, 0)

    def test_lines_of_several_order_lines_ship_in_the_orders_line_order(
        self, unit: UnitOfWork, clock: FrozenClock, carrier: FakeCarrier
    ) -> None:
        orders = desk(unit, clock, {(TEA, SH): 2, (TEA, SZ): 3, (CUP, SZ): 1})
        accept_paid(orders, [*tins(4), OrderLine("L2", CUP, 1, cny("20.00"))])
        shipping = Shipping(unit, clock, orders, carrier)

        outcome = shipping.ship(
            CH,
            ID,
            "SZ-P1",
            lines=(ShipmentLine("L2", 1), ShipmentLine("L1", 2)),
            location=SZ,
        )

        assert isinstance(outcome, Dispatched)
        assert outcome.order.shipments[0].lines == (
            ShipmentLine("L1", 2),
            ShipmentLine("L2", 1),
        )
        assert figures(unit, clock, TEA, SZ) == (1, 0, 0)
        assert figures(unit, clock, CUP, SZ) == (0, 0, 0)
        assert figures(unit, clock, TEA, SH) == (2, 0, 2)

    def test_without_lines_the_parcel_carries_the_rest_as_before(
        self, unit: UnitOfWork, clock: FrozenClock, carrier: FakeCarrier
    ) -> None:
        orders = split_order(unit, clock)
        shipping = Shipping(unit, clock, orders, carrier)
        shipping.ship(CH, ID, "SZ-P1", lines=[ShipmentLine("L1", 2)], location=SZ)

        outcome = shipping.ship(CH, ID, "REST")

        assert isinstance(outcome, Dispatched)
        assert outcome.order.status is OrderStatus.SHIPPED
        rest = outcome.order.shipment("REST")
        assert rest is not None
        assert rest.lines == (ShipmentLine("L1", 3),)
        assert figures(unit, clock, TEA, SH) == (0, 0, 0)

    def test_a_shipment_done_is_already_done(
        self, unit: UnitOfWork, clock: FrozenClock, carrier: FakeCarrier
    ) -> None:
        orders = split_order(unit, clock)
        shipping = Shipping(unit, clock, orders, carrier)
        shipping.ship(CH, ID, "SZ-P1", lines=[ShipmentLine("L1", 2)], location=SZ)

        again = shipping.ship(
            CH, ID, "SZ-P1", lines=[ShipmentLine("L1", 2)], location=SZ
        )

        assert isinstance(again, AlreadyDone)
        assert carrier.effects == {"SZ-P1": 1}
        assert figures(unit, clock, TEA, SZ) == (1, 0, 0)


class Died(Exception):
    """The process died: nothing after the label call ran."""


class BooksThenDies:
    """A carrier whose label is booked, after which the process dies."""

    def __init__(self, inner: FakeCarrier) -> None:
        self._inner = inner

    def create_label(
        self, shipment_id: str, address: Address, *, parcels: int = 1
    ) -> Label:
        self._inner.create_label(shipment_id, address, parcels=parcels)
        raise Died(shipment_id)

    def tracking(self, tracking_number: str) -> Any:
        return self._inner.tracking(tracking_number)


class TestACrashAfterTheLabel:
    def test_recover_ships_the_same_units_from_the_same_location(
        self, tmp_path: Path, clock: FrozenClock, carrier: FakeCarrier
    ) -> None:
        path = tmp_path / "crash.db"
        unit = SqliteUnitOfWork(path)
        orders = split_order(unit, clock)
        with pytest.raises(Died):
            Shipping(unit, clock, orders, BooksThenDies(carrier)).ship(
                CH, ID, "SH-P1", lines=[ShipmentLine("L1", 2)], location=SH
            )
        unit.close()
        assert carrier.effects == {"SH-P1": 1}

        # A new process over the same file.
        restarted = SqliteUnitOfWork(path)
        try:
            saga = stored(restarted).saga
            assert saga is not None
            assert saga.lines == (ShipmentLine("L1", 2),)
            assert saga.location == SH
            orders = OrderDesk(
                restarted,
                clock,
                DeskPolicy(locations=[SH, SZ]),
                Fingerprinter(b"shipping-partial-secret-16"),
            )
            recovery = recover(
                restarted, shipping=Shipping(restarted, clock, orders, carrier)
            )

            (finished,) = recovery.finished
            assert isinstance(finished, Dispatched)
            assert recovery.stalled == ()
            order = stored(restarted)
            assert order.saga is None
            assert order.status is OrderStatus.PARTIALLY_SHIPPED
            (shipment,) = order.shipments
            assert shipment.lines == (ShipmentLine("L1", 2),)
            assert shipment.tracking_number == carrier.labels["SH-P1"].tracking_number
            assert carrier.effects == {"SH-P1": 1}
            assert figures(restarted, clock, TEA, SH) == (1, 0, 1)
            assert figures(restarted, clock, TEA, SZ) == (3, 0, 2)
        finally:
            restarted.close()

    def test_resume_after_a_lost_reply_ships_the_same_parcel(
        self, unit: UnitOfWork, clock: FrozenClock, carrier: FakeCarrier
    ) -> None:
        orders = split_order(unit, clock)
        lossy = faulty(carrier, FaultPlan(script=[Fault.REPLY_LOST]))
        with pytest.raises(CallTimedOut):
            Shipping(unit, clock, orders, lossy).ship(
                CH, ID, "SZ-P1", lines=[ShipmentLine("L1", 2)], location=SZ
            )

        outcome = Shipping(unit, clock, orders, carrier).resume(CH, ID)

        assert isinstance(outcome, Dispatched)
        assert outcome.order.status is OrderStatus.PARTIALLY_SHIPPED
        assert outcome.order.shipments[0].lines == (ShipmentLine("L1", 2),)
        assert figures(unit, clock, TEA, SZ) == (1, 0, 0)
        assert figures(unit, clock, TEA, SH) == (3, 0, 3)
        assert carrier.effects == {"SZ-P1": 1}

    def test_ship_again_with_the_same_parcel_resumes_it(
        self, unit: UnitOfWork, clock: FrozenClock, carrier: FakeCarrier
    ) -> None:
        orders = split_order(unit, clock)
        plan = FaultPlan(script=[Fault.TIMEOUT_BEFORE])
        lines = [ShipmentLine("L1", 2)]
        with pytest.raises(CallTimedOut):
            Shipping(unit, clock, orders, faulty(carrier, plan)).ship(
                CH, ID, "SZ-P1", lines=lines, location=SZ
            )

        outcome = Shipping(unit, clock, orders, carrier).ship(
            CH, ID, "SZ-P1", lines=iter(lines), location=SZ
        )

        assert isinstance(outcome, Dispatched)
        assert figures(unit, clock, TEA, SZ) == (1, 0, 0)

    def test_an_address_changed_during_a_partial_label_is_not_shipped_to(
        self, unit: UnitOfWork, clock: FrozenClock, carrier: FakeCarrier
    ) -> None:
        orders = split_order(unit, clock)
        moved = AddressChanged(
            order_id=ID,
            key=IdempotencyKey(CH, "trade.address", ID, "1"),
            occurred_at=clock.now(),
            address=Address("CN", "北京市", "北京市", "朝阳区", "建国路 8 号"),
        )

        class Booking:
            """The buyer changes the address while the carrier books the label."""

            def create_label(
                self, shipment_id: str, address: Address, *, parcels: int = 1
            ) -> Label:
                label = carrier.create_label(shipment_id, address, parcels=parcels)
                orders.record(CH, ID, moved)
                return label

            def tracking(self, tracking_number: str) -> Any:
                return carrier.tracking(tracking_number)

        with pytest.raises(IllegalTransition, match="void label"):
            Shipping(unit, clock, orders, Booking()).ship(
                CH, ID, "SZ-P1", lines=[ShipmentLine("L1", 2)], location=SZ
            )

        order = stored(unit)
        assert order.shipments == ()
        assert order.saga is None
        assert "label" in order.review
        assert figures(unit, clock, TEA, SZ) == (3, 0, 2)


class TestTheSameShipmentIdForAnotherParcel:
    @pytest.mark.parametrize(
        ("lines", "location"),
        [
            pytest.param([ShipmentLine("L1", 1)], SZ, id="fewer-units"),
            pytest.param([ShipmentLine("L1", 2)], SH, id="another-location"),
            pytest.param([ShipmentLine("L1", 2)], None, id="no-location"),
            pytest.param(None, SZ, id="the-rest"),
        ],
    )
    def test_it_is_refused_while_in_flight(
        self,
        unit: UnitOfWork,
        clock: FrozenClock,
        carrier: FakeCarrier,
        lines: list[ShipmentLine] | None,
        location: str | None,
    ) -> None:
        orders = split_order(unit, clock)
        plan = FaultPlan(script=[Fault.TIMEOUT_BEFORE])
        with pytest.raises(CallTimedOut):
            Shipping(unit, clock, orders, faulty(carrier, plan)).ship(
                CH, ID, "SZ-P1", lines=[ShipmentLine("L1", 2)], location=SZ
            )
        before, records = stored(unit), audit_count(unit)

        with pytest.raises(IdempotencyConflict) as refused:
            Shipping(unit, clock, orders, carrier).ship(
                CH, ID, "SZ-P1", lines=lines, location=location
            )

        assert refused.value.key == "SZ-P1"
        assert stored(unit) == before
        assert audit_count(unit) == records
        assert not carrier.calls

    def test_a_saga_for_the_rest_refuses_named_lines(
        self, unit: UnitOfWork, clock: FrozenClock, carrier: FakeCarrier
    ) -> None:
        orders = split_order(unit, clock)
        plan = FaultPlan(script=[Fault.TIMEOUT_BEFORE])
        with pytest.raises(CallTimedOut):
            Shipping(unit, clock, orders, faulty(carrier, plan)).ship(CH, ID, "ALL")

        with pytest.raises(IdempotencyConflict):
            Shipping(unit, clock, orders, carrier).ship(
                CH, ID, "ALL", lines=[ShipmentLine("L1", 5)]
            )
        assert isinstance(
            Shipping(unit, clock, orders, carrier).ship(CH, ID, "ALL"), Dispatched
        )


def _zero(line_id: str) -> ShipmentLine:
    """A ShipmentLine of 0 units, which its constructor refuses."""
    line = ShipmentLine(line_id, 1)
    object.__setattr__(line, "quantity", 0)
    return line


class TestLinesAreCheckedBeforeAnythingIsWritten:
    @pytest.mark.parametrize(
        ("lines", "refused"),
        [
            pytest.param([], ("lines", ()), id="empty"),
            pytest.param(
                [ShipmentLine("L9", 1)], ("lines[0].line_id", "L9"), id="not-the-orders"
            ),
            pytest.param(
                [ShipmentLine("L1", 1), ShipmentLine("L1", 1)],
                ("lines[1].line_id", "L1"),
                id="repeated",
            ),
            pytest.param(
                [ShipmentLine("L1", 6)],
                ("lines[0].quantity", 6),
                id="more-than-ordered",
            ),
            pytest.param([_zero("L1")], ("lines[0].quantity", 0), id="zero"),
            pytest.param(["L1"], ("lines[0]", "L1"), id="not-a-line"),
            pytest.param("L1", ("lines", "L1"), id="text"),
        ],
    )
    def test_a_bad_parcel_is_refused(
        self,
        unit: UnitOfWork,
        clock: FrozenClock,
        carrier: FakeCarrier,
        lines: Any,
        refused: tuple[str, object],
    ) -> None:
        orders = split_order(unit, clock)
        before, records = stored(unit), audit_count(unit)

        with pytest.raises(ValidationError) as error:
            Shipping(unit, clock, orders, carrier).ship(
                CH, ID, "SZ-P1", lines=lines, location=SZ
            )

        assert (error.value.field, error.value.value) == refused
        assert stored(unit) == before
        assert audit_count(unit) == records
        assert not carrier.calls

    def test_a_zero_quantity_is_an_invalid_quantity(
        self, unit: UnitOfWork, clock: FrozenClock, carrier: FakeCarrier
    ) -> None:
        orders = split_order(unit, clock)
        with pytest.raises(InvalidQuantity):
            Shipping(unit, clock, orders, carrier).ship(
                CH, ID, "SZ-P1", lines=[_zero("L1")]
            )
        with pytest.raises(InvalidQuantity):
            ShipmentLine("L1", 0)

    def test_more_than_is_left_after_a_parcel_is_refused(
        self, unit: UnitOfWork, clock: FrozenClock, carrier: FakeCarrier
    ) -> None:
        orders = split_order(unit, clock)
        shipping = Shipping(unit, clock, orders, carrier)
        shipping.ship(CH, ID, "SZ-P1", lines=[ShipmentLine("L1", 2)], location=SZ)
        before, records = stored(unit), audit_count(unit)

        with pytest.raises(ValidationError, match="3 units") as refused:
            shipping.ship(CH, ID, "SH-P2", lines=[ShipmentLine("L1", 4)], location=SH)

        assert refused.value.field == "lines[0].quantity"
        assert stored(unit) == before
        assert audit_count(unit) == records
        assert set(carrier.calls) == {"SZ-P1"}

    def test_cancelled_units_are_not_left_to_ship(
        self, unit: UnitOfWork, clock: FrozenClock, carrier: FakeCarrier
    ) -> None:
        orders = split_order(unit, clock)
        orders.record_refund(
            CH,
            ID,
            ChannelRefund(
                refund_id="RF-1",
                order_id=ID,
                key=IdempotencyKey(CH, "refund", ID, "RF-1"),
                amount=cny("10.00"),
                created_at=clock.now(),
                lines=(RefundLine("L1", 1),),
            ),
        )
        assert stored(unit).review == ()  # not picking yet: nothing to check
        shipping = Shipping(unit, clock, orders, carrier)
        before = stored(unit)

        with pytest.raises(ValidationError, match="4 units"):
            shipping.ship(CH, ID, "SZ-P1", lines=[ShipmentLine("L1", 5)])

        assert stored(unit) == before
        outcome = shipping.ship(CH, ID, "ALL-LEFT", lines=[ShipmentLine("L1", 4)])
        assert isinstance(outcome, Dispatched)
        assert outcome.order.status is OrderStatus.SHIPPED

    def test_a_location_the_ledger_never_stocked_is_refused(
        self, unit: UnitOfWork, clock: FrozenClock, carrier: FakeCarrier
    ) -> None:
        # "SZ1" for "SZ-1": the label would be booked, and the units taken
        # off a shelf that never held them while SZ-1 kept them allocated.
        orders = split_order(unit, clock)
        before, records = stored(unit), audit_count(unit)

        with pytest.raises(UnknownLocation) as refused:
            Shipping(unit, clock, orders, carrier).ship(
                CH, ID, "SZ-P1", lines=[ShipmentLine("L1", 2)], location="SZ1"
            )

        assert (refused.value.field, refused.value.value) == ("location", "SZ1")
        assert stored(unit) == before
        assert audit_count(unit) == records
        assert not carrier.calls

    @pytest.mark.parametrize("location", ["", "  ", 7, "SH\n1"])
    def test_a_bad_location_is_refused(
        self,
        unit: UnitOfWork,
        clock: FrozenClock,
        carrier: FakeCarrier,
        location: Any,
    ) -> None:
        orders = split_order(unit, clock)
        before, records = stored(unit), audit_count(unit)

        with pytest.raises(ValidationError) as refused:
            Shipping(unit, clock, orders, carrier).ship(
                CH, ID, "SZ-P1", lines=[ShipmentLine("L1", 2)], location=location
            )

        assert refused.value.field == "location"
        assert stored(unit) == before
        assert audit_count(unit) == records
        assert not carrier.calls


SHIP_SAGA = Saga(
    name="ship",
    step="requested",
    key="SZ-P1",
    started_at=T0,
    reference="SZ-P1",
)


class TestTheSagaInTheStore:
    def test_a_saga_stored_before_lines_and_location_reads_as_before(self) -> None:
        converter = make_converter()
        written = converter.unstructure(SHIP_SAGA)

        assert "lines" not in written
        assert "location" not in written
        assert converter.structure(written, Saga) == SHIP_SAGA

    def test_a_saga_keeps_its_lines_and_location(self) -> None:
        converter = make_converter()
        saga = attrs.evolve(
            SHIP_SAGA,
            lines=[ShipmentLine("L1", 2), ShipmentLine("L2", 1)],
            location=SZ,
        )
        written = converter.unstructure(saga)

        assert written["lines"] == [
            {"line_id": "L1", "quantity": 2},
            {"line_id": "L2", "quantity": 1},
        ]
        assert written["location"] == SZ
        assert converter.structure(written, Saga) == saga

    def test_a_stored_saga_naming_a_line_twice_is_refused(self) -> None:
        with pytest.raises(ValidationError) as refused:
            attrs.evolve(
                SHIP_SAGA, lines=[ShipmentLine("L1", 2), ShipmentLine("L1", 1)]
            )
        assert refused.value.field == "lines[1].line_id"

    @pytest.mark.parametrize(
        "changes",
        [
            pytest.param({}, id="as-before"),
            pytest.param(
                {"lines": [ShipmentLine("L1", 1)], "location": SZ},
                id="lines-and-location",
            ),
        ],
    )
    def test_an_order_with_a_ship_saga_round_trips_through_sqlite(
        self, tmp_path: Path, changes: dict[str, Any]
    ) -> None:
        saga = attrs.evolve(SHIP_SAGA, **changes)
        order = attrs.evolve(paid(sample_order()), saga=saga)
        path = tmp_path / "orders.db"
        unit = SqliteUnitOfWork(path)
        with unit as uow:
            uow.orders.save(order, None)
            uow.commit()
        unit.close()

        reopened = SqliteUnitOfWork(path)
        try:
            with reopened as uow:
                read = uow.orders.get(order.channel, order.order_id)
                waiting = [o.order_id for o in uow.orders.waiting()]
        finally:
            reopened.close()

        assert read == order
        assert read is not None
        assert read.saga == saga
        assert waiting == [order.order_id]

    def test_an_order_document_of_an_older_saga_reads_unchanged(self) -> None:
        converter = make_converter()
        order = attrs.evolve(paid(sample_order()), saga=SHIP_SAGA)
        document = converter.unstructure(order)
        document["saga"].pop("lines", None)
        document["saga"].pop("location", None)

        assert converter.structure(document, Order) == order


def test_the_shipped_event_names_the_location(
    unit: UnitOfWork, clock: FrozenClock, carrier: FakeCarrier
) -> None:
    orders = split_order(unit, clock)
    seen: list[Shipped] = []
    record = orders.record

    class Watching:
        """The desk, watched: which `Shipped` the saga records."""

        def __getattr__(self, name: str) -> Any:
            return getattr(orders, name)

        def record(self, channel: str, order_id: str, event: Any) -> Any:
            if isinstance(event, Shipped):
                seen.append(event)
            return record(channel, order_id, event)

    Shipping(unit, clock, Watching(), carrier).ship(  # type: ignore[arg-type]
        CH, ID, "SZ-P1", lines=[ShipmentLine("L1", 2)], location=SZ
    )

    (event,) = seen
    assert event.location == SZ
    assert event.lines == (ShipmentLine("L1", 2),)
