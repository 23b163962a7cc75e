"""What an order's payments still hold, and how a refund is split over them."""

from __future__ import annotations

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.errors import RefundExceedsCapture
from orderkit.money import Money
from orderkit.orders import Address as OrderAddress
from orderkit.orders import Buyer, Order, OrderLine, OrderStatus, Payment
from orderkit.orders._owed import left_on, owed_back, refund_parts
from orderkit.pricing import PaymentLedger


T0 = pendulum.datetime(2026, 11, 11, 2, 30)
ORDER_ID = "TB-20261111-8841"


def cny(cents: int) -> Money:
    return Money(f"{cents // 100}.{cents % 100:02d}", "CNY")


def paid(captures: list[int], refunded: list[int], ledger_keeps: list[bool]) -> Order:
    """An order paid in `captures` cents, with `refunded` cents settled on each
    payment that the ledger keeps."""
    payments = [Payment(f"pay-{i}", cny(c), T0) for i, c in enumerate(captures)]
    ledger = PaymentLedger(ORDER_ID, "CNY")
    for i, (payment, keep) in enumerate(zip(payments, ledger_keeps, strict=True)):
        if not keep:
            continue
        ledger = ledger.authorise(payment.payment_id, payment.amount, T0)
        ledger = ledger.capture(payment.payment_id, payment.amount, T0)
        if refunded[i]:
            ledger = ledger.request_refund(
                f"rf-{i}", payment.payment_id, cny(refunded[i]), "price cut", T0
            ).settle_refund(f"rf-{i}", T0)
    order = Order(
        order_id=ORDER_ID,
        channel="taobao",
        buyer=Buyer("tb-buyer-7"),
        address=OrderAddress("CN", "浙江省", "杭州市", "西湖区", "龙井路 1 号"),
        lines=[OrderLine("L1", "TEA-SET-YIXING-6P", 1, cny(sum(captures)))],
        placed_at=T0,
        status=OrderStatus.PAID,
        version=2,
        payments=payments,
    )
    return attrs.evolve(order, payment_ledger=ledger)


@st.composite
def orders(draw: st.DrawFn) -> Order:
    captures = draw(st.lists(st.integers(1, 100_000), min_size=1, max_size=4))
    refunded = [draw(st.integers(0, c)) for c in captures]
    keeps = [draw(st.booleans()) for _ in captures]
    return paid(captures, refunded, keeps)


class TestOwedBack:
    def test_a_payment_the_ledger_does_not_keep_holds_its_whole_capture(self) -> None:
        order = paid([10_000], [4_000], [False])

        assert left_on(order, order.payments[0]) == cny(10_000)

    def test_refunds_on_a_payment_the_ledger_keeps_are_not_owed_again(self) -> None:
        order = paid([10_000, 5_000], [4_000, 5_000], [True, True])

        assert owed_back(order) == cny(6_000)


class TestRefundParts:
    @given(orders(), st.data())
    def test_parts_add_up_and_never_take_more_than_a_payment_holds(
        self, order: Order, data: st.DataObject
    ) -> None:
        owed = owed_back(order)
        cents = int(owed.amount * 100)
        if cents == 0:
            return
        amount = cny(data.draw(st.integers(1, cents)))
        first = data.draw(st.sampled_from(order.payments)).payment_id

        parts = refund_parts(order, first, amount)

        assert sum((m for _, m in parts), Money.zero("CNY")) == amount
        by_id = {p.payment_id: p for p in order.payments}
        assert all(m <= left_on(order, by_id[pid]) for pid, m in parts)
        assert len({pid for pid, _ in parts}) == len(parts)
        if left_on(order, by_id[first]).amount > 0:
            assert parts[0][0] == first

    @given(orders())
    def test_more_than_the_payments_hold_is_refused(self, order: Order) -> None:
        with pytest.raises(RefundExceedsCapture):
            refund_parts(order, "pay-0", owed_back(order) + cny(1))
