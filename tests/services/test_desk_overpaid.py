"""An order paid twice waits for a person from the moment the second payment lands."""

from __future__ import annotations

import json

import pendulum
import pytest
from tests.services._samples import cny

from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.integrations import ChannelOrder, ChannelRefund, ChannelTransaction
from orderkit.money import Money
from orderkit.orders import (
    Address,
    Applied,
    AuditRecord,
    Buyer,
    Cancelled,
    FieldChange,
    Order,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    apply,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import ChangeState, PriceChange, Quote
from orderkit.services import (
    Accepted,
    Captured,
    Checkout,
    DeskPolicy,
    Held,
    Ledger,
    OrderDesk,
)
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakePayments


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
CH = "douyin"
ID = "DY-4001"


def placed() -> OrderPlaced:
    """Two jade teapots at 100.00: 200.00 of goods."""
    return OrderPlaced(
        order_id=ID,
        key=IdempotencyKey(CH, "trade.created", ID, "1"),
        occurred_at=T0,
        channel=CH,
        buyer=Buyer("buyer-8", "李雷", phone="+8613900139001"),
        address=Address("CN", "上海市", "上海市", "徐汇区", "漕溪北路 2 号"),
        lines=[OrderLine("L1", "JADE-TEAPOT", 2, cny("100.00"))],
    )


def paid(payment_id: str, amount: str = "210.00", event: str = "") -> PaymentCaptured:
    return PaymentCaptured(
        order_id=ID,
        key=IdempotencyKey(CH, "trade.paid", ID, event or payment_id),
        occurred_at=T0.add(minutes=5),
        payment_id=payment_id,
        amount=cny(amount),
    )


def cancelled() -> Cancelled:
    return Cancelled(
        order_id=ID,
        key=IdempotencyKey(CH, "trade.cancel", ID, "1"),
        occurred_at=T0.add(hours=2),
        reason="买家取消 / the buyer cancelled",
    )


def channel_order(
    *events: OrderEvent, status: OrderStatus = OrderStatus.PENDING_PAYMENT
) -> ChannelOrder:
    """DY-4001 with 10.00 shipping: the buyer owes 210.00, above its lines."""
    order = placed()
    return ChannelOrder(
        placed=order,
        quote=Quote(
            ID, CH, order.lines, shipping=cny("10.00"), stated_total=cny("210.00")
        ),
        status=status,
        channel_status=str(status),
        events=events,
    )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0.add(minutes=1))


@pytest.fixture
def desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    with unit as uow:
        Ledger(uow.ledger, clock).receive("JADE-TEAPOT", "SH-1", 10)
        uow.commit()
    policy = DeskPolicy(locations=["SH-1"])
    return OrderDesk(
        unit, clock, policy, Fingerprinter(b"overpaid-secret-0123456789ab")
    )


def stored(unit: UnitOfWork) -> Order:
    with unit as uow:
        order = uow.orders.get(CH, ID)
    assert order is not None
    return order


def trail(unit: UnitOfWork) -> list[AuditRecord]:
    with unit as uow:
        return list(uow.audit.records(CH, ID))


def owed(unit: UnitOfWork) -> list[str]:
    with unit as uow:
        messages = uow.outbox.unsent()
    return [json.loads(m.payload)["amount"] for m in messages if m.topic == "refund"]


def allocated(unit: UnitOfWork, clock: FrozenClock) -> int:
    with unit as uow:
        (balance,) = uow.ledger.balances(
            clock.now(), sku="JADE-TEAPOT", location="SH-1"
        )
    return balance.allocated


def stored_by_its_host(unit: UnitOfWork) -> None:
    """DY-4001 placed by its host (or an older orderkit): no total in its trail."""
    placing = apply(None, placed(), now=T0)
    assert isinstance(placing, Applied)
    with unit as uow:
        uow.orders.save(placing.order, None)
        uow.audit.append(CH, placing.records)
        uow.commit()


def flagged(record: AuditRecord, payments: str) -> None:
    """`record` holds the order for being paid over by 210.00, naming `payments`."""
    assert "HeldForReview" == record.event_type
    assert FieldChange("review", "", "overpaid") in record.changes
    assert FieldChange("payments", "", payments) in record.changes
    assert FieldChange("total", "", "210.00 CNY") in record.changes
    assert FieldChange("overpaid", "", "210.00 CNY") in record.changes


