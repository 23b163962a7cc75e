"""A capture of a payment the order records already, under a new key.

The same amount again is the channel stating the same fact: `Stale`. Another
amount is a further capture of the payment, or a contradiction: the order
keeps one capture per payment id and can keep neither, so it is refused
(`IllegalTransition`, `Rejected` in a batch), never left `Stale` and lost.
"""

from __future__ import annotations

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.orders._reference_apply import apply as reference_apply

from orderkit import IdempotencyKey, Money
from orderkit.errors import CurrencyMismatch, IllegalTransition
from orderkit.orders import (
    Address,
    Buyer,
    Cancelled,
    Order,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    RefundDue,
    Rejected,
    Stale,
    apply,
    apply_all,
)


T0 = pendulum.datetime(2026, 11, 16, 14, 0)
NOW = pendulum.datetime(2026, 11, 16, 15, 0)
ORDER_ID = "7002"


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def placed() -> OrderPlaced:
    return OrderPlaced(
        order_id=ORDER_ID,
        key=IdempotencyKey("shopify", "orders/create", ORDER_ID, "1"),
        occurred_at=T0,
        channel="shopify",
        buyer=Buyer("202"),
        address=Address("US", "New York", "Brooklyn", "", "1 Main St"),
        lines=[
            OrderLine("1", "SILK-FAN", 3, usd("29.00")),
            OrderLine("2", "PAPER-LANTERN", 2, usd("18.00")),
        ],
    )


def capture(event_id: str, amount: str, payment_id: str = "ch_1") -> PaymentCaptured:
    return PaymentCaptured(
        order_id=ORDER_ID,
        key=IdempotencyKey("stripe", "capture", ORDER_ID, event_id),
        occurred_at=T0.add(minutes=5),
        payment_id=payment_id,
        amount=usd(amount),
    )


def paid(amount: str = "100.00") -> Order:
    order = apply_all(None, [placed(), capture("c1", amount)], now=NOW).order
    assert order is not None
    return order


class TestSamePaymentAgain:
    def test_the_same_amount_under_a_new_key_is_stale(self) -> None:
        order = paid()

        outcome = apply(order, capture("c2", "100.00"), now=NOW)

        assert isinstance(outcome, Stale)
        assert outcome.order is order
        assert "'ch_1' is already captured" in outcome.reason

    def test_another_amount_is_refused_naming_the_payment_both_amounts_and_the_fix(
        self,
    ) -> None:
        order = paid()

        with pytest.raises(IllegalTransition) as caught:
            apply(order, capture("c2", "23.00"), now=NOW)

        said = str(caught.value)
        assert "'ch_1'" in said
        assert "100.00 USD" in said
        assert "23.00 USD" in said
        assert "partial capture" in said
        assert "a person settles it" in said
        # Since the review of 7a8b75a: no remedy the desk's own ledger refuses.
        assert "payment ledger" not in said

    def test_in_a_batch_another_amount_is_rejected_and_nothing_changes(self) -> None:
        order = paid()

        batch = apply_all(order, [capture("c2", "23.00")], now=NOW)

        assert batch.order == order
        assert batch.records == ()
        (rejected,) = batch.outcomes
        assert isinstance(rejected, Rejected)
        assert isinstance(rejected.error, IllegalTransition)

    @pytest.mark.parametrize("end", ["cancel", "none"])
    def test_refused_whatever_the_status(self, end: str) -> None:
        order = paid()
        if end == "cancel":
            cancelled = Cancelled(
                order_id=ORDER_ID,
                key=IdempotencyKey("shopify", "cancel", ORDER_ID, "1"),
                occurred_at=T0.add(minutes=9),
                reason="buyer changed mind",
            )
            ended = apply(order, cancelled, now=NOW)
            assert isinstance(ended, RefundDue)
            order = ended.order
            assert order.status is OrderStatus.CANCELLED

        with pytest.raises(IllegalTransition):
            apply(order, capture("c2", "284.00"), now=NOW)

    def test_a_capture_of_zero_of_a_recorded_payment_is_stale(self) -> None:
        order = paid()

        outcome = apply(order, capture("c2", "0.00"), now=NOW)

        assert isinstance(outcome, Stale)

    @pytest.mark.parametrize("payment_id", ["ch_1", "ch_2"])
    @pytest.mark.parametrize("amount", ["100.00", "23.00", "0.00"])
    def test_another_currency_is_refused_as_such_whatever_payment_it_names(
        self, payment_id: str, amount: str
    ) -> None:
        # Since the review of 7a8b75a: a payment the order has, in another
        # currency, is refused as a new payment is, not as another amount.
        order = paid()
        event = attrs.evolve(
            capture("c2", "1.00", payment_id=payment_id), amount=Money(amount, "CNY")
        )

        with pytest.raises(CurrencyMismatch):
            apply(order, event, now=NOW)
        with pytest.raises(CurrencyMismatch):
            reference_apply(order, event, now=NOW)

    def test_another_payment_id_is_a_second_payment(self) -> None:
        order = paid()

        batch = apply_all(order, [capture("c2", "23.00", payment_id="ch_2")], now=NOW)

        assert batch.order is not None
        assert [(p.payment_id, p.amount) for p in batch.order.payments] == [
            ("ch_1", usd("100.00")),
            ("ch_2", usd("23.00")),
        ]


# A stream of captures of a few payment ids, with re-deliveries (same key),
# re-statements (new key, same amount) and other amounts, in any order.
_captures = st.lists(
    st.tuples(
        st.sampled_from(["k1", "k2", "k3", "k4"]),
        st.sampled_from(["ch_1", "ch_2"]),
        st.sampled_from(["100.00", "23.00", "284.00"]),
    ),
    min_size=1,
    max_size=10,
)


@given(_captures)
def test_no_capture_is_lost_without_a_word(stream: list[tuple[str, str, str]]) -> None:
    # Each key names one capture: the first drawn for it, re-delivered after.
    by_key: dict[str, tuple[str, str]] = {}
    for key, payment_id, amount in stream:
        by_key.setdefault(key, (payment_id, amount))
    events = [
        capture(key, by_key[key][1], payment_id=by_key[key][0]) for key, _, _ in stream
    ]
    order = apply_all(None, [placed()], now=NOW).order
    assert order is not None

    batch = apply_all(order, events, now=NOW)

    assert batch.order is not None
    kept = {p.payment_id: p.amount for p in batch.order.payments}
    for event, outcome in zip(events, batch.outcomes, strict=True):
        assert isinstance(event, PaymentCaptured)
        if isinstance(outcome, Rejected):
            # Refused, only ever for another amount of a payment kept.
            assert kept[event.payment_id] != event.amount
        elif isinstance(outcome, Stale):
            # Stale only as a re-statement of what the order keeps.
            assert kept[event.payment_id] == event.amount
        else:
            # Applied, or a Duplicate of a key applied: what it states is kept.
            assert kept[event.payment_id] == event.amount
    # Every payment the order keeps is one of the captures, once.
    assert len(kept) == len(batch.order.payments)
