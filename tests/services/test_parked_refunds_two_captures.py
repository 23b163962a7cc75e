"""Refunds parked before the capture, for an order paid in two captures.

A notice refunded in full states its refunds and no capture: the desk parks
them in the order's trail until a capture comes (see
`test_reordered_refunded_notice`). An order paid in two (split tender, two
transactions) gets its captures one at a time. A parked refund the first
capture cannot take (more than it holds, or naming the other payment) is
not lost at the second: the order waits for a person under `"refund"`, a
later capture places what it can, and no saga sends back money the channel
says it gave back already. A refund naming a payment comes off that one,
never the payment that happened to arrive first.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import pendulum
import pytest
from tests.services.test_reordered_refunded_notice import (
    WOO_ID,
    owed,
    stored,
    usd,
    woo_cancelled_refunded,
    woo_desk,
    woo_later,
    woo_paid,
)

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter
from orderkit.integrations import ChannelOrder
from orderkit.money import Money
from orderkit.orders import Order, OrderStatus, PaymentCaptured
from orderkit.ports import UnitOfWork
from orderkit.services import AlreadyAccepted, DeskPolicy, OrderDesk
from orderkit.testing import FrozenClock


# The order's 29.35, paid in two captures.
CAPTURES = {"p1": "15.00", "p2": "14.35"}


def capture(payment_id: str) -> PaymentCaptured:
    """The capture of `payment_id`, each under a key of its own."""
    [stated] = [e for e in woo_paid().events if isinstance(e, PaymentCaptured)]
    return attrs.evolve(
        stated,
        payment_id=payment_id,
        amount=usd(CAPTURES[payment_id]),
        key=attrs.evolve(stated.key, event_id=f"{stated.key.event_id}-{payment_id}"),
    )


def refunded(amount: str, payment_id: str | None) -> ChannelOrder:
    """Cancelled and refunded `amount` (naming `payment_id`): no capture stated."""
    notice = woo_cancelled_refunded()
    [refund] = notice.refunds
    refund = attrs.evolve(refund, amount=usd(amount), payment_id=payment_id)
    return attrs.evolve(notice, refunds=(refund,))


def body() -> ChannelOrder:
    """The order's notice before any of its money: processing, no capture."""
    return attrs.evolve(woo_later("processing", hour=9), events=())


def deliver(desk: OrderDesk, notice: ChannelOrder, steps: Sequence[str]) -> None:
    """`notice` and the two captures, in the order `steps` names them.

    The order is taken in first from its body when a capture comes before
    the refunded notice (the capture needs an order to reach).
    """
    for step in steps:
        if step == "notice":
            if isinstance(desk.accept(notice), AlreadyAccepted):
                desk.update(notice)
            continue
        desk.accept(body())
        desk.record("woocommerce", WOO_ID, capture(step))


def sent(unit: UnitOfWork) -> Money:
    """What orderkit's refund sagas send back, in all."""
    return sum((usd(amount) for amount in owed(unit)), usd("0"))


def refunds_on(order: Order) -> list[tuple[str, str, Money]]:
    ledger = order.payment_ledger
    if ledger is None:
        return []
    return [(r.refund_id, r.payment_id, r.amount) for r in ledger.refunds]


# The refunded notice first (its refund parked), then either capture first.
LATE = [["notice", "p1", "p2"], ["notice", "p2", "p1"]]


class TestARefundLargerThanTheFirstCapture:
    """29.35 refunded, naming no payment: neither capture alone holds it."""

    def test_the_second_capture_owes_nothing_back(self, unit: UnitOfWork) -> None:
        deliver(woo_desk(unit), refunded("29.35", None), ["notice", "p1", "p2"])

        # The channel gave all of it back: a saga sending 14.35 pays twice.
        assert [] == owed(unit)
        order = stored(unit, "woocommerce", WOO_ID)
        assert order.saga is None
        assert "refund" in order.review
        assert [] == refunds_on(order)

    def test_either_capture_first_asks_a_person(self, unit: UnitOfWork) -> None:
        deliver(woo_desk(unit), refunded("29.35", None), ["notice", "p2", "p1"])

        assert [] == owed(unit)
        order = stored(unit, "woocommerce", WOO_ID)
        assert "refund" in order.review
        assert order.saga is None

    def test_the_hold_names_the_parked_refund(self, unit: UnitOfWork) -> None:
        desk = woo_desk(unit)
        deliver(desk, refunded("29.35", None), ["notice", "p1", "p2"])

        with unit as uow:
            trail = uow.audit.records("woocommerce", WOO_ID)
        said = [
            (c.field, c.new)
            for r in trail
            if r.event_type == "HeldForReview"
            for c in r.changes
        ]
        assert ("parked_refunds[9001]", "29.35 USD") in said