class TestFlagged:
    """Whichever path brings the second payment, the order waits at once."""

    def test_two_channel_notices_of_other_payments(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk.accept(channel_order())
        desk.record(CH, ID, paid("alipay-1"))

        done = desk.record(CH, ID, paid("wxpay-2"))

        order = stored(unit)
        assert ("overpaid",) == order.review == done.order.review
        assert OrderStatus.PAID == order.status
        # The money was taken: both payments are recorded, the stock committed once.
        assert ["alipay-1", "wxpay-2"] == [p.payment_id for p in order.payments]
        assert 2 == allocated(unit, clock)
        records = trail(unit)
        assert ["PaymentCaptured", "HeldForReview"] == [
            r.event_type for r in records[-2:]
        ]
        flagged(records[-1], "alipay-1 210.00 CNY, wxpay-2 210.00 CNY")
        assert order.version == records[-1].version

    def test_the_same_notice_again_changes_nothing(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        desk.accept(channel_order())
        desk.record(CH, ID, paid("alipay-1"))
        desk.record(CH, ID, paid("wxpay-2"))
        before, records = stored(unit), trail(unit)

        desk.record(CH, ID, paid("wxpay-2"))
        desk.record(CH, ID, paid("wxpay-2", event="resent"))

        assert before == stored(unit)
        assert records == trail(unit)

    def test_a_checkout_capture_then_the_channel_notice(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk.accept(channel_order())
        payments = FakePayments(clock)
        checkout = Checkout(unit, clock, desk, payments)
        assert isinstance(checkout.pay(CH, ID, "card-9", cny("210.00")), Captured)

        desk.record(CH, ID, paid("alipay-1"))

        assert ("overpaid",) == stored(unit).review
        held = [r for r in trail(unit) if r.event_type == "HeldForReview"]
        assert 1 == len(held)
        flagged(held[0], "card-9 210.00 CNY, alipay-1 210.00 CNY")

    def test_a_channel_notice_racing_a_checkout_capture(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk.accept(channel_order())
        provider = FakePayments(clock)

        class Racing:
            """The channel's payment notice lands while the capture is out."""

            statement = provider.statement
            refund = provider.refund

            def capture(
                self, payment_id: str, amount: Money, *, key: str
            ) -> ChannelTransaction:
                desk.record(CH, ID, paid("alipay-1"))
                return provider.capture(payment_id, amount, key=key)

        checkout = Checkout(unit, clock, desk, Racing())

        done = checkout.pay(CH, ID, "card-9", cny("210.00"))

        assert isinstance(done, Captured)
        order = stored(unit)
        assert ("overpaid",) == order.review
        assert order.saga is None
        held = [r for r in trail(unit) if r.event_type == "HeldForReview"]
        assert 1 == len(held)
        flagged(held[0], "card-9 210.00 CNY, alipay-1 210.00 CNY")

    def test_paid_twice_in_the_notice_that_brings_the_order(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        taken = desk.accept(
            channel_order(paid("alipay-1"), paid("wxpay-2"), status=OrderStatus.PAID)
        )

        # Taken in as any paid order, its stock committed: a person settles
        # the money only.
        assert isinstance(taken, Accepted)
        assert ("overpaid",) == taken.order.review == stored(unit).review
        assert 2 == allocated(unit, clock)
        flagged(taken.records[-1], "alipay-1 210.00 CNY, wxpay-2 210.00 CNY")
        assert taken.order not in desk.picking_queue()

    def test_held_for_stock_too_the_answer_names_both(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """The person reading `Held.detail` learns of the excess as well."""
        with unit as uow:
            Ledger(uow.ledger, clock).receive("JADE-TEAPOT", "SH-1", 1)
            uow.commit()
        desk = OrderDesk(
            unit,
            clock,
            DeskPolicy(locations=["SH-1"]),
            Fingerprinter(b"overpaid-secret-0123456789ab"),
        )

        taken = desk.accept(
            channel_order(paid("alipay-1"), paid("wxpay-2"), status=OrderStatus.PAID)
        )

        assert isinstance(taken, Held)
        assert ("stock", "overpaid") == taken.order.review
        assert "requested 2, available 1" in taken.detail
        assert "210.00 CNY" in taken.detail.split("; ")[1]
        last = taken.records[-1]
        assert FieldChange("review", "stock", "stock, overpaid") in last.changes
        assert FieldChange("overpaid", "", "210.00 CNY") in last.changes


class TestPayable:
    """What to capture for an order: its intake total, moved by approved changes."""

    def test_the_total_intake_took_it_in_at(self, desk: OrderDesk) -> None:
        desk.accept(channel_order())
        assert Money("210.00", "CNY") == desk.payable(CH, ID)

    def test_an_approved_price_change_moves_it(
        self, desk: OrderDesk, clock: FrozenClock
    ) -> None:
        desk.accept(channel_order())
        cut = PriceChange(
            change_id="C1",
            order_id=ID,
            line_id="L1",
            sku="JADE-TEAPOT",
            quantity=2,
            old_unit_price=cny("100.00"),
            new_unit_price=cny("90.00"),
            reason="a chipped lid, agreed with the buyer",
            requester="cs.li",
            evidence="ticket-1",
            requested_at=clock.now(),
            expires_at=clock.now().add(hours=24),
            required_role="store_manager",
            state=ChangeState.APPROVED,
            decided_by="mgr.chen",
            decided_at=clock.now(),
        )
        desk.amend(
            CH,
            ID,
            cut,
            key=IdempotencyKey(CH, "price", ID, "C1"),
            actor="mgr.chen",
            source="backoffice",
        )
        assert Money("190.00", "CNY") == desk.payable(CH, ID)

    def test_an_order_whose_trail_states_no_total_has_none(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        stored_by_its_host(unit)
        assert desk.payable(CH, ID) is None


class TestNotFlagged:
    def test_payments_that_add_up_to_the_total_with_shipping(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        desk.accept(channel_order())
        desk.record(CH, ID, paid("alipay-1", "110.00"))

        desk.record(CH, ID, paid("wxpay-2", "100.00"))

        order = stored(unit)
        assert () == order.review
        assert 2 == len(order.payments)
        assert [order] == list(desk.picking_queue())

    def test_a_payment_on_a_cancelled_order_is_owed_back_instead(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        desk.accept(channel_order())
        desk.record(CH, ID, paid("alipay-1"))
        desk.record(CH, ID, cancelled())

        desk.record(CH, ID, paid("wxpay-2"))

        # Owed back whole, through the refund path as today: no excess
        # beside it for a person to settle.
        order = stored(unit)
        assert "overpaid" not in order.review
        assert not any(
            FieldChange("review", "", "overpaid") in r.changes for r in trail(unit)
        )


class TestAfterwards:
    @pytest.fixture
    def overpaid(self, desk: OrderDesk, unit: UnitOfWork) -> Order:
        desk.accept(channel_order())
        desk.record(CH, ID, paid("alipay-1"))
        desk.record(CH, ID, paid("wxpay-2"))
        return stored(unit)

    def test_release_lets_it_go_on_and_keeps_the_money(
        self, desk: OrderDesk, unit: UnitOfWork, overpaid: Order
    ) -> None:
        released = desk.release(CH, ID, actor="finance.wang")

        assert () == released.order.review
        assert overpaid.payments == released.order.payments
        assert [released.order] == list(desk.picking_queue())
        # Ended later, it owes back all its payments hold, the excess too.
        desk.record(CH, ID, cancelled())
        assert ["420.00"] == owed(unit)

    def test_cancelling_it_sends_all_back_and_withdraws_the_flag(
        self, desk: OrderDesk, unit: UnitOfWork, overpaid: Order
    ) -> None:
        assert ("overpaid",) == overpaid.review
        done = desk.record(CH, ID, cancelled())

        assert () == done.order.review == stored(unit).review
        assert ["420.00"] == owed(unit)
        assert "ReviewWithdrawn" == trail(unit)[-1].event_type

    def test_a_channel_refund_of_the_extra_payment_leaves_it_for_a_person(
        self, desk: OrderDesk, unit: UnitOfWork, overpaid: Order
    ) -> None:
        assert ("overpaid",) == overpaid.review
        refund = ChannelRefund(
            refund_id="RF-9",
            order_id=ID,
            key=IdempotencyKey(CH, "refund", ID, "RF-9"),
            amount=cny("210.00"),
            created_at=T0.add(hours=1),
            payment_id="wxpay-2",
            reason="重复付款 / paid twice",
        )

        desk.record_refund(CH, ID, refund)

        # Recorded, the money no longer held; a person still says it is settled.
        assert ("overpaid",) == stored(unit).review
        assert () == desk.release(CH, ID, actor="finance.wang").order.review

    def test_a_third_payment_after_release_waits_again(
        self, desk: OrderDesk, unit: UnitOfWork, overpaid: Order
    ) -> None:
        assert ("overpaid",) == overpaid.review
        desk.release(CH, ID, actor="finance.wang")

        desk.record(CH, ID, paid("card-3"))

        assert ("overpaid",) == stored(unit).review
        held = [r for r in trail(unit) if r.event_type == "HeldForReview"]
        assert FieldChange("overpaid", "", "420.00 CNY") in held[-1].changes


class TestTotal:
    def test_intake_states_the_total_in_the_placed_record(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        taken = desk.accept(channel_order())

        assert isinstance(taken, Accepted)
        placed_record = trail(unit)[0]
        assert "OrderPlaced" == placed_record.event_type
        assert FieldChange("total", "", "210.00 CNY") in placed_record.changes
        assert placed_record == taken.records[0]

    def test_an_order_whose_trail_states_no_total_is_not_checked(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        stored_by_its_host(unit)
        desk.record(CH, ID, paid("alipay-1"))

        desk.record(CH, ID, paid("wxpay-2"))

        order = stored(unit)
        assert 2 == len(order.payments)
        assert () == order.review
