"""Units the channel refunds before they ship are never picked nor shipped.

DY-3003 is jade teapots on one line, L1, paid on alipay-77 and committed
at SH-1, where ten are on hand. The buyer cancels some of them before the
parcel leaves (Douyin's 仅退款 before shipment, Shopify's refund with
`restock_type: "cancel"`): the channel refunds them, naming the line. The
desk records the refund, cancels the units no parcel carried yet
(`Order.cancelled_units`), and gives their stock back, so that the
warehouse does not ship goods the buyer was refunded for.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.services._refund_samples import CH, T0, placed, stocked_desk
from tests.services._samples import awaiting_payment, backend, cny

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.adapters.postgres import PostgresUnitOfWork
from orderkit.dedupe import IdempotencyKey
from orderkit.integrations import ChannelOrder, ChannelRefund, RefundLine
from orderkit.inventory import Balance
from orderkit.orders import (
    Order,
    OrderLine,
    OrderStatus,
    PaymentCaptured,
    PickingStarted,
    Recorded,
    ShipmentLine,
    Shipped,
    Unchanged,
    unshipped_lines,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import Quote
from orderkit.services import Checkout, DeskPolicy, Ledger, OrderDesk
from orderkit.services._desk_stock import OrderStock
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakePayments, FakeWarehouse


ID = "DY-3003"
SKU = "JADE-TEAPOT"
# Why the order waits once a refund cancelled units being picked.
CANCELLED_UNITS = "cancelled_units"
ON_HAND = 10


_PG_DSN = os.environ.get("ORDERKIT_PG_DSN", "")


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def unit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWork]:
    """An empty backend: in memory, in a SQLite file, or a PostgreSQL schema."""
    if request.param != "postgres":
        yield from backend(request.param, tmp_path / "desk.db")
        return
    if not _PG_DSN:
        pytest.skip("ORDERKIT_PG_DSN is not set: no PostgreSQL server")
    import psycopg  # noqa: PLC0415 - only with a server to talk to

    schema = f"orderkit_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    joiner = "&" if "?" in _PG_DSN else "?"
    pg = PostgresUnitOfWork(f"{_PG_DSN}{joiner}options=-csearch_path%3D{schema}")
    try:
        yield pg
    finally:
        pg.close()
        with psycopg.connect(_PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def paid(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments, *, teapots: int = 3
) -> OrderDesk:
    """DY-3003 accepted and paid in full: `teapots` teapots of 288.00 on L1."""
    desk = stocked_desk(unit, clock)
    lines = [OrderLine("L1", SKU, teapots, cny("288.00"))]
    desk.accept(awaiting_payment(attrs.evolve(placed(order_id=ID), lines=lines)))
    Checkout(unit, clock, desk, payments).pay(
        CH, ID, "alipay-77", cny("288.00") * teapots
    )
    return desk


def refund(
    units: int, *, refund_id: str = "RF-1", key: str | None = None
) -> ChannelRefund:
    """The channel's refund of `units` teapots of L1, 288.00 each."""
    return ChannelRefund(
        refund_id=refund_id,
        order_id=ID,
        key=IdempotencyKey(CH, "refund", ID, key or refund_id),
        amount=cny("288.00") * units,
        created_at=T0.add(hours=2),
        lines=(RefundLine("L1", units, restock=True),),
        reason="买家取消 / buyer cancelled",
    )


def parcel(units: int, *, shipment_id: str = "S1", hours: int = 3) -> Shipped:
    """A parcel of `units` teapots of L1, reported by the warehouse."""
    return Shipped(
        order_id=ID,
        key=IdempotencyKey("wms", "shipped", ID, shipment_id),
        occurred_at=T0.add(hours=hours),
        shipment_id=shipment_id,
        carrier="SF",
        tracking_number=f"SF-{shipment_id}",
        lines=(ShipmentLine("L1", units),),
    )


def picking() -> PickingStarted:
    """The warehouse started picking DY-3003."""
    return PickingStarted(
        order_id=ID,
        key=IdempotencyKey("wms", "picking", ID, "1"),
        occurred_at=T0.add(hours=1),
    )


