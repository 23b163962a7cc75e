"""A parcel parked for its picking, then refused because the order ended.

A paid order's `Shipped` came before its `PickingStarted` and was parked;
then the order was cancelled (or closed). The ending let the parcel
through, the ended order refused it, and the desk held the order under
`"event"` only for the ending to withdraw that in the same call: the order
waited for nobody, the units the parcel carried stayed on a shelf they had
left, and the trail never said a parcel left. The same parcel reported
after the end holds the order as `"shipped_after_end"` and takes its units
off the shelf: whichever came first, the desk ends the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.services._samples import backend, cny
from tests.services.test_desk_split_parcels import (
    CH,
    ID,
    T0,
    TEA,
    desk,
    figures,
    parcel,
    tins,
)

from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.integrations import ChannelOrder
from orderkit.orders import (
    Address,
    AuditRecord,
    Buyer,
    Cancelled,
    OrderEvent,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    Shipped,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import Quote
from orderkit.services import DeskPolicy, EventRecorded, Held, OrderDesk
from orderkit.testing import FrozenClock


SHELF = "SH-1"
AFTER_END = "shipped_after_end"


@pytest.fixture(params=["memory", "sqlite"])
def unit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWork]:
    yield from backend(request.param, tmp_path / "desk.db")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


def placed() -> OrderPlaced:
    return OrderPlaced(
        order_id=ID,
        key=IdempotencyKey(CH, "created", ID, "1"),
        occurred_at=T0,
        channel=CH,
        buyer=Buyer("buyer-5005", phone="+8613800135005"),
        address=Address("CN", "上海市", "上海市", "徐汇区", "漕溪北路 5 号"),
        lines=tins(2),
    )


def paid() -> PaymentCaptured:
    return PaymentCaptured(
        order_id=ID,
        key=IdempotencyKey(CH, "paid", ID, "1"),
        occurred_at=T0,
        payment_id="alipay-5005",
        amount=cny("20.00"),
    )


def cancelled() -> Cancelled:
    return Cancelled(
        order_id=ID,
        key=IdempotencyKey(CH, "trade.cancel", ID, "1"),
        occurred_at=T0.add(hours=2),
        reason="买家取消 / the buyer cancelled",
    )


def shipped() -> Shipped:
    """The 3PL's parcel of both tins, from the shelf the order held them on."""
    return parcel("SH-P1", ("L1", 2), location=SHELF)


def notice(
    status: OrderStatus, *events: OrderEvent, channel_status: str = "paid"
) -> ChannelOrder:
    order = placed()
    return ChannelOrder(
        placed=order,
        quote=Quote(ID, CH, order.lines),
        status=status,
        channel_status=channel_status,
        events=events,
    )


def paid_desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    """Three tins on the shelf; the order of two is paid, not picked yet."""
    orders = desk(unit, clock, {(TEA, SHELF): 3})
    orders.accept(notice(OrderStatus.PAID, paid()))
    return orders


def trail(unit: UnitOfWork) -> list[AuditRecord]:
    with unit as uow:
        return list(uow.audit.records(CH, ID))


def names_the_parcel(record: AuditRecord) -> bool:
    return any(
        change.field == AFTER_END and "Shipped" in change.new
        for change in record.changes
    )


