"""The events that move an order through its lifecycle."""

from __future__ import annotations

import datetime as dt
from typing import final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import (
    instance_of,
    items_of,
    optional_name,
    optional_text,
    text,
)
from orderkit.dedupe import IdempotencyKey
from orderkit.money import Money
from orderkit.orders._model import (
    Address,
    Buyer,
    OrderLine,
    ShipmentLine,
    _order_lines,
    _pay_by,
    _shipment_lines,
    check_lines,
)
from orderkit.orders._tiers import non_negative_money


def _occurred_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "occurred_at")


def _source(event: Event) -> str:
    # Defaults run before validators: leave a bad key to the key's validator.
    return str(getattr(event.key, "channel", "?"))


@attrs.frozen(slots=True, kw_only=True)
class Event:
    """What every order event carries.

    Attributes:
        order_id: The order the event is about.
        key: What makes a re-delivery of this event the same event.
        occurred_at: When it happened at its source (UTC).
        actor: Who caused it: a user, a staff id or `"system"`.
        source: The system that reported it; defaults to the key's channel.

    .. versionadded:: 0.1.0
    """

    order_id: str = attrs.field(validator=text("order_id"))
    key: IdempotencyKey = attrs.field(validator=instance_of("key", IdempotencyKey))
    occurred_at: pendulum.DateTime = attrs.field(converter=_occurred_at)
    actor: str = attrs.field(default="system", validator=text("actor"))
    source: str = attrs.field(
        default=attrs.Factory(_source, takes_self=True), validator=text("source")
    )


@final
@attrs.frozen(slots=True, kw_only=True)
class OrderPlaced(Event):
    """A buyer placed an order; applied to `None` it creates the order.

    Attributes:
        channel: The sales channel.
        buyer: Who placed it.
        address: Where it ships.
        lines: What was ordered.
        pay_by: When it may be closed if still unpaid.

    .. versionadded:: 0.1.0
    """

    channel: str = attrs.field(validator=text("channel"))
    buyer: Buyer = attrs.field(validator=instance_of("buyer", Buyer))
    address: Address = attrs.field(validator=instance_of("address", Address))
    lines: tuple[OrderLine, ...] = attrs.field(
        converter=_order_lines, validator=items_of("lines", OrderLine)
    )

    @lines.validator
    def _check_lines(self, _attribute: object, lines: tuple[OrderLine, ...]) -> None:
        check_lines(lines)

    pay_by: pendulum.DateTime | None = attrs.field(default=None, converter=_pay_by)


@final
@attrs.frozen(slots=True, kw_only=True)
class PaymentCaptured(Event):
    """The payment provider captured money for the order.

    A capture of zero is a free order paid (a 100% discount, free samples,
    which channels report as paid): it moves an order awaiting payment to
    `paid` like any capture, but records no `Payment`, since nothing was
    captured; once the order is paid or ended it is `Stale`, and owes no
    refund. The lifecycle does not check that the order is free, as an order
    does not know its total after discounts: the channel adapters state a
    zero capture only for a paid order of total zero, and `FieldMap`
    refuses one for an order whose mapped total is absent or not zero.

    Attributes:
        payment_id: The provider's transaction id; a second capture event with
            the same id is the same capture.
        amount: The amount captured, in the order's currency: zero or more.

    Raises:
        ValidationError: `amount` is not a `Money`, or is negative.

    .. versionadded:: 0.1.0
    """

    payment_id: str = attrs.field(validator=text("payment_id"))
    amount: Money = attrs.field(validator=non_negative_money("amount"))


@final
@attrs.frozen(slots=True, kw_only=True)
class PickingStarted(Event):
    """The warehouse started picking the order.

    Attributes:
        location: The warehouse that picks it, if known.

    .. versionadded:: 0.1.0
    """

    location: str | None = attrs.field(
        default=None, validator=optional_text("location")
    )


