"""The order aggregate and the values it is made of."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import (
    instance_of,
    items_of,
    optional_text,
    plain_text,
    positive_int,
    text,
)
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import CurrencyMismatch, EmptyOrder, ValidationError
from orderkit.money import Money
from orderkit.orders._status import OrderStatus, ShipmentStatus


def _captured_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "captured_at")


def _shipped_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "shipped_at")


def _placed_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "placed_at")


def _pay_by(value: dt.datetime | None) -> pendulum.DateTime | None:
    return None if value is None else to_utc(value, "pay_by")


def _order_lines(value: Iterable[OrderLine]) -> tuple[OrderLine, ...]:
    return tuple(value)


def _shipment_lines(value: Iterable[ShipmentLine]) -> tuple[ShipmentLine, ...]:
    return tuple(value)


def _payments(value: Iterable[Payment]) -> tuple[Payment, ...]:
    return tuple(value)


def _shipments(value: Iterable[Shipment]) -> tuple[Shipment, ...]:
    return tuple(value)


@final
@attrs.frozen(slots=True)
class Buyer:
    """Who placed the order, as the channel knows them.

    Attributes:
        buyer_id: The channel's id of the buyer account.
        name: The buyer's name, as given.
        phone: The phone number as the channel sent it (possibly masked).
        email: The e-mail address, if the channel shares it.

    .. versionadded:: 0.1.0
    """

    buyer_id: str = attrs.field(validator=text("buyer.buyer_id"))
    name: str = attrs.field(default="", validator=plain_text("buyer.name"))
    phone: str | None = attrs.field(
        default=None, validator=optional_text("buyer.phone")
    )
    email: str | None = attrs.field(
        default=None, validator=optional_text("buyer.email")
    )


@final
@attrs.frozen(slots=True)
class Address:
    """A shipping address, structured as Chinese and foreign platforms send it.

    Attributes:
        country: ISO 3166-1 alpha-2 code, upper case (`"CN"`).
        province: Province, state or region (`"广东省"`).
        city: City (`"深圳市"`).
        district: District or county (`"南山区"`).
        street: Street, building and door.
        postcode: Postal code.
        recipient: Who receives the parcel, when not the buyer.
        phone: The recipient's phone as sent (possibly masked).

    .. versionadded:: 0.1.0
    """

    country: str = attrs.field(validator=text("address.country"))
    province: str = attrs.field(default="", validator=plain_text("address.province"))
    city: str = attrs.field(default="", validator=plain_text("address.city"))
    district: str = attrs.field(default="", validator=plain_text("address.district"))
    street: str = attrs.field(default="", validator=plain_text("address.street"))
    postcode: str = attrs.field(default="", validator=plain_text("address.postcode"))
    recipient: str = attrs.field(default="", validator=plain_text("address.recipient"))
    phone: str | None = attrs.field(
        default=None, validator=optional_text("address.phone")
    )

    @country.validator
    def _check_country(self, _attribute: object, value: str) -> None:
        if len(value) != 2 or not value.isascii() or not value.isupper():
            raise ValidationError(
                "address.country", value, "must be an ISO 3166-1 alpha-2 code"
            )


@final
@attrs.frozen(slots=True)
class OrderLine:
    """One line of an order: a quantity of one SKU at a unit price.

    Attributes:
        line_id: The line's id, unique within the order.
        sku: The stock-keeping unit.
        quantity: Units ordered, a positive integer.
        unit_price: Price of one unit before discounts.
        title: The product title, as the channel showed it.

    Raises:
        InvalidQuantity: The quantity is not a positive integer.

    .. versionadded:: 0.1.0
    """

    line_id: str = attrs.field(validator=text("line_id"))
    sku: str = attrs.field(validator=text("sku"))
    quantity: int = attrs.field(validator=positive_int("quantity"))
    unit_price: Money = attrs.field(validator=instance_of("unit_price", Money))
    title: str = attrs.field(default="", validator=plain_text("title"))

    @property
    def amount(self) -> Money:
        """`unit_price * quantity`, before discounts."""
        return self.unit_price * self.quantity


@final
@attrs.frozen(slots=True)
class Payment:
    """Money captured for an order.

    Attributes:
        payment_id: The payment provider's transaction id.
        amount: The amount captured.
        captured_at: When the provider captured it (UTC).

    .. versionadded:: 0.1.0
    """

    payment_id: str = attrs.field(validator=text("payment_id"))
    amount: Money = attrs.field(validator=instance_of("amount", Money))
    captured_at: pendulum.DateTime = attrs.field(converter=_captured_at)


@final
@attrs.frozen(slots=True)
class ShipmentLine:
    """A quantity of one order line inside a shipment.

    .. versionadded:: 0.1.0
    """

    line_id: str = attrs.field(validator=text("line_id"))
    quantity: int = attrs.field(validator=positive_int("quantity"))


@final
@attrs.frozen(slots=True)
class Shipment:
    """One parcel handed to a carrier, with its tracking number.

    Attributes:
        shipment_id: The warehouse's or channel's id of the shipment.
        lines: Which order lines, and how many units of each, it carries.
        carrier: The carrier's code or name (`"SF"`).
        tracking_number: The carrier's tracking number (its acknowledgement).
        shipped_at: When the carrier took the parcel (UTC).
        status: How far the parcel has come.

    .. versionadded:: 0.1.0
    """

    shipment_id: str = attrs.field(validator=text("shipment_id"))
    lines: tuple[ShipmentLine, ...] = attrs.field(
        converter=_shipment_lines, validator=items_of("lines", ShipmentLine)
    )
    carrier: str = attrs.field(validator=text("carrier"))
    tracking_number: str = attrs.field(validator=text("tracking_number"))
    shipped_at: pendulum.DateTime = attrs.field(converter=_shipped_at)
    status: ShipmentStatus = attrs.field(
        default=ShipmentStatus.SHIPPED, converter=ShipmentStatus
    )


def _keys(value: Iterable[IdempotencyKey]) -> frozenset[IdempotencyKey]:
    return value if isinstance(value, frozenset) else frozenset(value)


@final
@attrs.frozen(slots=True)
class Order:
    """The order aggregate: what was bought, by whom, and how far it has come.

    Orders are immutable; `orderkit.orders.apply` returns a new one with
    `version` one higher for every event that changed it. Build a new order
    by applying an `OrderPlaced` event to `None`; construct `Order` directly
    only to load one you stored.

    Attributes:
        order_id: The order's id, unique per channel.
        channel: The sales channel it was placed on (`"douyin"`).
        buyer: Who placed it.
        address: Where it ships.
        lines: What was ordered, at least one line, all in one currency.
        placed_at: When the buyer placed it (UTC).
        status: Where it stands.
        version: How many events have changed it; stores compare it to
            detect concurrent writers.
        pay_by: When an unpaid order may be closed, if the channel sets it.
        payments: Money captured for it.
        shipments: Parcels shipped for it.
        cancel_reason: Why it was cancelled or closed, if it was.
        applied_keys: Idempotency keys of every event applied to it.

    Raises:
        EmptyOrder: There are no lines.
        CurrencyMismatch: Lines are priced in different currencies.
        ValidationError: Line ids repeat, or a field has the wrong type.

    .. versionadded:: 0.1.0
    """

    order_id: str = attrs.field(validator=text("order_id"))
    channel: str = attrs.field(validator=text("channel"))
    buyer: Buyer = attrs.field(validator=instance_of("buyer", Buyer))
    address: Address = attrs.field(validator=instance_of("address", Address))
    lines: tuple[OrderLine, ...] = attrs.field(converter=_order_lines)
    placed_at: pendulum.DateTime = attrs.field(converter=_placed_at)
    status: OrderStatus = attrs.field(
        default=OrderStatus.PENDING_PAYMENT, converter=OrderStatus
    )
    version: int = attrs.field(default=1, validator=positive_int("version"))
    pay_by: pendulum.DateTime | None = attrs.field(default=None, converter=_pay_by)
    payments: tuple[Payment, ...] = attrs.field(default=(), converter=_payments)
    shipments: tuple[Shipment, ...] = attrs.field(default=(), converter=_shipments)
    cancel_reason: str | None = attrs.field(
        default=None, validator=optional_text("cancel_reason")
    )
    applied_keys: frozenset[IdempotencyKey] = attrs.field(
        default=frozenset(), converter=_keys
    )

    @lines.validator
    def _check_lines(self, _attribute: object, lines: tuple[OrderLine, ...]) -> None:
        if not lines:
            raise EmptyOrder("lines", lines, "an order needs at least one line")
        seen: set[str] = set()
        currency = None
        for i, line in enumerate(lines):
            if not isinstance(line, OrderLine):
                raise ValidationError(f"lines[{i}]", line, "must be an OrderLine")
            if line.line_id in seen:
                raise ValidationError(
                    f"lines[{i}].line_id", line.line_id, "repeats an earlier line id"
                )
            seen.add(line.line_id)
            if currency is None:
                currency = line.unit_price.currency
            elif line.unit_price.currency != currency:
                raise CurrencyMismatch(
                    f"lines[{i}].unit_price",
                    line.unit_price.currency.code,
                    currency.code,
                )

    @property
    def currency(self) -> str:
        """The ISO 4217 code the order is priced in."""
        return self.lines[0].unit_price.currency.code

    def line(self, line_id: str) -> OrderLine:
        """Return the line with this id.

        Raises:
            ValidationError: No line has this id.
        """
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise ValidationError(
            "line_id", line_id, f"order {self.order_id!r} has no such line"
        )

    def shipment(self, shipment_id: str) -> Shipment | None:
        """Return the shipment with this id, or `None` if there is none yet."""
        for shipment in self.shipments:
            if shipment.shipment_id == shipment_id:
                return shipment
        return None
