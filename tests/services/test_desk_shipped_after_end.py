"""A parcel that left after its order was cancelled: the desk says so.

The order is cancelled while it is picked; its stock goes back on sale and
its money back to the buyer. Then the 3PL reports the parcel left all the
same. The lifecycle refuses it (nothing ships after the end), and the desk
only returned the refusal: the units it had given back were sold again to
the next buyer, from a shelf they had left.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.services._samples import backend
from tests.services.test_desk_split_parcels import (
    CH,
    ID,
    T0,
    TEA,
    accept_paid,
    desk,
    figures,
    parcel,
    tins,
)

from orderkit.dedupe import IdempotencyKey
from orderkit.orders import Cancelled, OrderStatus
from orderkit.ports import UnitOfWork
from orderkit.testing import FrozenClock


@pytest.fixture(params=["memory", "sqlite"])
def unit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWork]:
    yield from backend(request.param, tmp_path / "desk.db")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


def cancelled() -> Cancelled:
    return Cancelled(
        order_id=ID,
        key=IdempotencyKey(CH, "trade.cancel", ID, "1"),
        occurred_at=T0.add(minutes=40),
        reason="买家取消 / the buyer cancelled",
    )


class TestAParcelAfterTheEnd:
    def test_the_order_waits_and_the_units_leave_the_shelf(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = desk(unit, clock, {(TEA, "SH-1"): 3})
        accept_paid(orders, tins(2))
        orders.record(CH, ID, cancelled())
        assert figures(unit, clock, TEA, "SH-1") == (3, 0, 0)

        late = orders.record(CH, ID, parcel("SH-P1", ("L1", 2)))

        assert [type(r.event).__name__ for r in late.rejected] == ["Shipped"]
        assert late.order.status is OrderStatus.CANCELLED
        assert "shipped_after_end" in late.order.review
        assert figures(unit, clock, TEA, "SH-1") == (1, 0, 0)

    def test_a_redelivery_tells_nothing_more(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        orders = desk(unit, clock, {(TEA, "SH-1"): 3})
        accept_paid(orders, tins(2))
        orders.record(CH, ID, cancelled())
        first = orders.record(CH, ID, parcel("SH-P1", ("L1", 2)))

        again = orders.record(CH, ID, parcel("SH-P1", ("L1", 2)))

        assert again.order == first.order
        assert figures(unit, clock, TEA, "SH-1") == (1, 0, 0)
