"""A channel adapter for LiveBuy, a (fictional) live-commerce channel.

LiveBuy's order webhook states amounts in fen (integers), times in Unix
seconds and statuses as numbers. A `FieldMap` reads all three (`as =
"minor"`, `as = "unix"`, `as = "id"` with a `map`), and this webhook with
them; this adapter reads it in code, with orderkit's exact readers, to show
the port. Code is for what a spec cannot say: amounts or statuses computed
across fields, offers beyond an amount off the order, parcels and refunds,
a signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import EmptyOrder, ValidationError
from orderkit.integrations import (
    ChannelOrder,
    ChannelRecord,
    read_id,
    read_list,
    read_minor_money,
    read_object,
    read_phone,
    read_quantity,
    read_status,
    read_text,
    read_unix,
)
from orderkit.money import Money
from orderkit.orders import (
    Address,
    Buyer,
    Cancelled,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
)
from orderkit.pricing import AmountOff, Quote


CHANNEL: Final = "livebuy"
CURRENCY: Final = "CNY"
STATUSES: Final[Mapping[str, OrderStatus]] = {
    # LiveBuy's documented order states, by number.
    "1": OrderStatus.PENDING_PAYMENT,  # 待支付
    "2": OrderStatus.PAID,  # 待发货
    "3": OrderStatus.SHIPPED,  # 已发货
    "4": OrderStatus.COMPLETED,  # 已完成
    "5": OrderStatus.CANCELLED,  # 已取消
}


def read_code(value: object, *, path: str) -> str:
    """Text that names a thing (a SKU): printable, as orderkit requires."""
    code = read_text(value, path=path)
    if not code.isprintable():
        raise ValidationError(path, value, "must not contain control characters")
    return code


class LiveBuyPayloads:
    """LiveBuy's order webhook read into `ChannelOrder`s (topic `"order"`)."""

    @property
    def channel(self) -> str:
        """`"livebuy"`: the channel of every key and order."""
        return CHANNEL

    @property
    def topics(self) -> frozenset[str]:
        """The one topic LiveBuy sends: `"order"`, the whole order each time."""
        return frozenset({"order"})

    def parse(self, payload: Any, *, topic: str) -> tuple[ChannelRecord, ...]:  # noqa: ANN401 - decoded JSON
        """Read one webhook into the order it states.

        Raises:
            ValidationError: An unknown topic (`field` is `"topic"`), or a
                value that cannot be read (`field` is its payload path);
                subclasses say more (`UnknownStatus`, `InvalidMoney`...).
        """
        if topic not in self.topics:
            raise ValidationError("topic", topic, "is not a LiveBuy topic (order)")
        body = read_object(payload, path="payload")
        return (_order(read_object(body.get("order"), path="order")),)


def _order(order: Mapping[str, Any]) -> ChannelOrder:
    order_id = read_id(order.get("order_no"), path="order.order_no")
    status = read_status(order.get("status"), STATUSES, path="order.status")
    created = read_unix(order.get("create_time"), path="order.create_time")
    buyer = read_object(order.get("buyer"), path="order.buyer")
    phone = read_phone(buyer.get("mobile"), path="order.buyer.mobile", region="CN")
    lines = _lines(read_list(order.get("items"), path="order.items"))
    placed = OrderPlaced(
        order_id=order_id,
        # The order's own id and creation time: the same on every re-send.
        key=IdempotencyKey(
            CHANNEL, "order.placed", order_id, str(created.int_timestamp)
        ),
        occurred_at=created,
        channel=CHANNEL,
        buyer=Buyer(
            read_id(buyer.get("open_id"), path="order.buyer.open_id"),
            read_text(
                buyer.get("nickname"), path="order.buyer.nickname", required=False
            ),
            phone=phone,
        ),
        address=_address(read_object(order.get("post_addr"), path="order.post_addr")),
        lines=lines,
    )
    paid = read_minor_money(order.get("pay_amount"), CURRENCY, path="order.pay_amount")
    coupon = read_minor_money(
        order.get("coupon_amount", 0), CURRENCY, path="order.coupon_amount"
    )
    quote = Quote(
        order_id,
        CHANNEL,
        lines,
        offers=[AmountOff("coupon", coupon)] if coupon.minor else [],
        shipping=read_minor_money(
            order.get("post_amount", 0), CURRENCY, path="order.post_amount"
        ),
        stated_total=paid,
    )
    return ChannelOrder(
        placed=placed,
        quote=quote,
        status=status,
        channel_status=str(order["status"]),
        events=_events(order, order_id, status, paid),
    )


def _lines(items: list[Any]) -> tuple[OrderLine, ...]:
    # OrderPlaced refuses these too, but naming its own `lines`: checked
    # here, the error names the payload path.
    if not items:
        raise EmptyOrder("order.items", items, "an order needs at least one item")
    lines: list[OrderLine] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        line = _line(item, f"order.items[{i}]")
        if line.line_id in seen:
            path = f"order.items[{i}].item_id"
            raise ValidationError(path, line.line_id, "repeats an earlier item")
        seen.add(line.line_id)
        lines.append(line)
    return tuple(lines)


def _line(item: object, path: str) -> OrderLine:
    line = read_object(item, path=path)
    return OrderLine(
        read_id(line.get("item_id"), path=f"{path}.item_id"),
        read_code(line.get("sku_code"), path=f"{path}.sku_code"),
        read_quantity(line.get("count"), path=f"{path}.count"),
        read_minor_money(line.get("price"), CURRENCY, path=f"{path}.price"),
        title=read_text(line.get("title"), path=f"{path}.title", required=False),
    )


def _address(addr: Mapping[str, Any]) -> Address:
    def text(name: str) -> str:
        return read_text(addr.get(name), path=f"order.post_addr.{name}", required=False)

    return Address(
        "CN",
        text("province"),
        text("city"),
        text("town"),
        text("detail"),
        recipient=text("receiver"),
    )


def _events(
    order: Mapping[str, Any], order_id: str, status: OrderStatus, paid: Money
) -> list[OrderEvent]:
    events: list[OrderEvent] = []
    if order.get("pay_time"):
        at = read_unix(order["pay_time"], path="order.pay_time")
        events.append(
            PaymentCaptured(
                order_id=order_id,
                key=IdempotencyKey(
                    CHANNEL, "order.paid", order_id, str(at.int_timestamp)
                ),
                occurred_at=at,
                payment_id=read_id(order.get("pay_no"), path="order.pay_no"),
                amount=paid,
            )
        )
    if status is OrderStatus.CANCELLED:
        at = read_unix(order.get("cancel_time"), path="order.cancel_time")
        events.append(
            Cancelled(
                order_id=order_id,
                key=IdempotencyKey(
                    CHANNEL, "order.cancelled", order_id, str(at.int_timestamp)
                ),
                occurred_at=at,
                reason=read_text(
                    order.get("cancel_reason"), path="order.cancel_reason"
                ),
            )
        )
    return events
