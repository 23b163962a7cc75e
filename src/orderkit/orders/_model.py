"""The values an order is made of: buyer, address, lines, payments, parcels."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import (
    as_tuple,
    instance_of,
    items_of,
    optional_text,
    plain_text,
    positive_int,
    positive_money,
    text,
)
from orderkit.errors import (
    CurrencyMismatch,
    EmptyOrder,
    ValidationError,
)
from orderkit.money import Money
from orderkit.orders._status import ShipmentStatus


def _captured_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "captured_at")


def _shipped_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "shipped_at")


def _pay_by(value: dt.datetime | None) -> pendulum.DateTime | None:
    return None if value is None else to_utc(value, "pay_by")


def _order_lines(value: Iterable[OrderLine]) -> tuple[OrderLine, ...]:
    return as_tuple(value, "lines", OrderLine)


def _shipment_lines(value: Iterable[ShipmentLine]) -> tuple[ShipmentLine, ...]:
    return as_tuple(value, "lines", ShipmentLine)


def check_lines(lines: tuple[OrderLine, ...]) -> None:
    """Refuse no lines, repeated line ids, and lines in two currencies."""
    if not lines:
        raise EmptyOrder("lines", lines, "an order needs at least one line")
    seen: set[str] = set()
    currency = lines[0].unit_price.currency
    for i, line in enumerate(lines):
        if line.line_id in seen:
            raise ValidationError(
                f"lines[{i}].line_id", line.line_id, "repeats an earlier line id"
            )
        seen.add(line.line_id)
        price_currency = line.unit_price.currency
        if price_currency is not currency and price_currency != currency:
            raise CurrencyMismatch(
                f"lines[{i}].unit_price", line.unit_price.currency.code, currency.code
            )


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

    buyer_id: str = attrs.field(validator=text("buyer_id"))
    name: str = attrs.field(default="", validator=plain_text("name"))
    phone: str | None = attrs.field(default=None, validator=optional_text("phone"))
    email: str | None = attrs.field(default=None, validator=optional_text("email"))


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

    country: str = attrs.field(validator=text("country"))
    province: str = attrs.field(default="", validator=plain_text("province"))
    city: str = attrs.field(default="", validator=plain_text("city"))
    district: str = attrs.field(default="", validator=plain_text("district"))
    street: str = attrs.field(default="", validator=plain_text("street"))
    postcode: str = attrs.field(default="", validator=plain_text("postcode"))
    recipient: str = attrs.field(default="", validator=plain_text("recipient"))
    phone: str | None = attrs.field(default=None, validator=optional_text("phone"))

    @country.validator
    def _check_country(self, _attribute: object, value: str) -> None:
        if len(value) != 2 or not value.isascii() or not value.isupper():
            raise ValidationError(
                "country", value, "must be an ISO 3166-1 alpha-2 code"
            )


@final
@attrs.frozen(slots=True)
class OrderLine:
    """One line of an order: a quantity of one SKU at a unit price.

    Attributes:
        line_id: The line's id, unique within the order.
        sku: The stock-keeping unit. An unstocked line still has one: the
            channel's, or one its adapter makes up (Shopify's custom items
            are `"shopify-line-<line id>"`), which the duplicate screen,
            purchase limits and price floors read as any other.
        quantity: Units ordered, a positive integer.
        unit_price: Price of one unit before discounts.
        title: The product title, as the channel showed it.
        stocked: Whether the line's units come out of the inventory ledger
            (keyword-only, `True` by default). A line with no stock behind
            it (a gift card, a service or fee, a digital download, a custom
            item without a SKU) is `False`: it is priced and paid as any
            other, but never routed, held, committed, picked or restocked,
            and a parcel need not carry it (an order whose stocked units
            have all shipped has shipped in full).

    Raises:
        InvalidQuantity: The quantity is not a positive integer.
        ValidationError: `stocked` is not a bool.

    .. versionadded:: 0.1.0
    """

    line_id: str = attrs.field(validator=text("line_id"))
    sku: str = attrs.field(validator=text("sku"))
    quantity: int = attrs.field(validator=positive_int("quantity"))
    unit_price: Money = attrs.field()
    title: str = attrs.field(default="", validator=plain_text("title"))
    stocked: bool = attrs.field(
        default=True, kw_only=True, validator=instance_of("stocked", bool)
    )

    @unit_price.validator
    def _check_price(self, _attribute: object, price: Money) -> None:
        if type(price) is not Money:
            raise ValidationError("unit_price", price, "must be a Money")
        if price.amount < 0:
            raise ValidationError("unit_price", price, "must not be negative")

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
    amount: Money = attrs.field(validator=positive_money("amount"))
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
