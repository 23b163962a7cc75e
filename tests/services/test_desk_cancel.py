"""`OrderDesk.cancel`: the shop cancels an order without building the event."""

from __future__ import annotations

import pytest
from tests.services._samples import T0, sh1_desk

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import IllegalTransition, UnknownOrder, ValidationError
from orderkit.orders import (
    Applied,
    Closed,
    Duplicate,
    OrderStatus,
    PickingStarted,
    ShipmentLine,
    Shipped,
)
from orderkit.ports import UnitOfWork
from orderkit.services import Accepted, Ledger, OrderDesk
from orderkit.testing import FrozenClock, channel_order


LINES = [("JADE-TEAPOT", 2, "88.00")]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    return sh1_desk(unit, clock, "JADE-TEAPOT")


def available(unit: UnitOfWork, clock: FrozenClock) -> int:
    with unit as uow:
        return Ledger(uow.ledger, clock).balance("JADE-TEAPOT", "SH-1").available


def trail(unit: UnitOfWork) -> list[str]:
    with unit as uow:
        return [r.event_type for r in uow.audit.records("douyin", "DY-1001")]


def test_an_unpaid_order_is_cancelled_and_its_stock_goes_back(
    desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
) -> None:
    assert isinstance(desk.accept(channel_order(LINES)), Accepted)
    assert available(unit, clock) == 3

    done = desk.cancel("douyin", "DY-1001", reason="买家来电取消", actor="cs.li")

    assert done.order.status is OrderStatus.CANCELLED
    assert isinstance(done.outcomes[0], Applied)
    assert done.outcomes[0].event.key == IdempotencyKey(
        "orderkit", "cancelled", "DY-1001", "desk"
    )
    assert available(unit, clock) == 5
    with unit as uow:
        record = uow.audit.records("douyin", "DY-1001")[-1]
    assert (record.event_type, record.actor) == ("Cancelled", "cs.li")
    assert desk.order("douyin", "DY-1001") == done.order


def test_a_paid_order_owes_its_money_back(desk: OrderDesk) -> None:
    desk.accept(channel_order(LINES, paid=True))

    done = desk.cancel("douyin", "DY-1001", reason="fraud check", actor="risk.wu")

    assert done.order.status is OrderStatus.CANCELLED
    assert [str(due.amount) for due in done.refund_due] == ["176.00 CNY"]
    assert done.order.saga is not None
    assert done.order.saga.name == "refund"


def test_the_same_call_again_changes_nothing(desk: OrderDesk, unit: UnitOfWork) -> None:
    desk.accept(channel_order(LINES))
    first = desk.cancel("douyin", "DY-1001", reason="duplicate order", actor="cs.li")
    records = trail(unit)

    again = desk.cancel("douyin", "DY-1001", reason="duplicate order", actor="cs.li")

    assert isinstance(again.outcomes[0], Duplicate)
    assert again.order == first.order
    assert trail(unit) == records


def test_a_shipped_order_is_refused_and_nothing_changes(
    desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
) -> None:
    desk.accept(channel_order(LINES, paid=True))
    for event in (
        PickingStarted(
            order_id="DY-1001",
            key=IdempotencyKey("wms", "picking", "DY-1001", "1"),
            occurred_at=T0,
        ),
        Shipped(
            order_id="DY-1001",
            key=IdempotencyKey("wms", "shipped", "DY-1001", "1"),
            occurred_at=T0,
            shipment_id="SH-1-1",
            carrier="SF",
            tracking_number="SF1234567890",
            lines=(ShipmentLine("L1", 2),),
        ),
    ):
        desk.record("douyin", "DY-1001", event)
    before = desk.order("douyin", "DY-1001")
    records = trail(unit)

    with pytest.raises(IllegalTransition) as refused:
        desk.cancel("douyin", "DY-1001", reason="too late", actor="cs.li")

    assert refused.value.order_id == "DY-1001"
    assert desk.order("douyin", "DY-1001") == before
    assert trail(unit) == records
    assert available(unit, clock) == 3


def test_a_closed_order_is_refused_and_nothing_changes(
    desk: OrderDesk, unit: UnitOfWork
) -> None:
    desk.accept(channel_order(LINES))
    closed = Closed(
        order_id="DY-1001",
        key=IdempotencyKey("douyin", "closed", "DY-1001", "1"),
        occurred_at=T0.add(hours=1),
    )
    desk.record("douyin", "DY-1001", closed)
    before = desk.order("douyin", "DY-1001")
    records = trail(unit)

    with pytest.raises(IllegalTransition) as refused:
        desk.cancel("douyin", "DY-1001", reason="buyer called", actor="cs.li")

    assert refused.value.status == OrderStatus.CLOSED
    assert desk.order("douyin", "DY-1001") == before
    assert trail(unit) == records


def test_an_order_cancelled_already_is_returned_as_it_is(
    desk: OrderDesk, unit: UnitOfWork
) -> None:
    desk.accept(channel_order(LINES))
    first = desk.cancel("douyin", "DY-1001", reason="buyer called", actor="cs.li")
    records = trail(unit)

    again = desk.cancel(
        "douyin", "DY-1001", reason="buyer called", actor="cs.wang", request="2"
    )

    assert again.order == first.order
    assert trail(unit) == records


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"request": ""}, "request"),
        ({"reason": ""}, "reason"),
        ({"actor": "\x00"}, "actor"),
    ],
)
def test_bad_input_names_its_field(
    desk: OrderDesk, unit: UnitOfWork, changes: dict[str, str], field: str
) -> None:
    desk.accept(channel_order(LINES))
    records = trail(unit)
    arguments = {"reason": "r", "actor": "cs.li"} | changes

    with pytest.raises(ValidationError) as refused:
        desk.cancel("douyin", "DY-1001", **arguments)

    assert (refused.value.field, refused.value.value) == (field, changes[field])
    assert trail(unit) == records


def test_an_unknown_order_is_named(desk: OrderDesk) -> None:
    with pytest.raises(UnknownOrder):
        desk.cancel("douyin", "DY-404", reason="r", actor="cs.li")
