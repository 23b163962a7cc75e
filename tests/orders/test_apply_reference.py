"""The fast `apply` does what the reference `apply` did, event for event.

`apply` builds its orders, records and outcomes without validating them
again (orderkit._fast). tests/orders/_reference_apply.py is `apply`
as it was before, building every instance with its validating constructor.
Fed the same order and event, both must return equal outcomes or raise the
same error, over streams that reach every step: legal lifecycles delivered
out of order and twice, with cancellations, closes, address changes, extra
captures and parcels, foreign lines and currencies mixed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import attrs
import pendulum
from hypothesis import given, note, settings
from hypothesis import strategies as st
from tests.orders import _reference_apply as reference

from orderkit import IdempotencyKey
from orderkit.errors import OrderkitError
from orderkit.orders import (
    AddressChanged,
    Applied,
    Cancelled,
    Closed,
    Completed,
    Delivered,
    Early,
    InTransit,
    Order,
    OrderEvent,
    OrderPlaced,
    PaymentCaptured,
    PickingStarted,
    RefundDue,
    ShipmentLine,
    Shipped,
    apply,
)
from orderkit.testing import strategies as ost


NOW = pendulum.datetime(2026, 11, 20, tz="UTC")
_STDLIB_NOW = dt.datetime(2026, 11, 20, 8, tzinfo=dt.timezone(dt.timedelta(hours=8)))
_ID = st.sampled_from(["A", "B", "ZZ-9"])


@st.composite
def _extras(draw: st.DrawFn, stream: list[OrderEvent]) -> list[OrderEvent]:
    """Events beside the legal stream: each a step's other branches."""
    placed = stream[0]
    assert isinstance(placed, OrderPlaced)
    order_id = placed.order_id
    keys = [event.key for event in stream]
    lines = [line.line_id for line in placed.lines]
    parcels = [e.shipment_id for e in stream if isinstance(e, Shipped)]
    minutes = st.integers(-30, 90)

    def common() -> dict[str, Any]:
        fresh = IdempotencyKey("douyin", "extra", order_id, draw(_ID))
        return {
            "order_id": draw(st.sampled_from([order_id, order_id, "OTHER"])),
            "key": draw(st.sampled_from([fresh, fresh, *keys])),
            "occurred_at": placed.occurred_at.add(minutes=draw(minutes)),
        }

    parts = st.lists(
        st.builds(
            ShipmentLine, st.sampled_from([*lines, "NO-SUCH-LINE"]), st.integers(1, 3)
        ),
        min_size=1,
        max_size=2,
    )
    parcel_ids = st.sampled_from([*parcels, "S-NEW", "S-OTHER"])
    makers: dict[str, Callable[[], OrderEvent]] = {
        "cancel": lambda: Cancelled(reason="buyer asked", **common()),
        "close": lambda: Closed(**common()),
        "address": lambda: AddressChanged(address=draw(ost.addresses()), **common()),
        "pay": lambda: PaymentCaptured(
            payment_id=draw(st.sampled_from(["PAY-1", "PAY-2", "PAY-3"])),
            amount=draw(ost.money(draw(st.sampled_from(["CNY", "USD"])), min_minor=1)),
            **common(),
        ),
        "pick": lambda: PickingStarted(
            location=draw(st.none() | st.just("WH-1")), **common()
        ),
        "ship": lambda: Shipped(
            shipment_id=draw(parcel_ids),
            lines=draw(parts),
            carrier="SF",
            tracking_number="SF9",
            **common(),
        ),
        "transit": lambda: InTransit(shipment_id=draw(parcel_ids), **common()),
        "deliver": lambda: Delivered(shipment_id=draw(parcel_ids), **common()),
        "complete": lambda: Completed(**common()),
        "place": lambda: attrs.evolve(placed, key=common()["key"]),
    }
    kinds = draw(st.lists(st.sampled_from(sorted(makers)), max_size=8))
    return [makers[kind]() for kind in kinds]


@st.composite
def _deliveries(draw: st.DrawFn) -> list[OrderEvent]:
    stream: list[OrderEvent] = draw(ost.lifecycles())
    placed = stream[0]
    assert isinstance(placed, OrderPlaced)
    if draw(st.booleans()):
        # A deadline, so that a close may come too early.
        pay_by = placed.occurred_at.add(minutes=draw(st.integers(0, 60)))
        stream[0] = attrs.evolve(placed, pay_by=pay_by)
    extras = draw(_extras(stream))
    resent = draw(st.lists(st.sampled_from(stream), max_size=3))
    return list(draw(st.permutations(stream + extras + resent)))


def _run(step: Any, order: Order | None, event: OrderEvent, now: dt.datetime) -> Any:
    try:
        return step(order, event, now=now)
    except OrderkitError as error:
        return (type(error), str(error), error.args)


def _fully_valid(order: Order) -> None:
    """The validating constructor accepts every field of a fast-built order."""
    rebuilt = Order(**{a.name: getattr(order, a.name) for a in attrs.fields(Order)})
    assert rebuilt == order


class TestFastApplyEqualsReference:
    """Same order, same event: the same outcome or the same error."""

    @settings(max_examples=300)
    @given(
        _deliveries(),
        st.sampled_from([NOW, NOW.in_timezone("Asia/Shanghai"), _STDLIB_NOW]),
    )
    def test_every_outcome_matches(
        self, deliveries: list[OrderEvent], now: dt.datetime
    ) -> None:
        order: Order | None = None
        parked: list[OrderEvent] = []
        for event in deliveries:
            outcome = _same(order, event, now)
            if isinstance(outcome, Early):
                parked.append(event)
                continue
            if not isinstance(outcome, Applied | RefundDue):
                continue
            order = outcome.order
            # Parked events go again after each one that applies, as
            # apply_all does, so that the later stages are reached too.
            retry = True
            while retry:
                retry = False
                for early in list(parked):
                    again = _same(order, early, now)
                    if not isinstance(again, Early):
                        parked.remove(early)
                    if isinstance(again, Applied | RefundDue):
                        order = again.order
                        retry = True


def _same(order: Order | None, event: OrderEvent, now: dt.datetime) -> Any:
    """Apply the event both ways; return the fast outcome once they agree."""
    note(f"{type(event).__name__} on {order and order.status}")
    fast = _run(apply, order, event, now)
    slow = _run(reference.apply, order, event, now)
    assert type(fast) is type(slow)
    assert fast == slow
    if isinstance(fast, Applied | RefundDue):
        assert type(fast.order) is Order
        _fully_valid(fast.order)
    return fast
