"""Unstocked lines in the lifecycle: an order ships once its stocked units have."""

from __future__ import annotations

import attrs
import pendulum
import pytest

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import IllegalTransition, ValidationError
from orderkit.money import Money
from orderkit.orders import (
    Address,
    Applied,
    Buyer,
    Cancelled,
    Delivered,
    InTransit,
    Order,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    PickingStarted,
    RefundDue,
    ShipmentLine,
    Shipped,
    Stale,
    apply,
    apply_all,
)


T0 = pendulum.datetime(2026, 11, 11)
CLOCK = OrderLine("L1", "RETRO-CLOCK", 2, Money("199.00", "CNY"))
GIFT_CARD = OrderLine("L2", "custom:L2", 1, Money("100.00", "CNY"), stocked=False)
EBOOK = OrderLine("L3", "custom:L3", 1, Money("30.00", "CNY"), stocked=False)


def _key(kind: str, n: str = "1") -> IdempotencyKey:
    return IdempotencyKey("douyin", kind, "DY-1", n)


def picking(*lines: OrderLine) -> Order:
    placed = OrderPlaced(
        order_id="DY-1",
        key=_key("placed"),
        occurred_at=T0,
        channel="douyin",
        buyer=Buyer("b-1"),
        address=Address("CN"),
        lines=lines,
    )
    paid = PaymentCaptured(
        order_id="DY-1",
        key=_key("paid"),
        occurred_at=T0.add(minutes=1),
        payment_id="P-1",
        amount=sum((line.amount for line in lines), Money.zero("CNY")),
    )
    started = PickingStarted(
        order_id="DY-1", key=_key("picking"), occurred_at=T0.add(minutes=2)
    )
    order = apply_all(None, [placed, paid, started], now=T0).order
    assert order is not None
    assert order.status is OrderStatus.PICKING
    return order


def parcel(*parts: ShipmentLine, n: str = "1") -> Shipped:
    return Shipped(
        order_id="DY-1",
        key=_key("shipped", n),
        occurred_at=T0.add(hours=1),
        shipment_id=f"S{n}",
        lines=parts,
        carrier="SF",
        tracking_number=f"SF{n}",
    )


def shipped_in_full() -> Order:
    """A clock and a gift card, the clocks sent: shipped, the gift card not."""
    outcome = apply(picking(CLOCK, GIFT_CARD), parcel(ShipmentLine("L1", 2)), now=T0)
    assert isinstance(outcome, Applied)
    assert OrderStatus.SHIPPED == outcome.order.status
    return outcome.order


class TestOrderLine:
    def test_stocked_by_default(self) -> None:
        assert CLOCK.stocked is True

    @pytest.mark.parametrize("value", [1, 0, "false", None])
    def test_stocked_is_a_bool(self, value: object) -> None:
        with pytest.raises(ValidationError) as caught:
            OrderLine("L1", "GIFT", 1, Money("1.00", "CNY"), stocked=value)  # type: ignore[arg-type]
        assert caught.value.field == "stocked"

    def test_stocked_is_keyword_only(self) -> None:
        with pytest.raises(TypeError):
            OrderLine("L1", "GIFT", 1, Money("1.00", "CNY"), "", False)  # type: ignore[call-arg]  # noqa: FBT003

    def test_an_unstocked_line_is_priced_as_any_other(self) -> None:
        assert GIFT_CARD.amount == Money("100.00", "CNY")


