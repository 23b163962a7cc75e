"""Returns to a quarantine: `DeskPolicy.return_locations`.

A teapot that came back cracked is refunded (the buyer is not at fault)
and goes to SH-QC, a quarantine nothing sells from. The desk takes the
case, restocks it there, and never routes an order to SH-QC nor offers a
channel what it holds; a location the desk knows neither way is refused as
before.
"""

from __future__ import annotations

import json

import attrs
import pytest
from tests.services._refund_samples import (
    CH,
    SECRET,
    T0,
    amend_step,
    capture_all,
    incoming,
    inspected,
    placed,
)
from tests.services._samples import awaiting_payment

from orderkit.dedupe import Fingerprinter
from orderkit.errors import ValidationError
from orderkit.money import Money
from orderkit.orders import (
    Address,
    AfterSalesCase,
    Buyer,
    OrderLine,
    Recorded,
    ReturnLine,
    request_return,
)
from orderkit.ports import UnitOfWork
from orderkit.serialization import make_converter
from orderkit.services import (
    Accepted,
    DeskPolicy,
    Ledger,
    OrderDesk,
    Refused,
    Shipping,
)
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakeCarrier, FakePayments


ID = "DY-2001"
TEAPOT = "JADE-TEAPOT"
POLICY = DeskPolicy(locations=["SH-1"], return_locations=["SH-QC"])


def _desk(unit: UnitOfWork, clock: FrozenClock, stock: int = 2) -> OrderDesk:
    with unit as uow:
        Ledger(uow.ledger, clock).receive(TEAPOT, "SH-1", stock)
        uow.commit()
    return OrderDesk(unit, clock, POLICY, Fingerprinter(SECRET))


def _cracked(return_to: str = "SH-QC") -> AfterSalesCase:
    """One of DY-2001's two teapots, back cracked, refunded, to `return_to`."""
    return inspected(
        request_return(
            case_id="AS-1",
            order_id=ID,
            payment_id="alipay-77",
            lines=[ReturnLine("L1", TEAPOT, 1)],
            refund_amount=Money("288.00", "CNY"),
            reason="快递破损 / cracked in transit",
            requester="buyer:buyer-7",
            return_to=return_to,
            at=T0.add(days=3),
        )
    )


def _shipped(unit: UnitOfWork, clock: FrozenClock, payments: FakePayments) -> OrderDesk:
    desk = _desk(unit, clock)
    assert isinstance(desk.accept(incoming()), Accepted)
    capture_all(unit, clock, desk, payments)
    Shipping(unit, clock, desk, FakeCarrier(clock)).ship(CH, ID, "SHIP-1")
    return desk


def _on_hand(unit: UnitOfWork, clock: FrozenClock, location: str) -> int:
    with unit as uow:
        return Ledger(uow.ledger, clock).balance(TEAPOT, location).on_hand


def test_a_cracked_return_goes_to_quarantine_and_is_never_sold(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> None:
    desk = _shipped(unit, clock, payments)

    assert isinstance(amend_step(desk, ID, _cracked()), Recorded)

    assert _on_hand(unit, clock, "SH-QC") == 1
    assert _on_hand(unit, clock, "SH-1") == 0
    # The next order finds nothing to sell: SH-QC's teapot is not routed to.
    again = attrs.evolve(
        placed(order_id="DY-2002"),
        buyer=Buyer("buyer-8", "李雷"),
        address=Address("CN", "北京市", "北京市", "海淀区", "中关村大街 27 号"),
        lines=[OrderLine("L1", TEAPOT, 1, Money("288.00", "CNY"))],
    )
    outcome = desk.accept(awaiting_payment(again))
    assert isinstance(outcome, Refused)
    assert outcome.reason == "out_of_stock"


def test_a_channel_is_offered_none_of_the_quarantine(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> None:
    desk = _shipped(unit, clock, payments)
    amend_step(desk, ID, _cracked())

    with unit as uow:
        last = [m for m in uow.outbox.unsent() if m.topic == "sellable"][-1]
    body = json.loads(last.payload)
    assert body["locations"] == {"SH-1": 0, "SH-QC": 1}
    offered = sum(body["locations"].get(at, 0) for at in POLICY.locations_for(CH))
    assert offered == 0


def test_a_location_the_desk_knows_neither_way_is_still_refused(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> None:
    desk = _shipped(unit, clock, payments)

    with pytest.raises(ValidationError) as caught:
        amend_step(desk, ID, _cracked(return_to="SH-Q"))

    assert (caught.value.field, caught.value.value) == (
        "after_sales[0].return_to",
        "SH-Q",
    )
    assert "return_locations: SH-QC" in str(caught.value)
    with unit as uow:
        assert list(uow.ledger.balances(clock.now(), location="SH-QC")) == []


def test_a_location_both_sold_from_and_returned_to_only_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        DeskPolicy(locations=["SH-1", "SH-QC"], return_locations=["SH-QC"])

    assert (caught.value.field, caught.value.value) == (
        "return_locations[0]",
        "SH-QC",
    )


def test_return_locations_must_be_in_order() -> None:
    with pytest.raises(ValidationError) as caught:
        DeskPolicy(locations=["SH-1"], return_locations={"SH-QC"})

    assert caught.value.field == "return_locations"


def test_configuration_keeps_the_return_locations() -> None:
    converter = make_converter()

    document = converter.unstructure(POLICY)
    again = converter.structure(document, DeskPolicy)

    assert document["return_locations"] == ["SH-QC"]
    assert again.return_locations == ("SH-QC",)
    del document["return_locations"]
    assert converter.structure(document, DeskPolicy).return_locations == ()