def balance(unit: UnitOfWork, clock: FrozenClock) -> Balance:
    with unit as uow:
        return Ledger(uow.ledger, clock).balance(SKU, "SH-1")


def stored(unit: UnitOfWork) -> Order:
    with unit as uow:
        order = uow.orders.get(CH, ID)
    assert order is not None
    return order


def pick_units(unit: UnitOfWork, clock: FrozenClock, order: Order) -> int:
    """The teapots the order's pick tasks ask for."""
    with unit as uow:
        stock = OrderStock(
            uow.ledger, clock, DeskPolicy(locations=["SH-1"]), uow.outbox
        )
        tasks = stock.pick_tasks(order)
    return sum(line.quantity for task in tasks for line in task.lines)


def cancelled(order: Order) -> dict[str, int]:
    return {part.line_id: part.quantity for part in order.cancelled_units}


def trail_changes(unit: UnitOfWork) -> list[tuple[str, str, str]]:
    with unit as uow:
        records = uow.audit.records(CH, ID)
    return [
        (c.field, c.old, c.new)
        for r in records
        for c in r.changes
        if c.field.startswith("cancelled_units")
    ]


def test_one_of_three_refunded_before_shipment_is_neither_picked_nor_shipped(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> None:
    desk = paid(unit, clock, payments)
    assert balance(unit, clock).allocated == 3
    available = balance(unit, clock).available

    outcome = desk.record_refund(CH, ID, refund(1))

    assert isinstance(outcome, Recorded)
    order = stored(unit)
    assert cancelled(order) == {"L1": 1}
    assert order.status is OrderStatus.PAID
    assert order.review == ()
    after = balance(unit, clock)
    assert after.allocated == 2
    assert after.available == available + 1
    assert after.on_hand == ON_HAND
    assert unshipped_lines(order) == (ShipmentLine("L1", 2),)
    assert pick_units(unit, clock, order) == 2
    assert ("cancelled_units[L1]", "0", "1") in [
        (c.field, c.old, c.new) for c in outcome.record.changes
    ]
    assert trail_changes(unit) == [("cancelled_units[L1]", "0", "1")]

    desk.record(CH, ID, picking())
    shipped = desk.record(CH, ID, parcel(2))

    assert shipped.order.status is OrderStatus.SHIPPED
    end = balance(unit, clock)
    assert (end.on_hand, end.allocated) == (ON_HAND - 2, 0)
    assert unshipped_lines(shipped.order) == ()


def test_after_a_partial_shipment_only_the_unshipped_units_are_cancelled(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> None:
    desk = paid(unit, clock, payments, teapots=2)
    desk.record(CH, ID, picking())
    desk.record(CH, ID, parcel(1))
    assert stored(unit).status is OrderStatus.PARTIALLY_SHIPPED

    outcome = desk.record_refund(CH, ID, refund(2))

    assert isinstance(outcome, Recorded)
    order = stored(unit)
    assert cancelled(order) == {"L1": 1}
    # The last unit not shipped is cancelled: the order shipped in full.
    assert order.status is OrderStatus.SHIPPED
    assert outcome.record.to_status is OrderStatus.SHIPPED
    assert unshipped_lines(order) == ()
    end = balance(unit, clock)
    assert (end.on_hand, end.allocated) == (ON_HAND - 1, 0)


def test_a_refund_recorded_again_cancels_nothing_more(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> None:
    desk = paid(unit, clock, payments)
    desk.record_refund(CH, ID, refund(1))
    order = stored(unit)
    before = balance(unit, clock)

    again = desk.record_refund(CH, ID, refund(1))
    # The order payload's copy of the same refund, under another key.
    copy = desk.record_refund(CH, ID, refund(1, key="order-notice"))

    assert isinstance(again, Unchanged)
    assert isinstance(copy, Unchanged)
    assert stored(unit) == order
    assert cancelled(stored(unit)) == {"L1": 1}
    assert balance(unit, clock) == before


def test_a_second_refund_cancels_its_own_units(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> None:
    desk = paid(unit, clock, payments)
    desk.record_refund(CH, ID, refund(1))

    desk.record_refund(CH, ID, refund(1, refund_id="RF-2"))

    assert cancelled(stored(unit)) == {"L1": 2}
    assert balance(unit, clock).allocated == 1
    assert trail_changes(unit) == [
        ("cancelled_units[L1]", "0", "1"),
        ("cancelled_units[L1]", "1", "2"),
    ]


def test_a_refund_while_picking_waits_for_a_person(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> None:
    desk = paid(unit, clock, payments)
    desk.record(CH, ID, picking())

    desk.record_refund(CH, ID, refund(1))

    order = stored(unit)
    assert order.status is OrderStatus.PICKING
    assert CANCELLED_UNITS in order.review
    assert cancelled(order) == {"L1": 1}
    assert balance(unit, clock).allocated == 2
    with unit as uow:
        records = uow.audit.records(CH, ID)
    held = records[-1]
    assert held.event_type == "HeldForReview"
    assert ("cancelled_units[L1]", "0", "1") in [
        (c.field, c.old, c.new) for c in held.changes
    ]
    # The packer took the unit out: a person lets the order go on.
    desk.release(CH, ID, actor="ops.wu")
    assert stored(unit).review == ()
    desk.record(CH, ID, parcel(2))
    assert stored(unit).status is OrderStatus.SHIPPED


def test_a_refund_while_the_pick_saga_runs_waits_for_a_person(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> None:
    desk = paid(unit, clock, payments)
    warehouse = FakeWarehouse(clock)
    desk.start_picking(CH, ID, warehouse)
    assert stored(unit).status is OrderStatus.PICKING

    desk.record_refund(CH, ID, refund(2))

    order = stored(unit)
    assert order.review == (CANCELLED_UNITS,)
    assert balance(unit, clock).allocated == 1
    assert pick_units(unit, clock, order) == 1


def test_a_refund_before_picking_holds_nothing(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> None:
    desk = paid(unit, clock, payments)

    desk.record_refund(CH, ID, refund(1))

    assert stored(unit).review == ()


def test_a_refund_of_a_shipped_order_cancels_nothing(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> None:
    desk = paid(unit, clock, payments)
    desk.record(CH, ID, picking())
    desk.record(CH, ID, parcel(3))
    before = balance(unit, clock)

    outcome = desk.record_refund(CH, ID, refund(1))

    assert isinstance(outcome, Recorded)
    order = stored(unit)
    assert order.cancelled_units == ()
    assert order.status is OrderStatus.SHIPPED
    assert balance(unit, clock) == before
    assert trail_changes(unit) == []


def test_every_unit_refunded_keeps_the_status(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> None:
    desk = paid(unit, clock, payments)

    desk.record_refund(CH, ID, refund(3))

    order = stored(unit)
    assert order.status is OrderStatus.PAID
    assert cancelled(order) == {"L1": 3}
    assert unshipped_lines(order) == ()
    assert pick_units(unit, clock, order) == 0
    end = balance(unit, clock)
    assert (end.on_hand, end.allocated, end.available) == (ON_HAND, 0, ON_HAND)


def test_a_parcel_that_carried_a_cancelled_unit_is_kept(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> None:
    desk = paid(unit, clock, payments)
    desk.record_refund(CH, ID, refund(1))
    desk.record(CH, ID, picking())

    shipped = desk.record(CH, ID, parcel(3))

    # The unit left the warehouse: it shipped, and is no longer cancelled.
    assert shipped.order.status is OrderStatus.SHIPPED
    assert shipped.order.cancelled_units == ()
    assert ("cancelled_units[L1]", "1", "0") in trail_changes(unit)
    # The ledger gave the order two units: the third, given back when it
    # was cancelled, comes off the same shelf. Nothing stays allocated.
    assert "stock" not in shipped.order.review
    end = balance(unit, clock)
    assert (end.on_hand, end.allocated, end.available) == (ON_HAND - 3, 0, 7)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    teapots=st.integers(1, 4),
    steps=st.lists(
        st.tuples(st.sampled_from(["ship", "refund"]), st.integers(1, 4)),
        max_size=5,
    ),
)
def test_units_add_up_whatever_the_order_of_parcels_and_refunds(
    teapots: int, steps: list[tuple[str, int]], clock: FrozenClock
) -> None:
    """ordered = shipped + cancelled + unshipped, and the ledger agrees."""
    unit = MemoryUnitOfWork()
    desk = paid(unit, clock, FakePayments(clock), teapots=teapots)
    shipped = refunded = 0
    for n, (kind, units) in enumerate(steps):
        order = stored(unit)
        left = sum(p.quantity for p in unshipped_lines(order))
        if kind == "ship" and left:
            desk.record(CH, ID, picking())
            desk.record(
                CH, ID, parcel(min(units, left), shipment_id=f"S{n}", hours=3 + n)
            )
            shipped += min(units, left)
        elif kind == "refund" and refunded + units <= teapots:
            desk.record_refund(CH, ID, refund(units, refund_id=f"RF-{n}"))
            refunded += units
    order = stored(unit)
    on_parcels = sum(p.quantity for s in order.shipments for p in s.lines)
    cut = sum(cancelled(order).values())
    left = sum(p.quantity for p in unshipped_lines(order))
    assert on_parcels == shipped
    assert on_parcels + cut + left == teapots
    assert cut <= refunded
    end = balance(unit, clock)
    assert end.on_hand == ON_HAND - shipped
    assert end.allocated == left
    done = left == 0 and shipped > 0
    assert (order.status is OrderStatus.SHIPPED) == done


def test_a_refund_the_order_states_at_intake_is_never_held(
    unit: UnitOfWork, clock: FrozenClock
) -> None:
    desk = stocked_desk(unit, clock)
    lines = [OrderLine("L1", SKU, 3, cny("288.00"))]
    placed_order = attrs.evolve(placed(order_id=ID), lines=lines)
    captured = PaymentCaptured(
        order_id=ID,
        key=IdempotencyKey(CH, "trade.paid", ID, "alipay-77"),
        occurred_at=T0.add(minutes=5),
        payment_id="alipay-77",
        amount=cny("864.00"),
    )
    incoming = ChannelOrder(
        placed=placed_order,
        quote=Quote(ID, CH, placed_order.lines),
        status=OrderStatus.PAID,
        channel_status="paid",
        events=(captured,),
        refunds=(refund(1),),
    )

    desk.accept(incoming)

    order = stored(unit)
    assert order.status is OrderStatus.PAID
    assert cancelled(order) == {"L1": 1}
    assert unshipped_lines(order) == (ShipmentLine("L1", 2),)
    after = balance(unit, clock)
    assert (after.allocated, after.available) == (2, ON_HAND - 2)


def test_units_refunded_before_the_payment_was_recorded_are_given_back(
    unit: UnitOfWork, clock: FrozenClock
) -> None:
    desk = stocked_desk(unit, clock)
    lines = [OrderLine("L1", SKU, 3, cny("288.00"))]
    desk.accept(awaiting_payment(attrs.evolve(placed(order_id=ID), lines=lines)))
    captured = PaymentCaptured(
        order_id=ID,
        key=IdempotencyKey(CH, "trade.paid", ID, "alipay-77"),
        occurred_at=T0.add(minutes=5),
        payment_id="alipay-77",
        amount=cny("864.00"),
    )
    # The notice states the payment and the refund: the refund first.
    desk.record_refund(CH, ID, refund(1), stated=(captured,))
    assert balance(unit, clock).reserved == 3

    desk.record(CH, ID, captured)

    order = stored(unit)
    assert order.status is OrderStatus.PAID
    assert cancelled(order) == {"L1": 1}
    after = balance(unit, clock)
    assert (after.reserved, after.allocated, after.available) == (0, 2, ON_HAND - 2)
    assert pick_units(unit, clock, order) == 2