class TestShipping:
    def test_the_stocked_units_shipped_ship_the_order_in_full(self) -> None:
        outcome = apply(
            picking(CLOCK, GIFT_CARD), parcel(ShipmentLine("L1", 2)), now=T0
        )
        assert isinstance(outcome, Applied)
        assert outcome.order.status is OrderStatus.SHIPPED

    def test_a_stocked_unit_left_keeps_it_partially_shipped(self) -> None:
        outcome = apply(
            picking(CLOCK, GIFT_CARD),
            parcel(ShipmentLine("L1", 1), ShipmentLine("L2", 1)),
            now=T0,
        )
        assert isinstance(outcome, Applied)
        assert outcome.order.status is OrderStatus.PARTIALLY_SHIPPED

    def test_an_order_of_unstocked_lines_ships_with_its_first_parcel(self) -> None:
        outcome = apply(picking(GIFT_CARD), parcel(ShipmentLine("L2", 1)), now=T0)
        assert isinstance(outcome, Applied)
        assert outcome.order.status is OrderStatus.SHIPPED

    def test_an_unstocked_line_still_cannot_ship_more_than_ordered(self) -> None:
        with pytest.raises(IllegalTransition):
            apply(
                picking(CLOCK, GIFT_CARD),
                parcel(ShipmentLine("L1", 1), ShipmentLine("L2", 2)),
                now=T0,
            )

    def test_a_gift_card_alone_after_the_stocked_units_shipped_is_stale(
        self,
    ) -> None:
        order = shipped_in_full()

        outcome = apply(order, parcel(ShipmentLine("L2", 1), n="2"), now=T0)

        assert isinstance(outcome, Stale)
        assert outcome.order is order
        assert OrderStatus.SHIPPED == outcome.order.status
        assert ["S1"] == [s.shipment_id for s in outcome.order.shipments]

    @pytest.mark.parametrize(
        "parts",
        [
            (ShipmentLine("L1", 1),),  # stocked, and over-shipped
            (ShipmentLine("L1", 1), ShipmentLine("L2", 1)),  # a stocked unit beside
            (ShipmentLine("L2", 2),),  # unstocked alone, over-shipped
            (ShipmentLine("L9", 1),),  # a line the order lacks
        ],
    )
    def test_any_other_parcel_after_the_last_is_refused(
        self, parts: tuple[ShipmentLine, ...]
    ) -> None:
        order = shipped_in_full()

        with pytest.raises(IllegalTransition):
            apply(order, parcel(*parts, n="2"), now=T0)

    def test_a_gift_card_alone_after_delivery_is_stale(self) -> None:
        order = shipped_in_full()
        for kind, event_class in (("transit", InTransit), ("delivered", Delivered)):
            event = event_class(
                order_id="DY-1",
                key=_key(kind),
                occurred_at=T0.add(hours=2),
                shipment_id="S1",
            )
            outcome = apply(order, event, now=T0)
            assert isinstance(outcome, Applied)
            order = outcome.order
        assert OrderStatus.DELIVERED == order.status

        outcome = apply(order, parcel(ShipmentLine("L2", 1), n="2"), now=T0)

        assert isinstance(outcome, Stale)
        assert outcome.order is order

    def test_an_order_of_unstocked_lines_alone_finds_its_second_parcel_stale(
        self,
    ) -> None:
        first = apply(picking(GIFT_CARD, EBOOK), parcel(ShipmentLine("L2", 1)), now=T0)
        assert isinstance(first, Applied)
        assert OrderStatus.SHIPPED == first.order.status

        outcome = apply(first.order, parcel(ShipmentLine("L3", 1), n="2"), now=T0)

        assert isinstance(outcome, Stale)
        assert outcome.order is first.order

    def test_either_parcel_of_unstocked_lines_alone_may_come_first(self) -> None:
        one, two = parcel(ShipmentLine("L2", 1)), parcel(ShipmentLine("L3", 1), n="2")
        for stream in ([one, two], [two, one]):
            batch = apply_all(picking(GIFT_CARD, EBOOK), stream, now=T0)
            assert [Applied, Stale] == [type(o) for o in batch.outcomes]
            assert batch.order is not None
            assert OrderStatus.SHIPPED == batch.order.status

    def test_a_cancelled_order_of_unstocked_lines_refuses_a_parcel(self) -> None:
        cancelled = Cancelled(
            order_id="DY-1",
            key=_key("cancelled"),
            occurred_at=T0.add(minutes=3),
            reason="buyer changed their mind",
        )
        outcome = apply(picking(GIFT_CARD), cancelled, now=T0)
        assert isinstance(outcome, RefundDue)
        assert OrderStatus.CANCELLED == outcome.order.status

        with pytest.raises(IllegalTransition):
            apply(outcome.order, parcel(ShipmentLine("L2", 1)), now=T0)

    def test_a_gift_card_stored_stocked_ships_the_order_with_its_parcel(
        self,
    ) -> None:
        # An order stored before its gift card read unstocked: that parcel
        # is the order's last.
        order = picking(CLOCK, attrs.evolve(GIFT_CARD, stocked=True))
        first = apply(order, parcel(ShipmentLine("L1", 2)), now=T0)
        assert isinstance(first, Applied)
        assert OrderStatus.PARTIALLY_SHIPPED == first.order.status

        outcome = apply(first.order, parcel(ShipmentLine("L2", 1), n="2"), now=T0)

        assert isinstance(outcome, Applied)
        assert OrderStatus.SHIPPED == outcome.order.status

    def test_an_order_shipped_but_for_its_unstocked_lines_is_valid(self) -> None:
        order = apply(
            picking(CLOCK, GIFT_CARD), parcel(ShipmentLine("L1", 2)), now=T0
        ).order
        assert order is not None
        assert attrs.evolve(order) == order
        # Were the gift card stocked, "shipped" would contradict the parcels.
        with pytest.raises(ValidationError, match="every unit shipped"):
            attrs.evolve(order, lines=(CLOCK, attrs.evolve(GIFT_CARD, stocked=True)))
