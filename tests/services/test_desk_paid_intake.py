"""Money the buyer paid is never forgotten by the desk.

An order that comes in paid is held for a person where a purchase limit or
a shortage would refuse one not paid; a payment `record` refuses holds the
order for a person as one refused at intake does.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.services._refund_samples import CH, T0, buyer_cancelled
from tests.services._samples import awaiting_payment, cny

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import IllegalTransition, InsufficientStock, OrderMismatch
from orderkit.integrations import ChannelOrder
from orderkit.money import Money
from orderkit.orders import (
    Address,
    AuditRecord,
    Buyer,
    FieldChange,
    Order,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    PickingStarted,
)
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


SKU = "JADE-TEAPOT"
SECRET = b"paid-intake-secret-0123456789"


def key(order_id: str, kind: str, n: str = "1") -> IdempotencyKey:
    return IdempotencyKey(CH, kind, order_id, n)


def captured(
    order_id: str, amount: Money, payment_id: str = "", n: str = "1"
) -> PaymentCaptured:
    return PaymentCaptured(
        order_id=order_id,
        key=key(order_id, "trade.paid", n),
        occurred_at=T0.add(minutes=1),
        payment_id=payment_id or f"alipay-{order_id}",
        amount=amount,
    )


def notice(
    order_id: str, quantity: int = 2, *, paid: bool = True, buyer: str = ""
) -> ChannelOrder:
    """Jade teapots at 100.00, paid in full in the notice when `paid`."""
    placed = OrderPlaced(
        order_id=order_id,
        key=key(order_id, "trade.created"),
        occurred_at=T0,
        channel=CH,
        buyer=Buyer(buyer or f"buyer-{order_id}", "李雷", phone=None),
        address=Address("CN", "上海市", "上海市", "徐汇区", f"漕溪北路 {order_id} 号"),
        lines=[OrderLine("L1", SKU, quantity, cny("100.00"))],
    )
    events = (captured(order_id, cny(f"{100 * quantity}.00")),) if paid else ()
    base = awaiting_payment(placed, events=events)
    if not paid:
        return base
    return attrs.evolve(base, status=OrderStatus.PAID, channel_status="WAIT_SEND")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0.add(minutes=2))


def receive(unit: UnitOfWork, clock: FrozenClock, quantity: int, n: int = 0) -> None:
    with unit as uow:
        Ledger(uow.ledger, clock).receive(SKU, "SH-1", quantity, key=f"in-{n}")
        uow.commit()


def make_desk(
    unit: UnitOfWork,
    clock: FrozenClock,
    *,
    on_hand: int,
    limits: tuple[LimitRule, ...] = (),
) -> OrderDesk:
    """A desk over `unit` with `on_hand` teapots received at SH-1, and `limits`."""
    receive(unit, clock, on_hand)
    policy = DeskPolicy(locations=["SH-1"], limits=limits)
    return OrderDesk(unit, clock, policy, Fingerprinter(SECRET))


def unpaid_dy1(
    unit: UnitOfWork, clock: FrozenClock, *, recorded: Sequence[OrderEvent] = ()
) -> OrderDesk:
    """A desk with ten teapots that accepted DY-1 (two, not paid), then `recorded`."""
    desk = make_desk(unit, clock, on_hand=10)
    desk.accept(notice("DY-1", paid=False))
    for event in recorded:
        desk.record(CH, "DY-1", event)
    return desk


def stored(unit: UnitOfWork, order_id: str) -> Order | None:
    with unit as uow:
        return uow.orders.get(CH, order_id)


def trail(unit: UnitOfWork, order_id: str) -> list[AuditRecord]:
    with unit as uow:
        return list(uow.audit.records(CH, order_id))


def stock(unit: UnitOfWork, clock: FrozenClock) -> tuple[int, int, int]:
    with unit as uow:
        b = Ledger(uow.ledger, clock).balance(SKU, "SH-1")
    return (b.on_hand, b.reserved, b.allocated)


def refunds_owed(unit: UnitOfWork) -> list[str]:
    with unit as uow:
        messages = uow.outbox.unsent()
    return [json.loads(m.payload)["amount"] for m in messages if m.topic == "refund"]


BY_BUYER = LimitRule(LimitScope.BUYER, limit=1, window=dt.timedelta(days=1))


class TestPaidShortOfStock:
    """A paid order the stock cannot fill is kept, without stock, for a person."""

    def test_it_is_held_and_names_the_shortage(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        outcome = make_desk(unit, clock, on_hand=1).accept(notice("DY-1", quantity=3))

        assert isinstance(outcome, Held)
        assert outcome.order.review == ("stock",)
        assert "requested 3, available 1" in outcome.detail
        order = stored(unit, "DY-1")
        assert order == outcome.order
        assert order is not None
        assert order.status is OrderStatus.PAID
        assert [p.payment_id for p in order.payments] == ["alipay-DY-1"]
        record = trail(unit, "DY-1")[-1]
        assert record.event_type == "HeldForReview"
        assert record.version == order.version
        assert FieldChange("review", "", "stock") in record.changes
        assert (
            FieldChange(
                "shortages", "", f"'{SKU}' at all locations: requested 3, available 1"
            )
            in record.changes
        )
        assert stock(unit, clock) == (1, 0, 0)
        assert outcome.records == tuple(trail(unit, "DY-1"))

    def test_one_not_paid_is_still_refused_and_leaves_nothing(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        outcome = make_desk(unit, clock, on_hand=1).accept(
            notice("DY-1", 3, paid=False)
        )

        assert isinstance(outcome, Refused)
        assert outcome.reason is RefusalReason.OUT_OF_STOCK
        assert stored(unit, "DY-1") is None
        assert trail(unit, "DY-1") == []

    def test_cancelled_it_sends_its_money_back_and_waits_for_nobody(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = make_desk(unit, clock, on_hand=1)
        desk.accept(notice("DY-1", quantity=3))

        done = desk.record(CH, "DY-1", buyer_cancelled(order_id="DY-1"))

        assert done.order.status is OrderStatus.CANCELLED
        assert done.order.review == ()
        assert done.order.saga is not None
        assert done.order.saga.name == "refund"
        assert refunds_owed(unit) == ["300.00"]
        assert trail(unit, "DY-1")[-1].event_type == "ReviewWithdrawn"
        assert stock(unit, clock) == (1, 0, 0)

    def test_release_holds_its_stock_once_there_is_some(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = make_desk(unit, clock, on_hand=1)
        desk.accept(notice("DY-1", quantity=3))
        before, records = stored(unit, "DY-1"), trail(unit, "DY-1")

        with pytest.raises(InsufficientStock):
            desk.release(CH, "DY-1", actor="ops.wu")
        assert stored(unit, "DY-1") == before
        assert trail(unit, "DY-1") == records
        assert stock(unit, clock) == (1, 0, 0)

        receive(unit, clock, 2, n=1)
        released = desk.release(CH, "DY-1", actor="ops.wu")
        assert isinstance(released, Accepted)
        assert released.order.review == ()
        assert stock(unit, clock) == (3, 0, 3)
        assert [o.order_id for o in desk.picking_queue()] == ["DY-1"]


class TestHeldShortOfStockThenPaidAgain:
    """Held for "stock", an order takes none when paid again: `release` does."""

    def test_the_rest_of_a_split_payment_takes_no_stock(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = make_desk(unit, clock, on_hand=1)
        split = attrs.evolve(
            notice("DY-1", 3), events=(captured("DY-1", cny("200.00")),)
        )
        assert desk.accept(split).order.review == ("stock",)  # type: ignore[union-attr]
        receive(unit, clock, 5, n=1)

        rest = captured("DY-1", cny("100.00"), "alipay-2", n="2")
        after = desk.record(CH, "DY-1", rest).order

        assert after.review == ("stock",)
        assert len(after.payments) == 2
        assert stock(unit, clock) == (6, 0, 0)
        released = desk.release(CH, "DY-1", actor="ops").order
        assert released.review == ()
        assert stock(unit, clock) == (6, 0, 3)


class TestPaidOverALimit:
    """A paid order over a purchase limit is held, uses no limit, and is kept."""

    def test_it_is_held_naming_the_overage_and_uses_no_limit(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = make_desk(unit, clock, on_hand=10, limits=(BY_BUYER,))
        assert isinstance(desk.accept(notice("DY-1", buyer="b-1")), Accepted)
        clock.advance(hours=12)

        outcome = desk.accept(notice("DY-2", 1, buyer="b-1"))

        assert isinstance(outcome, Held)
        assert outcome.order.review == ("limits",)
        assert "buyer:" in outcome.detail
        record = trail(unit, "DY-2")[-1]
        assert record.event_type == "HeldForReview"
        assert FieldChange("review", "", "limits") in record.changes
        (overages,) = [c for c in record.changes if c.field == "overages"]
        assert overages.new.endswith(": 1 of 1")
        assert stock(unit, clock) == (10, 0, 2)  # DY-1's alone
        # DY-1's use lapses 13 hours on; one of DY-2 would still count.
        clock.advance(hours=13)
        assert isinstance(desk.accept(notice("DY-3", 3, buyer="b-1")), Accepted)

    def test_a_payment_it_refused_is_money_paid_too(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = make_desk(unit, clock, on_hand=10, limits=(BY_BUYER,))
        assert isinstance(desk.accept(notice("DY-0", 1, buyer="b-1")), Accepted)
        # Paid in euros, which a CNY order cannot take: no payment recorded,
        # but the buyer paid, and a refusal would forget it.
        paid_in_euros = attrs.evolve(
            notice("DY-1", buyer="b-1"), events=(euros("DY-1", "eur-1"),)
        )

        outcome = desk.accept(paid_in_euros)

        assert isinstance(outcome, Held)
        assert set(outcome.order.review) == {"limits", "payment"}
        assert stored(unit, "DY-1") == outcome.order
        assert stock(unit, clock) == (10, 0, 1)  # DY-0's alone

    def test_one_not_paid_is_still_refused(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = make_desk(unit, clock, on_hand=10, limits=(BY_BUYER,))
        desk.accept(notice("DY-1", buyer="b-1"))

        outcome = desk.accept(notice("DY-2", 1, paid=False, buyer="b-1"))

        assert isinstance(outcome, Refused)
        assert outcome.reason is RefusalReason.LIMITS
        assert stored(unit, "DY-2") is None

    def test_cancelled_it_sends_its_money_back_and_release_lets_it_go_on(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = make_desk(unit, clock, on_hand=10, limits=(BY_BUYER,))
        desk.accept(notice("DY-1", buyer="b-1"))
        desk.accept(notice("DY-2", 1, buyer="b-1"))
        desk.accept(notice("DY-3", 3, buyer="b-1"))

        ended = desk.record(CH, "DY-2", buyer_cancelled(order_id="DY-2"))
        assert ended.order.review == ()
        assert ended.order.saga is not None
        assert refunds_owed(unit) == ["100.00"]

        released = desk.release(CH, "DY-3", actor="ops.wu")
        assert released.order.review == ()
        assert stock(unit, clock) == (10, 0, 5)


class TestReleasedOverALimit:
    """Released by a person, an order held over a limit counts as an accepted one."""

    def test_it_counts_against_the_buyers_next_orders(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = make_desk(unit, clock, on_hand=10, limits=(BY_BUYER,))
        assert isinstance(desk.accept(notice("DY-1", 1, buyer="b-1")), Accepted)
        clock.advance(hours=12)
        held = desk.accept(notice("DY-2", 2, buyer="b-1"))
        assert isinstance(held, Held)
        assert "limits" in held.order.review

        desk.release(CH, "DY-2", actor="ops.wu")

        # DY-1's use has lapsed; DY-2's, from its release, has not.
        clock.advance(hours=13)
        refused = desk.accept(notice("DY-3", 1, paid=False, buyer="b-1"))
        assert isinstance(refused, Refused)
        assert refused.reason is RefusalReason.LIMITS
        again = desk.accept(notice("DY-4", 1, buyer="b-1"))
        assert isinstance(again, Held)
        assert "limits" in again.order.review
        # A day after the release, the buyer may buy again.
        clock.advance(hours=11)
        assert isinstance(desk.accept(notice("DY-5", 3, buyer="b-1")), Accepted)

    def test_released_twice_it_counts_once(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = make_desk(unit, clock, on_hand=10, limits=(BY_BUYER,))
        desk.accept(notice("DY-1", 1, buyer="b-1"))
        desk.accept(notice("DY-2", 1, buyer="b-1"))
        desk.release(CH, "DY-2", actor="ops.wu")

        with pytest.raises(IllegalTransition):
            desk.release(CH, "DY-2", actor="ops.wu")

        held = desk.accept(notice("DY-3", 1, buyer="b-1"))
        assert isinstance(held, Held)
        (overages,) = [
            c for c in trail(unit, "DY-3")[-1].changes if c.field == "overages"
        ]
        assert overages.new.endswith(": 2 of 1")  # DY-1 and DY-2, once each

    def test_a_release_short_of_stock_counts_nothing_until_it_goes_through(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = make_desk(unit, clock, on_hand=1, limits=(BY_BUYER,))
        desk.accept(notice("DY-1", 1, buyer="b-1"))
        desk.accept(notice("DY-2", 1, buyer="b-1"))
        with pytest.raises(InsufficientStock):
            desk.release(CH, "DY-2", actor="ops.wu")
        receive(unit, clock, 5, n=1)

        desk.release(CH, "DY-2", actor="ops.wu")

        desk.accept(notice("DY-3", 1, buyer="b-1"))
        (overages,) = [
            c for c in trail(unit, "DY-3")[-1].changes if c.field == "overages"
        ]
        assert overages.new.endswith(": 2 of 1")

    def test_held_for_a_payment_too_it_counts(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = make_desk(unit, clock, on_hand=10, limits=(BY_BUYER,))
        desk.accept(notice("DY-0", 1, buyer="b-1"))
        clock.advance(hours=12)
        paid_in_euros = attrs.evolve(
            notice("DY-1", buyer="b-1"), events=(euros("DY-1", "eur-1"),)
        )
        assert set(desk.accept(paid_in_euros).order.review) == {"limits", "payment"}  # type: ignore[union-attr]

        desk.release(CH, "DY-1", actor="ops.wu")

        clock.advance(hours=13)
        refused = desk.accept(notice("DY-2", 1, paid=False, buyer="b-1"))
        assert isinstance(refused, Refused)
        assert refused.reason is RefusalReason.LIMITS

    @pytest.mark.parametrize(
        "given", [{"device": "dev-1"}, {}], ids=["given again", "read back"]
    )
    def test_the_request_parts_count_too(
        self, unit: UnitOfWork, clock: FrozenClock, given: dict[str, str]
    ) -> None:
        # A reviewer's screen has the order, not always the request it came
        # with: the hold's record names what `accept` was given.
        by_device = LimitRule(LimitScope.DEVICE, limit=1, window=dt.timedelta(days=1))
        desk = make_desk(unit, clock, on_hand=10, limits=(by_device,))
        desk.accept(notice("DY-1", 1, buyer="b-1"), device="dev-1")
        clock.advance(hours=12)
        held = desk.accept(notice("DY-2", 1, buyer="b-2"), device="dev-1")
        assert isinstance(held, Held)
        (record,) = [r for r in held.records if r.event_type == "HeldForReview"]
        assert FieldChange("request.device", "", "dev-1") in record.changes

        desk.release(CH, "DY-2", actor="ops.wu", **given)

        clock.advance(hours=13)
        refused = desk.accept(
            notice("DY-3", 1, paid=False, buyer="b-3"), device="dev-1"
        )
        assert isinstance(refused, Refused)
        assert refused.reason is RefusalReason.LIMITS

    def test_cancelled_it_gives_back_what_an_accepted_order_gives_back(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """Nothing: limits count attempts to buy, and a released order is one."""
        desk = make_desk(unit, clock, on_hand=10, limits=(BY_BUYER,))
        desk.accept(notice("DY-1", 1, buyer="b-2"))
        clock.advance(hours=12)
        desk.accept(notice("DY-2", 1, buyer="b-2"))
        desk.release(CH, "DY-2", actor="ops.wu")
        clock.advance(hours=13)  # DY-1's use lapses; DY-2's does not
        # b-1 buys once, accepted, and cancels; b-2 cancels the released DY-2.
        assert isinstance(desk.accept(notice("DY-3", 1, buyer="b-1")), Accepted)
        for order_id in ("DY-3", "DY-2"):
            ended = desk.record(CH, order_id, buyer_cancelled(order_id=order_id))
            assert ended.order.status is OrderStatus.CANCELLED

        accepted_then = desk.accept(notice("DY-4", 1, paid=False, buyer="b-1"))
        released_then = desk.accept(notice("DY-5", 1, paid=False, buyer="b-2"))

        assert isinstance(accepted_then, Refused)
        assert isinstance(released_then, Refused)
        assert accepted_then.reason is released_then.reason is RefusalReason.LIMITS


class TestNoPaidOrderIsRefused:
    """Whatever the stock and the limits, money taken is never refused."""

    @settings(max_examples=60, deadline=None)
    @given(
        on_hand=st.integers(0, 4),
        quantity=st.integers(1, 4),
        paid=st.booleans(),
        over_limit=st.booleans(),
    )
    def test_only_an_unpaid_order_is_refused_and_a_held_one_owes_its_money(
        self, on_hand: int, quantity: int, paid: bool, over_limit: bool
    ) -> None:
        unit = MemoryUnitOfWork()
        clock = FrozenClock(T0.add(minutes=2))
        desk = make_desk(unit, clock, on_hand=on_hand + 5, limits=(BY_BUYER,))
        if over_limit:
            assert isinstance(desk.accept(notice("DY-0", 5, buyer="b-1")), Accepted)
        else:
            assert isinstance(desk.accept(notice("DY-0", 5, buyer="b-0")), Accepted)
        short = quantity > on_hand

        outcome = desk.accept(notice("DY-1", quantity, paid=paid, buyer="b-1"))

        if not paid:
            assert isinstance(outcome, Refused) is (over_limit or short)
            assert (stored(unit, "DY-1") is None) is (over_limit or short)
            return
        assert not isinstance(outcome, Refused)
        reasons = ("limits",) if over_limit else ("stock",) if short else ()
        assert outcome.order.review == reasons
        assert isinstance(outcome, Held) is bool(reasons)
        taken = 0 if reasons else quantity
        assert stock(unit, clock) == (on_hand + 5, 0, 5 + taken)
        ended = desk.record(CH, "DY-1", buyer_cancelled(order_id="DY-1"))
        assert ended.order.review == ()
        assert refunds_owed(unit) == [f"{100 * quantity}.00"]
        assert stock(unit, clock) == (on_hand + 5, 0, 5)


def euros(order_id: str, payment_id: str, n: str = "1") -> PaymentCaptured:
    return captured(order_id, Money("200.00", "EUR"), payment_id, n)


EURO_REFUSED = "PaymentCaptured {} 200.00 EUR: amount: currency must be CNY (got 'EUR')"


class TestRecordedPaymentRefused:
    """A payment `record` refuses holds the order, as one stated at intake does."""

    def test_it_holds_the_order_naming_the_payment(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = unpaid_dy1(unit, clock)

        done = desk.record(CH, "DY-1", euros("DY-1", "eur-1"))

        [rejected] = done.rejected
        assert rejected.event.key == key("DY-1", "trade.paid")
        order = stored(unit, "DY-1")
        assert order == done.order
        assert order is not None
        assert order.review == ("payment",)
        assert order.payments == ()
        assert order.status is OrderStatus.PENDING_PAYMENT
        record = trail(unit, "DY-1")[-1]
        assert record.event_type == "HeldForReview"
        assert record.version == order.version
        assert record.changes == (
            FieldChange("review", "", "payment"),
            FieldChange("payment", "", EURO_REFUSED.format("eur-1")),
        )
        # Not in the picking queue, its stock kept while it waits.
        assert stock(unit, clock) == (10, 2, 0)

    def test_the_same_payment_again_changes_nothing(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = unpaid_dy1(unit, clock, recorded=[euros("DY-1", "eur-1")])
        before, records = stored(unit, "DY-1"), trail(unit, "DY-1")

        again = desk.record(CH, "DY-1", euros("DY-1", "eur-1"))
        resent = desk.record(CH, "DY-1", euros("DY-1", "eur-1", n="resent"))

        assert len(again.rejected) == len(resent.rejected) == 1
        assert stored(unit, "DY-1") == before
        assert trail(unit, "DY-1") == records

    def test_the_payment_intake_held_the_order_for_changes_nothing(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = make_desk(unit, clock, on_hand=10)
        first = attrs.evolve(
            notice("DY-1", paid=False), events=(euros("DY-1", "eur-1"),)
        )
        held = desk.accept(first)
        assert isinstance(held, Held)
        assert held.order.review == ("payment",)
        said = FieldChange("payment", "", EURO_REFUSED.format("eur-1"))
        assert said in trail(unit, "DY-1")[-1].changes
        before, records = stored(unit, "DY-1"), trail(unit, "DY-1")

        desk.update(first)

        assert stored(unit, "DY-1") == before
        assert trail(unit, "DY-1") == records

    def test_another_one_while_it_waits_is_named_too(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = unpaid_dy1(unit, clock, recorded=[euros("DY-1", "eur-1")])

        done = desk.record(CH, "DY-1", euros("DY-1", "eur-2", n="2"))

        assert done.order.review == ("payment",)
        record = trail(unit, "DY-1")[-1]
        assert record.version == done.order.version
        assert record.changes == (
            FieldChange("payment", "", EURO_REFUSED.format("eur-2")),
        )

    def test_on_a_cancelled_order_it_stays_a_persons(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = unpaid_dy1(unit, clock, recorded=[buyer_cancelled(order_id="DY-1")])

        done = desk.record(CH, "DY-1", euros("DY-1", "eur-1"))

        assert done.order.status is OrderStatus.CANCELLED
        assert done.order.review == ("payment",)
        assert refunds_owed(unit) == []

    def test_an_event_of_another_order_is_refused_before_anything(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = unpaid_dy1(unit, clock)
        desk.accept(notice("DY-2", 3, paid=False))
        before, records = stored(unit, "DY-1"), trail(unit, "DY-1")

        with pytest.raises(OrderMismatch) as caught:
            desk.record(CH, "DY-1", captured("DY-2", cny("300.00")))

        assert (caught.value.field, caught.value.value) == ("event.order_id", "DY-2")
        assert stored(unit, "DY-1") == before
        assert trail(unit, "DY-1") == records
        assert stored(unit, "DY-2") is not None
        assert stored(unit, "DY-2").payments == ()  # type: ignore[union-attr]

    def test_another_event_refused_changes_nothing_and_is_returned(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = unpaid_dy1(unit, clock, recorded=[buyer_cancelled(order_id="DY-1")])
        before, records = stored(unit, "DY-1"), trail(unit, "DY-1")
        # A picking reported after the cancellation (a parcel that left after
        # it holds the order for a person: test_desk_shipped_after_end.py).
        picking = PickingStarted(
            order_id="DY-1",
            key=key("DY-1", "wms.picking"),
            occurred_at=T0.add(hours=2),
        )

        done = desk.record(CH, "DY-1", picking)

        [rejected] = done.rejected
        assert rejected.event == picking
        assert done.order == before == stored(unit, "DY-1")
        assert trail(unit, "DY-1") == records
