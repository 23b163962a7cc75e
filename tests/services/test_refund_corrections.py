"""A channel's refund that lowers a refund not sent yet corrects its message.

A cancellation that overtakes a ship saga writes its `refund` message with
what the order owes then; the ship saga hands the refund over when it ends,
sized by what the payments still hold. A channel's refund recorded in
between (`OrderDesk.record_refund`) lowers that: a corrected `refund`
message says what the saga will send, so a host acting on the messages
never pays back money the channel already did.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.services._refund_samples import (
    CH,
    ID,
    T0,
    accepted_and_paid,
    buyer_cancelled,
    captured_ledger,
)
from tests.services._samples import cny

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import CallTimedOut, IllegalTransition, RefundExceedsCapture
from orderkit.integrations import ChannelRefund
from orderkit.orders import Recorded, Unchanged
from orderkit.ports import UnitOfWork
from orderkit.services import OrderDesk, Refunded, Refunds, Shipping
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakeCarrier, FakePayments
from orderkit.testing.faults import Fault, FaultPlan, faulty


ORIGINAL = f"refund:order:{CH}:{ID}:6"
"""The cancellation's `refund` message id: the version that ended the order."""


def channel_refund(refund_id: str, amount: str, n: str = "1") -> ChannelRefund:
    """Money the channel sent back for DY-2001 itself, under key `n`."""
    return ChannelRefund(
        refund_id=refund_id,
        order_id=ID,
        key=IdempotencyKey(CH, "refund", refund_id, n),
        amount=cny(amount),
        created_at=T0.add(hours=1),
        reason="少发一件 / one short",
    )