class TestARefundNamingTheSecondPayment:
    """14.35 refunded off p2: the order owes p1's 15.00 back, never more."""

    def test_the_first_capture_does_not_take_it(self, unit: UnitOfWork) -> None:
        desk = woo_desk(unit)
        deliver(desk, refunded("14.35", "p2"), ["notice"])

        first = desk.record("woocommerce", WOO_ID, capture("p1"))

        assert () == first.refund_due
        assert [] == refunds_on(first.order)
        assert "refund" in first.order.review

    def test_the_second_capture_places_it_on_its_payment(
        self, unit: UnitOfWork
    ) -> None:
        deliver(woo_desk(unit), refunded("14.35", "p2"), ["notice", "p1", "p2"])

        order = stored(unit, "woocommerce", WOO_ID)
        assert [("9001", "p2", usd("14.35"))] == refunds_on(order)
        # p1's 15.00 is still owed: the person sends it, no saga sends more.
        assert usd("0") == sent(unit)
        assert "refund" in order.review

    def test_in_order_the_desk_owes_the_first_payment(self, unit: UnitOfWork) -> None:
        deliver(woo_desk(unit), refunded("14.35", "p2"), ["p1", "p2", "notice"])

        order = stored(unit, "woocommerce", WOO_ID)
        assert [("9001", "p2", usd("14.35"))] == refunds_on(order)
        assert ["15.00"] == owed(unit)
        assert () == order.review

    def test_its_payment_first_owes_the_other_back(self, unit: UnitOfWork) -> None:
        deliver(woo_desk(unit), refunded("14.35", "p2"), ["notice", "p2", "p1"])

        order = stored(unit, "woocommerce", WOO_ID)
        assert [("9001", "p2", usd("14.35"))] == refunds_on(order)
        assert ["15.00"] == owed(unit)


@pytest.mark.parametrize("steps", LATE, ids="-".join)
@pytest.mark.parametrize(
    ("amount", "payment_id"),
    [("29.35", None), ("29.35", "p2"), ("14.35", "p2"), ("15.00", "p1")],
)
def test_no_late_capture_pays_twice(
    unit: UnitOfWork, steps: list[str], amount: str, payment_id: str | None
) -> None:
    """What sagas send back is never more than captured less refunded.

    Less only when a person was asked (`"refund"`); a refund placed is on
    the payment it names.
    """
    deliver(woo_desk(unit), refunded(amount, payment_id), steps)

    order = stored(unit, "woocommerce", WOO_ID)
    assert OrderStatus.CANCELLED == order.status
    left = usd("29.35") - usd(amount)
    assert sent(unit) <= left
    if sent(unit) < left:
        assert "refund" in order.review
    for _, on, _ in refunds_on(order):
        assert on == payment_id


@pytest.mark.parametrize(("amount", "payment_id"), [("14.35", "p2"), ("15.00", "p1")])
def test_the_late_ledger_is_the_in_order_one(
    unit: UnitOfWork, amount: str, payment_id: str
) -> None:
    """A refund that fits its payment: the ledger of the captures first."""
    deliver(woo_desk(unit), refunded(amount, payment_id), ["p1", "p2", "notice"])
    in_order = stored(unit, "woocommerce", WOO_ID)
    assert [usd("29.35") - usd(amount)] == [usd(a) for a in owed(unit)]

    for steps in LATE:
        other = MemoryUnitOfWork()
        deliver(woo_desk(other), refunded(amount, payment_id), steps)
        late = stored(other, "woocommerce", WOO_ID)
        assert refunds_on(in_order) == refunds_on(late)
        assert sent(other) <= sent(unit)


class TestTrailReads:
    """A capture reads the trail for parked refunds only when it may place one."""

    def reads(
        self, unit: UnitOfWork, monkeypatch: pytest.MonkeyPatch, event: PaymentCaptured
    ) -> int:
        """How many times recording `event` reads the order's audit trail."""
        with unit as uow:
            store = type(uow.audit)
        calls = []
        original = store.records

        def counted(self: object, channel: str, order_id: str) -> Sequence[object]:
            calls.append(order_id)
            return original(self, channel, order_id)  # type: ignore[arg-type]

        with monkeypatch.context() as patched:
            patched.setattr(store, "records", counted)
            woo_desk_of(unit).record("woocommerce", WOO_ID, event)
        return len(calls)

    def test_a_further_capture_of_an_order_not_waiting_reads_none(
        self, unit: UnitOfWork, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        deliver(woo_desk(unit), refunded("15.00", "p1"), ["notice", "p1"])
        assert "refund" not in stored(unit, "woocommerce", WOO_ID).review

        assert 0 == self.reads(unit, monkeypatch, capture("p2"))

    def test_a_further_capture_of_an_order_waiting_reads_it(
        self, unit: UnitOfWork, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        deliver(woo_desk(unit), refunded("14.35", "p2"), ["notice", "p1"])
        assert "refund" in stored(unit, "woocommerce", WOO_ID).review

        assert 1 == self.reads(unit, monkeypatch, capture("p2"))


def woo_desk_of(unit: UnitOfWork) -> OrderDesk:
    """A desk on `unit` as `woo_desk` makes it, without stocking it again."""
    return OrderDesk(
        unit,
        FrozenClock(pendulum.datetime(2017, 3, 24)),
        DeskPolicy(locations=["W1"]),
        Fingerprinter.for_tests(),
    )