class TestAParkedParcelTheEndingRefuses:
    def test_the_order_waits_and_the_units_leave_the_shelf(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = paid_desk(unit, clock)
        parked = orders.record(CH, ID, shipped())
        assert [type(e).__name__ for e in parked.parked] == ["Shipped"]

        done = orders.record(CH, ID, cancelled())

        assert done.order.status is OrderStatus.CANCELLED
        assert done.order.review == (AFTER_END,)
        assert [type(r.event).__name__ for r in done.rejected] == ["Shipped"]
        assert done.parked == ()
        assert figures(unit, clock, TEA, SHELF) == (1, 0, 0)
        assert orders.order(CH, ID) == done.order

    def test_the_trail_says_a_parcel_left(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = paid_desk(unit, clock)
        orders.record(CH, ID, shipped())

        orders.record(CH, ID, cancelled())

        told = [r.event_type for r in trail(unit)]
        assert told[-2:] == ["Cancelled", "HeldForReview"]
        assert "ReviewWithdrawn" not in told
        assert names_the_parcel(trail(unit)[-1])

    def test_it_is_not_also_held_for_the_event(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = paid_desk(unit, clock)
        orders.record(CH, ID, shipped())

        done = orders.record(CH, ID, cancelled())

        assert "event" not in done.order.review
        holds = [r for r in trail(unit) if r.event_type == "HeldForReview"]
        assert len(holds) == 1

    def test_the_money_is_owed_back_all_the_same(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = paid_desk(unit, clock)
        orders.record(CH, ID, shipped())

        done = orders.record(CH, ID, cancelled())

        assert [r.amount for r in done.refund_due] == [cny("20.00")]
        assert done.order.saga is not None
        assert done.order.saga.name == "refund"

    def test_a_redelivery_of_the_parcel_tells_nothing_more(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = paid_desk(unit, clock)
        orders.record(CH, ID, shipped())
        first = orders.record(CH, ID, cancelled())
        records = trail(unit)

        again = orders.record(CH, ID, shipped())

        assert again.order == first.order
        assert trail(unit) == records
        assert figures(unit, clock, TEA, SHELF) == (1, 0, 0)


class TestEitherArrivalOrderEndsTheSame:
    @pytest.mark.parametrize("parcel_first", [True, False])
    def test_the_shelf_review_and_refund(
        self, unit: UnitOfWork, clock: FrozenClock, parcel_first: bool
    ) -> None:
        orders = paid_desk(unit, clock)
        events: list[OrderEvent] = [shipped(), cancelled()]
        if not parcel_first:
            events.reverse()

        done = [orders.record(CH, ID, event) for event in events]

        order = orders.order(CH, ID)
        assert order.status is OrderStatus.CANCELLED
        assert order.review == (AFTER_END,)
        assert figures(unit, clock, TEA, SHELF) == (1, 0, 0)
        owed = [r.amount for answer in done for r in answer.refund_due]
        assert owed == [cny("20.00")]
        assert names_the_parcel(trail(unit)[-1])


class TestEveryParcelComesOff:
    """Two parcels of one tin each: the second leaves the shelf as the first."""

    @pytest.mark.parametrize(
        "arrival",
        [
            ("P1", "P2", "X"),
            ("P1", "X", "P2"),
            ("X", "P1", "P2"),
            ("P2", "X", "P1"),
        ],
    )
    def test_whatever_came_first(
        self, unit: UnitOfWork, clock: FrozenClock, arrival: tuple[str, ...]
    ) -> None:
        orders = paid_desk(unit, clock)
        events: dict[str, OrderEvent] = {
            "P1": parcel("SH-P1", ("L1", 1), location=SHELF),
            "P2": parcel("SH-P2", ("L1", 1), location=SHELF),
            "X": cancelled(),
        }

        for name in arrival:
            orders.record(CH, ID, events[name])

        order = orders.order(CH, ID)
        assert order.status is OrderStatus.CANCELLED
        assert order.review == (AFTER_END,)
        assert figures(unit, clock, TEA, SHELF) == (1, 0, 0)

    def test_a_further_parcel_delivered_again_takes_nothing_more(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = paid_desk(unit, clock)
        orders.record(CH, ID, cancelled())
        orders.record(CH, ID, parcel("SH-P1", ("L1", 1), location=SHELF))
        further = parcel("SH-P2", ("L1", 1), location=SHELF)

        orders.record(CH, ID, further)
        orders.record(CH, ID, further)

        assert figures(unit, clock, TEA, SHELF) == (1, 0, 0)


class TestEveryWayTheOrderEnds:
    def test_a_channel_redelivery_stating_the_cancellation(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = paid_desk(unit, clock)
        orders.record(CH, ID, shipped())
        again = notice(
            OrderStatus.CANCELLED, paid(), cancelled(), channel_status="cancelled"
        )

        orders.accept(again)
        done = orders.update(again)

        [*_, last] = done
        assert isinstance(last, EventRecorded)
        assert last.order.review == (AFTER_END,)
        assert figures(unit, clock, TEA, SHELF) == (1, 0, 0)

    def test_the_shop_cancelling_it(self, unit: UnitOfWork, clock: FrozenClock) -> None:
        orders = paid_desk(unit, clock)
        orders.record(CH, ID, shipped())

        done = orders.cancel(CH, ID, reason="fraud check", actor="staff-7")

        assert done.order.status is OrderStatus.CANCELLED
        assert done.order.review == (AFTER_END,)
        assert figures(unit, clock, TEA, SHELF) == (1, 0, 0)

    def test_closing_it_unpaid(self, unit: UnitOfWork, clock: FrozenClock) -> None:
        orders = desk(unit, clock, {(TEA, SHELF): 3})
        orders.accept(notice(OrderStatus.PENDING_PAYMENT, channel_status="unpaid"))
        orders.record(CH, ID, shipped())
        assert figures(unit, clock, TEA, SHELF) == (3, 2, 0)
        clock.advance(days=3)

        [done] = orders.close_unpaid()

        assert done.order.status is OrderStatus.CLOSED
        assert done.order.review == (AFTER_END,)
        assert figures(unit, clock, TEA, SHELF) == (1, 0, 0)

    @pytest.mark.parametrize("parcel_first", [True, False])
    def test_a_first_notice_stating_the_parcel_and_the_cancellation(
        self, unit: UnitOfWork, clock: FrozenClock, parcel_first: bool
    ) -> None:
        orders = desk(unit, clock, {(TEA, SHELF): 3})
        events: list[OrderEvent] = [shipped(), cancelled()]
        if not parcel_first:
            events.reverse()

        answer = orders.accept(
            notice(OrderStatus.CANCELLED, paid(), *events, channel_status="cancelled")
        )

        assert isinstance(answer, Held)
        assert answer.order.review == (AFTER_END,)
        assert "shipped after the end" in answer.detail
        assert figures(unit, clock, TEA, SHELF) == (1, 0, 0)
        assert names_the_parcel(trail(unit)[-1])

    def test_a_first_notice_on_a_desk_not_taking_shipped_stock(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk(unit, clock, {(TEA, SHELF): 3})
        orders = OrderDesk(
            unit,
            clock,
            DeskPolicy(locations=[SHELF], take_shipped_stock=False),
            Fingerprinter(b"parked-parcel-secret-16"),
        )

        answer = orders.accept(
            notice(
                OrderStatus.CANCELLED,
                paid(),
                shipped(),
                cancelled(),
                channel_status="cancelled",
            )
        )

        assert isinstance(answer, Held)
        assert answer.order.review == (AFTER_END,)
        assert figures(unit, clock, TEA, SHELF) == (3, 0, 0)
