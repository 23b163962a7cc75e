"""Whether an order's payments hold more than it costs: the pure check."""

from __future__ import annotations

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.errors import CurrencyMismatch
from orderkit.money import Money
from orderkit.orders import Address, Buyer, Order, OrderLine, OrderStatus, Payment
from orderkit.orders._overpaid import held_by_payment, overpaid, payable
from orderkit.pricing import (
    ApprovalTiers,
    Decided,
    PaymentLedger,
    approve,
    request_change,
)


T0 = pendulum.datetime(2026, 11, 11, 2, 30)
ORDER_ID = "TB-20261111-9001"
TIERS = ApprovalTiers.of((Money("100.00", "CNY"), "store_manager"), (None, "finance"))


def cny(cents: int) -> Money:
    return Money(f"{cents // 100}.{cents % 100:02d}", "CNY")


def paid(captures: list[int], refunded: list[int] | None = None) -> Order:
    """Two tea sets at 100.00, paid in `captures` cents, `refunded` settled on each."""
    payments = [Payment(f"pay-{i}", cny(c), T0) for i, c in enumerate(captures)]
    ledger = PaymentLedger(ORDER_ID, "CNY")
    for i, payment in enumerate(payments):
        ledger = ledger.authorise(payment.payment_id, payment.amount, T0)
        ledger = ledger.capture(payment.payment_id, payment.amount, T0)
        back = 0 if refunded is None else refunded[i]
        if back:
            ledger = ledger.request_refund(
                f"rf-{i}", payment.payment_id, cny(back), "sent back", T0
            ).settle_refund(f"rf-{i}", T0)
    return Order(
        order_id=ORDER_ID,
        channel="taobao",
        buyer=Buyer("tb-buyer-9"),
        address=Address("CN", "浙江省", "杭州市", "西湖区", "龙井路 1 号"),
        lines=[OrderLine("L1", "TEA-SET", 2, cny(10_000))],
        placed_at=T0,
        status=OrderStatus.PAID,
        version=2,
        payments=payments,
        payment_ledger=ledger,
    )


@given(
    captures=st.lists(st.integers(1, 100_000), min_size=1, max_size=4),
    total=st.integers(0, 300_000),
    data=st.data(),
)
def test_the_excess_is_what_the_payments_hold_beyond_the_total(
    captures: list[int], total: int, data: st.DataObject
) -> None:
    refunded = [data.draw(st.integers(0, c)) for c in captures]
    order = paid(captures, refunded)

    excess = overpaid(order, cny(total))

    held = sum(captures) - sum(refunded)
    if held > total:
        assert cny(held - total) == excess
    else:
        assert excess is None


def test_a_second_payment_of_the_whole_total_is_an_excess_of_one_total() -> None:
    # 200.00 of goods, 10.00 shipping: the buyer owes 210.00 and paid it twice.
    order = paid([21_000, 21_000])

    assert cny(21_000) == overpaid(order, cny(21_000))


def test_payments_that_add_up_to_the_total_are_not_an_excess() -> None:
    # Shipping puts the total above the lines: split payments of it are fine.
    order = paid([11_000, 10_000])

    assert overpaid(order, cny(21_000)) is None


def test_a_refund_of_the_extra_payment_settles_the_excess() -> None:
    order = paid([21_000, 21_000], [0, 21_000])

    assert overpaid(order, cny(21_000)) is None


def test_an_approved_price_change_moves_what_the_order_costs() -> None:
    cut = request_change(
        TIERS,
        change_id="PC-1",
        order_id=ORDER_ID,
        line_id="L1",
        sku="TEA-SET",
        quantity=2,
        old_unit_price=cny(10_000),
        new_unit_price=cny(9_000),
        reason="scratched lid",
        requester="clerk.zhang",
        evidence="photo-1",
        requested_at=T0,
        ttl=pendulum.duration(days=1),
    )
    decided = approve(
        cut, TIERS, approver="mgr.li", role="store_manager", now=T0.add(hours=1)
    )
    assert isinstance(decided, Decided)
    order = paid([21_000])
    repriced = attrs.evolve(
        order,
        lines=[OrderLine("L1", "TEA-SET", 2, cny(9_000))],
        price_changes=[decided.change],
    )
    pending = attrs.evolve(order, price_changes=[cut])

    assert cny(19_000) == payable(repriced, cny(21_000))
    assert cny(2_000) == overpaid(repriced, cny(21_000))
    assert overpaid(pending, cny(21_000)) is None


def test_a_total_in_another_currency_is_refused() -> None:
    with pytest.raises(CurrencyMismatch) as caught:
        overpaid(paid([21_000]), Money("210.00", "USD"))

    assert "placed_total" == caught.value.field


def test_each_payment_is_named_with_what_it_still_holds() -> None:
    order = paid([21_000, 21_000], [0, 1_000])

    assert "pay-0 210.00 CNY, pay-1 200.00 CNY" == held_by_payment(order)
