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
    Order,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    PickingStarted,
    ShipmentLine,
    Shipped,
    apply,
    apply_all,
)


T0 = pendulum.datetime(2026, 11, 11)
CLOCK = OrderLine("L1", "RETRO-CLOCK", 2, Money("199.00", "CNY"))
GIFT_CARD = OrderLine("L2", "custom:L2", 1, Money("100.00", "CNY"), stocked=False)


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

    def test_a_parcel_after_the_stocked_units_shipped_is_refused(self) -> None:
        first = apply(picking(CLOCK, GIFT_CARD), parcel(ShipmentLine("L1", 2)), now=T0)
        with pytest.raises(IllegalTransition):
            apply(first.order, parcel(ShipmentLine("L2", 1), n="2"), now=T0)

    def test_an_order_shipped_but_for_its_unstocked_lines_is_valid(self) -> None:
        order = apply(
            picking(CLOCK, GIFT_CARD), parcel(ShipmentLine("L1", 2)), now=T0
        ).order
        assert order is not None
        assert attrs.evolve(order) == order
        # Were the gift card stocked, "shipped" would contradict the parcels.
        with pytest.raises(ValidationError, match="every unit shipped"):
            attrs.evolve(order, lines=(CLOCK, attrs.evolve(GIFT_CARD, stocked=True)))