@final
@attrs.frozen(slots=True, kw_only=True)
class Shipped(Event):
    """A carrier acknowledged a parcel with a tracking number.

    The order is `partially_shipped` until every unit of every stocked line
    has shipped, then `shipped`. A parcel may carry an unstocked line
    (`OrderLine.stocked` false), and need not. Once the stocked units have
    all shipped, a later parcel of unstocked lines alone (a gift card sent
    on its own) is `Stale`: it changes nothing, and is not kept. Any other
    later parcel, or one shipping more units than ordered, is refused.

    Attributes:
        shipment_id: The shipment's id; a second event with the same id is the
            same shipment.
        lines: Which lines, and how many units of each, the parcel carries.
        carrier: The carrier's code or name.
        tracking_number: The carrier's tracking number.
        location: The stock location the parcel left (a warehouse's id, as
            the inventory ledger names it), when the sender knows it; `None`
            (the default) when it does not. The order desk takes the
            parcel's units out of that location's stock; without it, it
            judges which location of a split order the parcel left.

    .. versionadded:: 0.1.0
    """

    shipment_id: str = attrs.field(validator=text("shipment_id"))
    lines: tuple[ShipmentLine, ...] = attrs.field(
        converter=_shipment_lines, validator=items_of("lines", ShipmentLine)
    )
    carrier: str = attrs.field(validator=text("carrier"))
    tracking_number: str = attrs.field(validator=text("tracking_number"))
    location: str | None = attrs.field(
        default=None, validator=optional_name("location")
    )


@final
@attrs.frozen(slots=True, kw_only=True)
class InTransit(Event):
    """The carrier reports a shipment on its way.

    The order is `in_transit` once every shipment is.

    Attributes:
        shipment_id: The shipment it is about.

    .. versionadded:: 0.1.0
    """

    shipment_id: str = attrs.field(validator=text("shipment_id"))


@final
@attrs.frozen(slots=True, kw_only=True)
class Delivered(Event):
    """The carrier reports a shipment delivered.

    The order is `delivered` once every shipment is.

    Attributes:
        shipment_id: The shipment it is about.

    .. versionadded:: 0.1.0
    """

    shipment_id: str = attrs.field(validator=text("shipment_id"))


@final
@attrs.frozen(slots=True, kw_only=True)
class Completed(Event):
    """The buyer confirmed receipt, or the channel's confirmation period ended.

    .. versionadded:: 0.1.0
    """


@final
@attrs.frozen(slots=True, kw_only=True)
class Cancelled(Event):
    """The order was cancelled before anything shipped.

    Attributes:
        reason: Why, as a person would read it.

    .. versionadded:: 0.1.0
    """

    reason: str = attrs.field(validator=text("reason"))


@final
@attrs.frozen(slots=True, kw_only=True)
class Closed(Event):
    """An unpaid order was closed after its payment deadline.

    Attributes:
        reason: Why, as a person would read it.

    .. versionadded:: 0.1.0
    """

    reason: str = attrs.field(
        default="unpaid past the payment deadline", validator=text("reason")
    )


@final
@attrs.frozen(slots=True, kw_only=True)
class AddressChanged(Event):
    """The shipping address was changed, before anything shipped.

    Attributes:
        address: The new address; the audit record keeps the old one.

    .. versionadded:: 0.1.0
    """

    address: Address = attrs.field(validator=instance_of("address", Address))


OrderEvent = (
    OrderPlaced
    | PaymentCaptured
    | PickingStarted
    | Shipped
    | InTransit
    | Delivered
    | Completed
    | Cancelled
    | Closed
    | AddressChanged
)
"""Any event `apply` accepts."""

EVENT_TYPES: tuple[type[Event], ...] = (
    OrderPlaced,
    PaymentCaptured,
    PickingStarted,
    Shipped,
    InTransit,
    Delivered,
    Completed,
    Cancelled,
    Closed,
    AddressChanged,
)
"""Every concrete event class, in lifecycle order."""
