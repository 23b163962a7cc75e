"""仅退款: money back for units that never come back, and no stock out of thin air."""

from __future__ import annotations

import attrs
import pytest
from tests.services._refund_samples import (
    CH,
    ID,
    T0,
    TIERS,
    accepted_and_paid,
    amend_step,
    inspected,
    requested_case,
)
from tests.services._samples import cny

from orderkit.errors import ValidationError
from orderkit.orders import (
    AfterSalesCase,
    CaseState,
    approve_case,
    inspect_return,
    receive_return,
)
from orderkit.ports import UnitOfWork
from orderkit.services import Ledger, OrderDesk, Refunds, Shipping
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakeCarrier, FakePayments


def missing_one() -> AfterSalesCase:
    """One teapot of two was not in the parcel: its 288.00 back, nothing sent."""
    return attrs.evolve(
        requested_case(), reason="少发一件 / one missing", returns_goods=False
    )


@pytest.fixture
def shipped(unit: UnitOfWork, clock: FrozenClock, payments: FakePayments) -> OrderDesk:
    desk = accepted_and_paid(unit, clock, payments)
    Shipping(unit, clock, desk, FakeCarrier(clock)).ship(CH, ID, "SHIP-1")
    return desk


def on_hand(unit: UnitOfWork, clock: FrozenClock) -> int:
    with unit as uow:
        return Ledger(uow.ledger, clock).balance("JADE-TEAPOT", "SH-1").on_hand


def sellable_told(unit: UnitOfWork) -> int:
    """How many `sellable` messages the channels have to hear."""
    with unit as uow:
        return sum(m.topic == "sellable" for m in uow.outbox.unsent(limit=1000))


def test_the_refund_goes_out_and_nothing_is_restocked(
    shipped: OrderDesk, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> None:
    before, told = on_hand(unit, clock), sellable_told(unit)
    case = inspected(missing_one())
    assert case.returns_goods is False

    amend_step(shipped, ID, case)
    done = Refunds(unit, clock, payments).send_due()

    assert [type(outcome).__name__ for outcome in done] == ["Refunded"]
    assert payments.captured("alipay-77") == cny("288.00")
    assert on_hand(unit, clock) == before
    assert sellable_told(unit) == told
    (stored,) = shipped.order(CH, ID).after_sales
    assert stored.state is CaseState.REFUNDED


def test_its_units_cannot_be_refunded_again(
    shipped: OrderDesk, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> None:
    amend_step(shipped, ID, inspected(missing_one()))
    Refunds(unit, clock, payments).send_due()
    # Both teapots shipped; one was paid back: one unit is left to return.
    again = attrs.evolve(
        requested_case(case_id="AS-2"),
        lines=(attrs.evolve(requested_case().lines[0], quantity=2),),
    )

    with pytest.raises(ValidationError) as caught:
        amend_step(shipped, ID, again)
    assert caught.value.field == "after_sales[1].lines[0].quantity"


def test_nothing_comes_back_on_it() -> None:
    approved = approve_case(missing_one(), "mgr.li", "finance", TIERS, T0.add(days=4))

    with pytest.raises(ValidationError) as caught:
        receive_return(approved, {"L1": ["SN-1"]}, {"L1": ["SN-1"]}, T0.add(days=5))
    assert caught.value.field == "serials"
    with pytest.raises(ValidationError) as caught:
        receive_return(approved, {"L9": []}, {}, T0.add(days=5))
    assert caught.value.field == "serials[L9]"
    # Shipped with serial numbers, the line needs none back.
    received = receive_return(approved, {}, {"L1": ["SN-1", "SN-2"]}, T0.add(days=5))
    assert inspect_return(received, passed=True, at=T0.add(days=6)).restock == ()


def test_a_return_still_restocks() -> None:
    case = approve_case(requested_case(), "mgr.li", "finance", TIERS, T0.add(days=4))
    received = receive_return(case, {}, {}, T0.add(days=5))
    assert len(inspect_return(received, passed=True, at=T0.add(days=6)).restock) == 1
