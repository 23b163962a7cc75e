"""One Douyin order of two jade teapots, for the refund saga tests.

DY-2001 is 576.00 in all, paid on alipay-77 and refunded one way or
another; the desk over a backend has ten teapots at SH-1. The builders
below take another order id where a test file keeps its own order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import pendulum
from tests.services._samples import awaiting_payment, cny

from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.integrations import ChannelOrder, ChannelTransaction, SettlementLine
from orderkit.money import Money
from orderkit.orders import (
    Address,
    AfterSalesCase,
    Buyer,
    Cancelled,
    Order,
    OrderLine,
    OrderPlaced,
    PaymentCaptured,
    Recorded,
    ReturnLine,
    Unchanged,
    approve_case,
    inspect_return,
    receive_return,
    request_return,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import ApprovalTiers, PaymentLedger
from orderkit.services import Checkout, DeskPolicy, Ledger, OrderDesk, Shipping
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakeCarrier, FakePayments


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
CH = "douyin"
ID = "DY-2001"
SECRET = b"refund-saga-tests-secret-0123"
TIERS = ApprovalTiers.of((cny("100.00"), "store_manager"), (None, "finance"))


def placed(*, order_id: str = ID) -> OrderPlaced:
    """Two jade teapots, 576.00 in all, bought in a Douyin live stream."""
    return OrderPlaced(
        order_id=order_id,
        key=IdempotencyKey(CH, "trade.created", order_id, "1"),
        occurred_at=T0,
        channel=CH,
        buyer=Buyer("buyer-7", "韩梅梅", phone="+8613900139000"),
        address=Address("CN", "上海市", "上海市", "徐汇区", "漕溪北路 1 号"),
        lines=[OrderLine("L1", "JADE-TEAPOT", 2, cny("288.00"))],
    )


def incoming() -> ChannelOrder:
    """Two jade teapots, bought in a Douyin live stream, not paid yet."""
    return awaiting_payment(placed())


def desk_over(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    """A desk over `unit` selling from SH-1."""
    return OrderDesk(unit, clock, DeskPolicy(locations=["SH-1"]), Fingerprinter(SECRET))


def stocked_desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    """A desk over `unit` with ten jade teapots in stock at SH-1."""
    with unit as uow:
        Ledger(uow.ledger, clock).receive("JADE-TEAPOT", "SH-1", 10)
        uow.commit()
    return desk_over(unit, clock)


def capture_all(
    unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk, payments: FakePayments
) -> None:
    """DY-2001's 576.00 captured on alipay-77 through `payments`."""
    Checkout(unit, clock, desk, payments).pay(CH, ID, "alipay-77", cny("576.00"))