def overtaken(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> OrderDesk:
    """DY-2001 paid 576.00, its label booked (the reply lost), then cancelled."""
    desk = accepted_and_paid(unit, clock, payments)
    with pytest.raises(CallTimedOut):
        lossy_shipping(unit, clock, desk).ship(CH, ID, "SHIP-1")
    desk.record(CH, ID, buyer_cancelled())
    return desk


def lossy_shipping(unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk) -> Shipping:
    """Shipping through a carrier that books the label but loses its reply."""
    lost = faulty(FakeCarrier(clock), FaultPlan(script=[Fault.REPLY_LOST]))
    return Shipping(unit, clock, desk, lost)


def refund_messages(unit: UnitOfWork) -> list[tuple[str, dict[str, Any]]]:
    """Each `refund` message in the outbox, in order: its id and body."""
    with unit as uow:
        messages = uow.outbox.unsent()
    return [
        (m.message_id, json.loads(m.payload)) for m in messages if m.topic == "refund"
    ]


def ship_saga_ends(unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk) -> None:
    """The ship saga resumes: the cancelled order refuses the parcel, it ends."""
    with pytest.raises(IllegalTransition):
        Shipping(unit, clock, desk, FakeCarrier(clock)).resume(CH, ID)


class TestCorrectedMessages:
    def test_the_corrected_message_states_what_the_saga_sends(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        desk = overtaken(unit, clock, payments)
        assert [m for m, _ in refund_messages(unit)] == [ORIGINAL]

        recorded = desk.record_refund(CH, ID, channel_refund("RF-1", "100.00"))

        assert isinstance(recorded, Recorded)
        (first, body), (corrected, fixed) = refund_messages(unit)
        assert (first, body["amount"]) == (ORIGINAL, "576.00")
        assert corrected == f"{ORIGINAL}:corrected:RF-1"
        assert fixed == {
            "channel": CH,
            "order_id": ID,
            "amount": "476.00",
            "currency": "CNY",
            "replaces": ORIGINAL,
            "channel_refund": "RF-1",
        }
        ship_saga_ends(unit, clock, desk)
        (sent,) = Refunds(unit, clock, payments).send_due()
        assert isinstance(sent, Refunded)
        assert sent.transaction.amount == cny("476.00")  # as the message says
        assert payments.captured("alipay-77") == cny("100.00")

    def test_the_same_refund_again_writes_nothing_new(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        desk = overtaken(unit, clock, payments)
        desk.record_refund(CH, ID, channel_refund("RF-1", "100.00"))
        written = refund_messages(unit)

        # The channel's webhook again, and the order's notice stating it.
        for n in ("1", "2"):
            again = desk.record_refund(CH, ID, channel_refund("RF-1", "100.00", n))
            assert isinstance(again, Unchanged)

        assert refund_messages(unit) == written
        assert [m for m, _ in written] == [ORIGINAL, f"{ORIGINAL}:corrected:RF-1"]

    def test_each_refund_corrects_the_first_message_in_turn(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        desk = overtaken(unit, clock, payments)

        desk.record_refund(CH, ID, channel_refund("RF-1", "100.00"))
        desk.record_refund(CH, ID, channel_refund("RF-2", "76.00"))

        messages = refund_messages(unit)
        assert [m for m, _ in messages] == [
            ORIGINAL,
            f"{ORIGINAL}:corrected:RF-1",
            f"{ORIGINAL}:corrected:RF-2",
        ]
        assert [b["amount"] for _, b in messages] == ["576.00", "476.00", "400.00"]
        assert {b.get("replaces") for _, b in messages[1:]} == {ORIGINAL}

    def test_a_refund_of_everything_says_nothing_is_owed(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        desk = overtaken(unit, clock, payments)

        desk.record_refund(CH, ID, channel_refund("RF-1", "576.00"))

        (_, last) = refund_messages(unit)[-1]
        assert (last["amount"], last["replaces"]) == ("0.00", ORIGINAL)
        ship_saga_ends(unit, clock, desk)
        assert Refunds(unit, clock, payments).send_due() == ()
        assert payments.captured("alipay-77") == cny("576.00")  # nothing sent

    def test_a_refund_beyond_what_is_held_corrects_nothing(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        """A regression guard: paid back twice is a person's, no message says more."""
        desk = overtaken(unit, clock, payments)
        written = refund_messages(unit)

        with pytest.raises(RefundExceedsCapture):
            desk.record_refund(CH, ID, channel_refund("RF-1", "600.00"))

        assert refund_messages(unit) == written

    def test_a_refund_on_an_order_still_shipping_owes_nothing_new(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        """A regression guard: no refund fell due, so none is corrected."""
        desk = accepted_and_paid(unit, clock, payments)
        with pytest.raises(CallTimedOut):
            lossy_shipping(unit, clock, desk).ship(CH, ID, "SHIP-1")

        desk.record_refund(CH, ID, channel_refund("RF-1", "100.00"))

        assert refund_messages(unit) == []


class TestTheLastMessageHolds:
    @settings(max_examples=30, deadline=None)
    @given(
        amounts=st.lists(
            st.integers(min_value=1, max_value=144), min_size=1, max_size=4
        )
    )
    def test_the_last_message_is_what_the_saga_sends(self, amounts: list[int]) -> None:
        unit = MemoryUnitOfWork()
        clock = FrozenClock(T0)
        payments = FakePayments(clock)
        desk = overtaken(unit, clock, payments)
        for n, amount in enumerate(amounts):
            refund = channel_refund(f"RF-{n}", f"{amount}.00")
            desk.record_refund(CH, ID, refund)
            desk.record_refund(CH, ID, refund)  # a retry writes nothing new

        messages = refund_messages(unit)
        ids = [m for m, _ in messages]
        assert len(ids) == len(set(ids)) == len(amounts) + 1
        (_, last) = messages[-1]
        ship_saga_ends(unit, clock, desk)
        sent = Refunds(unit, clock, payments).send_due()
        got = cny("0.00")
        for outcome in sent:
            assert isinstance(outcome, Refunded)
            got = outcome.transaction.amount
        assert cny(last["amount"]) == got
        # The channel paid back the rest itself: together, all of it once.
        assert got + cny(f"{sum(amounts)}.00") == cny("576.00")
        assert payments.captured("alipay-77") == cny("576.00") - got


class TestAmendedLedgers:
    """A host's own refund, as a ledger amendment, corrects the message too."""

    def test_a_refund_by_amendment_corrects_the_message(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        desk = overtaken(unit, clock, payments)
        # The host's books of the one payment, with a refund it sent itself.
        at = clock.now()
        ledger = (
            captured_ledger(at=at)
            .request_refund(
                "RF-HAND-1", "alipay-77", cny("100.00"), "客服补偿 / goodwill", at
            )
            .settle_refund("RF-HAND-1", at)
        )
        key = IdempotencyKey("erp", "ledger", ID, "1")

        def amend() -> object:
            return desk.amend(CH, ID, ledger, key=key, actor="finance", source="erp")

        assert isinstance(amend(), Recorded)
        assert isinstance(amend(), Unchanged)  # a retry writes nothing new

        (_, body), (corrected, fixed) = refund_messages(unit)
        assert body["amount"] == "576.00"
        assert corrected == f"{ORIGINAL}:corrected:{key}"
        assert (fixed["amount"], fixed["replaces"], fixed["amendment"]) == (
            "476.00",
            ORIGINAL,
            str(key),
        )
        assert "channel_refund" not in fixed
        ship_saga_ends(unit, clock, desk)
        (sent,) = Refunds(unit, clock, payments).send_due()
        assert isinstance(sent, Refunded)
        assert sent.transaction.amount == cny("476.00")

    def test_an_amendment_that_leaves_more_owed_writes_no_correction(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        # A pending refund of the host's, 100.00, then the order overtaken:
        # its message says 476.00. The host's refund fails: 576.00 is owed,
        # more than a saga may send, so a person sizes it; no message may
        # say "0.00" (nothing owed) or any other amount.
        desk = accepted_and_paid(unit, clock, payments)
        at = clock.now()
        pending = captured_ledger(at=at).request_refund(
            "RF-HAND-1", "alipay-77", cny("100.00"), "补偿", at
        )
        first = IdempotencyKey("erp", "ledger", ID, "1")
        desk.amend(CH, ID, pending, key=first, actor="finance", source="erp")
        with pytest.raises(CallTimedOut):
            lossy_shipping(unit, clock, desk).ship(CH, ID, "SHIP-1")
        desk.record(CH, ID, buyer_cancelled())
        written = refund_messages(unit)
        failed = pending.fail_refund("RF-HAND-1", at)
        second = IdempotencyKey("erp", "ledger", ID, "2")

        desk.amend(CH, ID, failed, key=second, actor="finance", source="erp")

        assert refund_messages(unit) == written
        with unit as uow:
            order = uow.orders.get(CH, ID)
        assert order is not None
        assert "refund" in order.review
