"""The desk refuses a parcel no order could take, before picking as after it.

A 3PL's `Shipped` notice naming a line the order lacks, or more units than
were ordered, was parked on a paid order with no error and waited for good
(the monitor flagged it six hours later). It is `Rejected` now, with the
error that names what is wrong, and nothing is written: the order keeps
nothing parked, its audit trail no record.
"""

from __future__ import annotations

import pendulum
import pytest

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import IllegalTransition, ValidationError
from orderkit.integrations import ChannelOrder
from orderkit.orders import OrderStatus, Rejected, ShipmentLine, Shipped
from orderkit.services import DeskPolicy, EventRecorded, Ledger, OrderDesk
from orderkit.testing import FrozenClock, channel_order


CH = "douyin"
OID = "DY-7"


@pytest.fixture
def desk() -> tuple[OrderDesk, MemoryUnitOfWork]:
    clock = FrozenClock(pendulum.datetime(2026, 1, 1, 1, tz="UTC"))
    unit = MemoryUnitOfWork()
    with unit as uow:
        Ledger(uow.ledger, clock).receive("TEA", "SZ-1", 10)
        uow.commit()
    desk = OrderDesk(
        unit, clock, DeskPolicy(locations=["SZ-1"]), Fingerprinter.for_tests()
    )
    incoming: ChannelOrder = channel_order(
        [("TEA", 1, "99.00")], order_id=OID, channel=CH, paid=True
    )
    desk.accept(incoming)
    assert desk.order(CH, OID).status is OrderStatus.PAID
    return desk, unit


def _parcel(line_id: str, quantity: int, n: str) -> Shipped:
    return Shipped(
        order_id=OID,
        key=IdempotencyKey("3pl", "shipped", OID, n),
        occurred_at=pendulum.datetime(2026, 1, 1, 1, tz="UTC"),
        shipment_id=f"P{n}",
        lines=(ShipmentLine(line_id, quantity),),
        carrier="SF",
        tracking_number=f"SF{n}",
    )


def _trail(unit: MemoryUnitOfWork) -> int:
    with unit as uow:
        return len(list(uow.audit.records(CH, OID)))


@pytest.mark.parametrize(
    ("line_id", "quantity", "error"),
    [("99", 1, ValidationError), (None, 5, IllegalTransition)],
    ids=["a line the order lacks", "more units than ordered"],
)
def test_a_parcel_no_order_could_take_is_refused_and_nothing_parked(
    desk: tuple[OrderDesk, MemoryUnitOfWork],
    line_id: str | None,
    quantity: int,
    error: type[Exception],
) -> None:
    office, unit = desk
    order = office.order(CH, OID)
    records = _trail(unit)
    line = line_id if line_id is not None else order.lines[0].line_id

    recorded = office.record(CH, OID, _parcel(line, quantity, "1"))

    (outcome,) = recorded.outcomes
    assert isinstance(outcome, Rejected)
    assert isinstance(outcome.error, error)
    assert recorded.parked == ()
    assert office.order(CH, OID) == order
    assert _trail(unit) == records


def test_a_parcel_the_order_can_take_still_waits_for_its_picking(
    desk: tuple[OrderDesk, MemoryUnitOfWork],
) -> None:
    office, _ = desk
    line = office.order(CH, OID).lines[0].line_id

    recorded = office.record(CH, OID, _parcel(line, 1, "2"))

    assert isinstance(recorded, EventRecorded)
    assert len(recorded.parked) == 1