def accepted_and_paid(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> OrderDesk:
    """A stocked desk that accepted DY-2001 and captured its 576.00 on alipay-77."""
    desk = stocked_desk(unit, clock)
    desk.accept(incoming())
    capture_all(unit, clock, desk, payments)
    return desk


def buyer_cancelled(*, order_id: str = ID, hours: int = 1) -> Cancelled:
    """The buyer cancels `order_id` (DY-2001) `hours` (one) after placing it."""
    return Cancelled(
        order_id=order_id,
        key=IdempotencyKey(CH, "trade.cancel", order_id, "1"),
        occurred_at=T0.add(hours=hours),
        reason="买家取消 / the buyer cancelled",
    )


def captured_ledger(*, order_id: str = ID, at: pendulum.DateTime = T0) -> PaymentLedger:
    """The order's payment ledger: 576.00 authorised and captured on alipay-77."""
    return (
        PaymentLedger(order_id, "CNY")
        .authorise("alipay-77", cny("576.00"), at)
        .capture("alipay-77", cny("576.00"), at)
    )


def provider_captured(
    desk: OrderDesk,
    clock: FrozenClock,
    payments: FakePayments,
    *,
    payment_id: str,
    amount: str,
) -> None:
    """`amount` of DY-2001 captured by `payments` and recorded by `desk`."""
    payments.capture(payment_id, cny(amount), key=payment_id)
    desk.record(
        CH,
        ID,
        PaymentCaptured(
            order_id=ID,
            key=IdempotencyKey(CH, "trade.paid", ID, payment_id),
            occurred_at=clock.now(),
            payment_id=payment_id,
            amount=cny(amount),
        ),
    )


def paid_twice_then_cancelled(
    unit: UnitOfWork,
    clock: FrozenClock,
    payments: FakePayments,
    *,
    desk: OrderDesk | None = None,
) -> OrderDesk:
    """DY-2001 paid 300.00 on alipay-77, 276.00 on wx-2, then cancelled, on `desk`."""
    desk = stocked_desk(unit, clock) if desk is None else desk
    desk.accept(incoming())
    for payment_id, amount in (("alipay-77", "300.00"), ("wx-2", "276.00")):
        provider_captured(desk, clock, payments, payment_id=payment_id, amount=amount)
    desk.record(CH, ID, buyer_cancelled())
    return desk


def requested_case(
    *, case_id: str = "AS-1", refund: str = "288.00", payment_id: str = "alipay-77"
) -> AfterSalesCase:
    """The buyer asks to send one teapot back to Shanghai for `refund`."""
    return request_return(
        case_id=case_id,
        order_id=ID,
        payment_id=payment_id,
        lines=[ReturnLine("L1", "JADE-TEAPOT", 1)],
        refund_amount=cny(refund),
        reason="七天无理由退货",
        requester="buyer:buyer-7",
        return_to="SH-1",
        at=T0.add(days=3),
    )


def passed_case(
    *, case_id: str = "AS-1", refund: str = "288.00", payment_id: str = "alipay-77"
) -> AfterSalesCase:
    """One teapot back to Shanghai, its inspection passed: `refund` owed."""
    return inspected(
        requested_case(case_id=case_id, refund=refund, payment_id=payment_id)
    )


def inspected(case: AfterSalesCase) -> AfterSalesCase:
    """`case` approved by finance, received and its inspection passed."""
    case = approve_case(case, "mgr.li", "finance", TIERS, T0.add(days=4))
    case = receive_return(case, {}, {}, T0.add(days=6))
    return inspect_return(case, passed=True, at=T0.add(days=7)).case


def amend_step(
    desk: OrderDesk, order_id: str, case: AfterSalesCase
) -> Recorded | Unchanged:
    """`case` stored on `order_id`, keyed by its state: a step is recorded once."""
    return desk.amend(
        CH,
        order_id,
        case,
        key=IdempotencyKey("erp", "aftersales", case.case_id, case.state),
        actor="ops.wu",
        source="erp",
    )


def case_refund_due(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> OrderDesk:
    """DY-2001 paid and shipped, then AS-1 (`passed_case`) recorded on it."""
    desk = accepted_and_paid(unit, clock, payments)
    Shipping(unit, clock, desk, FakeCarrier(clock)).ship(CH, ID, "SHIP-1")
    desk.amend(
        CH,
        ID,
        passed_case(),
        key=IdempotencyKey("erp", "aftersales", "AS-1", "1"),
        actor="ops.wu",
        source="erp",
    )
    return desk


def case_key(*, case_id: str = "AS-1") -> str:
    """The key of `case_id`'s refund: its message id, saga key and provider key."""
    return f"refund:order:{CH}:{ID}:case:{case_id}"


def stored(unit: UnitOfWork) -> Order:
    """DY-2001 as the backend has it; there must be one."""
    with unit as uow:
        order = uow.orders.get(CH, ID)
    assert order is not None
    return order


class PassingOn:
    """A payment provider passing each call to `inner`; a refund runs `asked` first."""

    def __init__(self, inner: FakePayments) -> None:
        self.inner = inner

    def asked(self) -> None:
        """What happens as a refund is asked, before `inner` is: nothing here."""

    def capture(
        self, payment_id: str, amount: Money, *, key: str
    ) -> ChannelTransaction:
        return self.inner.capture(payment_id, amount, key=key)

    def refund(
        self, payment_id: str, amount: Money, *, key: str, reason: str
    ) -> ChannelTransaction:
        self.asked()
        return self.inner.refund(payment_id, amount, key=key, reason=reason)

    def statement(self, day: dt.date) -> Sequence[SettlementLine]:
        return self.inner.statement(day)


class Meanwhile(PassingOn):
    """A payment provider that runs `meanwhile` as its first refund is asked."""

    def __init__(self, inner: FakePayments, meanwhile: Callable[[], None]) -> None:
        super().__init__(inner)
        self._meanwhile: Callable[[], None] | None = meanwhile

    def asked(self) -> None:
        if self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            meanwhile()
