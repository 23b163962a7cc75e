"""`channel_order`: one channel order in a line, for tests that need a specific one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pendulum

from orderkit._time import to_utc
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import ValidationError
from orderkit.integrations import ChannelOrder
from orderkit.money import Currency, Money
from orderkit.orders import (
    Address,
    Buyer,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
)
from orderkit.pricing import Quote


_PLACED_AT = pendulum.datetime(2026, 1, 1)

SampleLine = tuple[str, int, Money | str]
"""`(sku, quantity, unit price)`; a price given as text is in the order's currency."""


def channel_order(  # noqa: PLR0913 - the lines, then keyword-only details
    lines: Iterable[SampleLine],
    *,
    order_id: str = "DY-1001",
    channel: str = "douyin",
    currency: Currency | str = "CNY",
    paid: bool = False,
    at: dt.datetime = _PLACED_AT,
    buyer: Buyer | None = None,
    address: Address | None = None,
) -> ChannelOrder:
    """One order as a channel adapter would read it, for a test that needs it.

    `channel_order([("JADE-TEAPOT", 2, "88.00")])` is two teapots ordered on
    Douyin, unpaid. Lines get ids `L1`, `L2`...; the quote states the total
    the lines cost; a paid order carries a `PaymentCaptured` of that total
    five minutes after `at`. Unless given, the buyer and the address are
    made from the channel and the order id, so two sample orders (also one
    id on two channels) are never suspected duplicates of each other. For
    many drawn orders, use `orderkit.testing.strategies.channel_orders`.

    Args:
        lines: `(sku, quantity, unit price)` of each line, at least one.
        order_id: The channel's order id.
        channel: The channel.
        currency: The currency of prices given as text.
        paid: Whether the buyer has paid.
        at: When the order was placed (timezone-aware).
        buyer: Who ordered.
        address: Where it goes.

    Raises:
        ValidationError: A line is not `(sku, quantity, unit price)`, or
            another value is invalid (naming it).

    .. versionadded:: 0.1.0
    """
    placed_at = to_utc(at, "at")
    made = [_line(n, line, currency) for n, line in enumerate(lines, 1)]
    if not made:
        raise ValidationError("lines", made, "needs at least one line")
    placed = OrderPlaced(
        order_id=order_id,
        key=IdempotencyKey(channel, "order.created", order_id, "1"),
        occurred_at=placed_at,
        channel=channel,
        # The channel too: one order id on two channels is two orders.
        buyer=Buyer(f"buyer-{channel}-{order_id}", "李雷") if buyer is None else buyer,
        address=Address(
            "CN", "浙江省", "杭州市", "西湖区", f"龙井路 {channel} {order_id} 号"
        )
        if address is None
        else address,
        lines=made,
    )
    total = sum((line.amount for line in made[1:]), made[0].amount)
    events: tuple[OrderEvent, ...] = ()
    if paid:
        events = (
            PaymentCaptured(
                order_id=order_id,
                key=IdempotencyKey(channel, "order.paid", order_id, "1"),
                occurred_at=placed_at.add(minutes=5),
                payment_id=f"PAY-{order_id}",
                amount=total,
            ),
        )
    return ChannelOrder(
        placed=placed,
        quote=Quote(order_id, channel, made, stated_total=total),
        status=OrderStatus.PAID if paid else OrderStatus.PENDING_PAYMENT,
        channel_status="paid" if paid else "unpaid",
        events=events,
    )


def _line(n: int, line: object, currency: Currency | str) -> OrderLine:
    match line:
        case (str(sku), int(quantity), Money() as price):
            return OrderLine(f"L{n}", sku, quantity, price)
        case (str(sku), int(quantity), str(price)):
            return OrderLine(f"L{n}", sku, quantity, Money(price, currency))
        case _:
            raise ValidationError(
                f"lines[{n - 1}]", line, "must be (sku, quantity, unit price)"
            )
