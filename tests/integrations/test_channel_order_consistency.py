"""A channel order's quote prices that order: of its id and its channel."""

from __future__ import annotations

import pendulum
import pytest

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import OrderMismatch
from orderkit.integrations import ChannelOrder
from orderkit.money import Money
from orderkit.orders import (
    Address,
    Buyer,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    OrderStatus,
)
from orderkit.pricing import Quote


AT = pendulum.datetime(2026, 11, 11, 13, 0)
S = OrderStatus


def key(kind: str) -> IdempotencyKey:
    return IdempotencyKey("web", kind, "WEB-1", "1")


def placed() -> OrderPlaced:
    return OrderPlaced(
        order_id="WEB-1",
        key=key("created"),
        occurred_at=AT,
        channel="web",
        buyer=Buyer("b-1", phone="+12125550111"),
        address=Address("US", "New York", "Brooklyn"),
        lines=[OrderLine("L1", "TEA-TIN", 2, Money("12.50", "USD"))],
    )


def channel_order(
    status: OrderStatus, events: tuple[OrderEvent, ...] = (), channel: str = "web"
) -> ChannelOrder:
    event = placed()
    return ChannelOrder(
        placed=event,
        quote=Quote("WEB-1", channel, event.lines),
        status=status,
        channel_status=str(status),
        events=events,
    )


def test_a_quote_of_another_channel_is_refused() -> None:
    with pytest.raises(OrderMismatch) as caught:
        channel_order(S.PENDING_PAYMENT, channel="shopify")
    assert (caught.value.field, caught.value.value) == ("quote.channel", "shopify")
    assert caught.value.order_id == "WEB-1"
