"""One Douyin order of two jade teapots, for the refund saga tests.

DY-2001 is 576.00 in all, paid on alipay-77 and refunded one way or
another; the desk over a backend has ten teapots at SH-1.
"""

from __future__ import annotations

import pendulum
from tests.services._samples import awaiting_payment, cny

from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.integrations import ChannelOrder
from orderkit.orders import (
    Address,
    AfterSalesCase,
    Buyer,
    Cancelled,
    Order,
    OrderLine,
    OrderPlaced,
    ReturnLine,
    approve_case,
    inspect_return,
    receive_return,
    request_return,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import ApprovalTiers, PaymentLedger
from orderkit.services import DeskPolicy, Ledger, OrderDesk
from orderkit.testing import FrozenClock


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
CH = "douyin"
ID = "DY-2001"
SECRET = b"refund-saga-tests-secret-0123"
TIERS = ApprovalTiers.of((cny("100.00"), "store_manager"), (None, "finance"))


def incoming() -> ChannelOrder:
    """Two jade teapots, bought in a Douyin live stream, not paid yet."""
    placed = OrderPlaced(
        order_id=ID,
        key=IdempotencyKey(CH, "trade.created", ID, "1"),
        occurred_at=T0,
        channel=CH,
        buyer=Buyer("buyer-7", "韩梅梅", phone="+8613900139000"),
        address=Address("CN", "上海市", "上海市", "徐汇区", "漕溪北路 1 号"),
        lines=[OrderLine("L1", "JADE-TEAPOT", 2, cny("288.00"))],
    )
    return awaiting_payment(placed)


def desk_over(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    """A desk over `unit` selling from SH-1."""
    return OrderDesk(unit, clock, DeskPolicy(locations=["SH-1"]), Fingerprinter(SECRET))


def stocked_desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    """A desk over `unit` with ten jade teapots in stock at SH-1."""
    with unit as uow:
        Ledger(uow.ledger, clock).receive("JADE-TEAPOT", "SH-1", 10)
        uow.commit()
    return desk_over(unit, clock)


def buyer_cancelled() -> Cancelled:
    """The buyer cancels DY-2001 an hour in."""
    return Cancelled(
        order_id=ID,
        key=IdempotencyKey(CH, "trade.cancel", ID, "1"),
        occurred_at=T0.add(hours=1),
        reason="买家取消 / the buyer cancelled",
    )


def captured_ledger() -> PaymentLedger:
    """DY-2001's payment ledger: 576.00 authorised and captured on alipay-77."""
    return (
        PaymentLedger(ID, "CNY")
        .authorise("alipay-77", cny("576.00"), T0)
        .capture("alipay-77", cny("576.00"), T0)
    )


def passed_case() -> AfterSalesCase:
    """One teapot back to Shanghai, its inspection passed: 288.00 owed."""
    case = request_return(
        case_id="AS-1",
        order_id=ID,
        payment_id="alipay-77",
        lines=[ReturnLine("L1", "JADE-TEAPOT", 1)],
        refund_amount=cny("288.00"),
        reason="七天无理由退货",
        requester="buyer:buyer-7",
        return_to="SH-1",
        at=T0.add(days=3),
    )
    case = approve_case(case, "mgr.li", "finance", TIERS, T0.add(days=4))
    case = receive_return(case, {}, {}, T0.add(days=6))
    return inspect_return(case, passed=True, at=T0.add(days=7)).case


def case_key() -> str:
    """The key of AS-1's refund: its message id, saga key and provider key."""
    return f"refund:order:{CH}:{ID}:case:AS-1"


def stored(unit: UnitOfWork) -> Order:
    """DY-2001 as the backend has it; there must be one."""
    with unit as uow:
        order = uow.orders.get(CH, ID)
    assert order is not None
    return order
