"""Fast readers for the order aggregate: inline checks, no constructors.

Reading an `Order` through its constructors spends most of its time calling
validators and converters one field at a time. A reader here checks a value
inline and builds the instance with `orderkit._fast.builder`, and it is
stricter than the constructors: JSON's own types only (`dict`, `list`, `str`,
`int`), decimal strings at exactly the currency's minor unit, timestamps
that `datetime.fromisoformat` reads as UTC. What it accepts, the
constructors accept and build equal, field for field; anything else,
invalid or merely unusual, raises, and `attrs_hook` then reads the value
again the usual way, which accepts it or raises the error it always raised.

Each reader repeats the rules of its class. tests/test_serialization_readers.py
pins a digest of the source of those rules (the validators, converters and
checks of orderkit.orders._model and _order, money, _time), so that a change in the
domain cannot leave a reader behind, and compares fast and slow reads of
valid and broken documents.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, NoReturn

import pendulum

from orderkit._fast import builder, setters
from orderkit._validate import MAX_INT, is_unicode
from orderkit.dedupe import IdempotencyKey
from orderkit.money import _CURRENCIES as CURRENCIES
from orderkit.money import Money
from orderkit.orders import (
    Address,
    Buyer,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from orderkit.orders._order import _check_payments as check_payments
from orderkit.orders._order import _check_shipments as check_shipments
from orderkit.serialization._wire import Data


class _Unusual(Exception):
    """Raised by a reader for a value it leaves to the constructors."""


def _unusual() -> NoReturn:
    raise _Unusual


# --------------------------------------------------------------------------
# Values

_MAX_DIGITS: Final = 28  # money's limit, at the minor unit


@functools.cache
def _amount_pattern(minor_units: int) -> Callable[[str], object]:
    # A plain decimal with exactly the minor unit's places: Money reads it as
    # Decimal(amount), which its quantize leaves as it is.
    fraction = rf"\.[0-9]{{{minor_units}}}" if minor_units else ""
    return re.compile(rf"-?[0-9]+{fraction}").fullmatch


# Each currency, and the pattern of an amount at its minor unit.
_CURRENCIES: Final = {
    code: (currency, _amount_pattern(currency.minor_units))
    for code, currency in CURRENCIES.items()
}

_new_money: Final = builder(Money)


def read_money(o: Data) -> Money:
    """`Money(o["amount"], o["currency"])` for a decimal string at the minor unit."""
    if type(o) is not dict:
        _unusual()
    amount = o["amount"]
    currency, plain = _CURRENCIES[o["currency"]]
    # Within 28 characters, a plain amount has at most 28 digits.
    if type(amount) is not str or len(amount) > _MAX_DIGITS or not plain(amount):
        _unusual()
    return _new_money(Decimal(amount), currency)


_DateTime: Final = pendulum.DateTime
_UTC: Final = pendulum.UTC
_fromisoformat: Final = dt.datetime.fromisoformat


def read_instant(o: Data) -> pendulum.DateTime:
    """An ISO 8601 string in UTC, as `structure_instant` and `to_utc` read it."""
    # A str subclass is read as a str, as structure_instant reads it.
    parsed = _fromisoformat(o)
    if parsed.tzinfo is not dt.UTC:
        _unusual()
    return _DateTime(
        parsed.year,
        parsed.month,
        parsed.day,
        parsed.hour,
        parsed.minute,
        parsed.second,
        parsed.microsecond,
        _UTC,
    )


# --------------------------------------------------------------------------
# Classes
#
# The conditions spell out the validators of orderkit._validate for exact
# types: `text` is `type(v) is str and v and not v.isspace() and
# v.isprintable()` (str.strip() strips exactly what isspace() counts),
# `plain_text` is `type(v) is str`, `optional_text` adds None, and
# `positive_int` is `type(v) is int and 0 < v <= MAX_INT`.

_new_buyer: Final = builder(Buyer)


def read_buyer(o: Data) -> Buyer:
    """A `Buyer`."""
    if type(o) is not dict:
        _unusual()
    buyer_id = o["buyer_id"]
    name = o.get("name", "")
    phone = o.get("phone")
    email = o.get("email")
    if not (
        type(buyer_id) is str
        and buyer_id
        and not buyer_id.isspace()
        and buyer_id.isprintable()
        and type(name) is str
        and is_unicode(name)
        and (phone is None or (type(phone) is str and is_unicode(phone)))
        and (email is None or (type(email) is str and is_unicode(email)))
    ):
        _unusual()
    return _new_buyer(buyer_id, name, phone, email)


_new_address: Final = builder(Address)


def read_address(o: Data) -> Address:
    """An `Address`."""
    if type(o) is not dict:
        _unusual()
    country = o["country"]
    province = o.get("province", "")
    city = o.get("city", "")
    district = o.get("district", "")
    street = o.get("street", "")
    postcode = o.get("postcode", "")
    recipient = o.get("recipient", "")
    phone = o.get("phone")
    # Two printable upper-case ASCII characters pass `text` and the country check.
    if not (
        type(country) is str
        and len(country) == 2
        and country.isascii()
        and country.isupper()
        and country.isprintable()
        and not country.isspace()
        and type(province) is str
        and is_unicode(province)
        and type(city) is str
        and is_unicode(city)
        and type(district) is str
        and is_unicode(district)
        and type(street) is str
        and is_unicode(street)
        and type(postcode) is str
        and is_unicode(postcode)
        and type(recipient) is str
        and is_unicode(recipient)
        and (phone is None or (type(phone) is str and is_unicode(phone)))
    ):
        _unusual()
    return _new_address(
        country, province, city, district, street, postcode, recipient, phone
    )


_new: Final = object.__new__
_set_amount, _set_currency = setters(Money)
_set_line_id, _set_sku, _set_quantity, _set_unit_price, _set_title = setters(OrderLine)


def read_lines(data: Data) -> tuple[OrderLine, ...]:
    """Order lines as an `Order` holds them: one or more, ids unique, one currency.

    Each price is read in place, as `read_money` reads it, and each line and
    price is built in place: this loop is most of the time an order takes.
    """
    if type(data) is not list or not data:
        _unusual()
    lines = []
    ids = set()
    first = None
    for o in data:
        if type(o) is not dict:
            _unusual()
        line_id = o["line_id"]
        sku = o["sku"]
        quantity = o["quantity"]
        price = o["unit_price"]
        title = o.get("title", "")
        if type(price) is not dict:
            _unusual()
        amount = price["amount"]
        currency, plain = _CURRENCIES[price["currency"]]
        if first is None:
            first = currency
        if not (
            type(line_id) is str
            and line_id
            and not line_id.isspace()
            and line_id.isprintable()
            and type(sku) is str
            and sku
            and not sku.isspace()
            and sku.isprintable()
            and type(quantity) is int
            and 0 < quantity <= MAX_INT
            and type(title) is str
            and is_unicode(title)
            and type(amount) is str
            and len(amount) <= _MAX_DIGITS
            and amount[0] != "-"  # no negative prices (nor -0, left to Money)
            and plain(amount)
            # One Currency instance per code: `is` compares codes.
            and currency is first
        ):
            _unusual()
        ids.add(line_id)
        money = _new(Money)
        _set_amount(money, Decimal(amount))
        _set_currency(money, currency)
        line = _new(OrderLine)
        _set_line_id(line, line_id)
        _set_sku(line, sku)
        _set_quantity(line, quantity)
        _set_unit_price(line, money)
        _set_title(line, title)
        lines.append(line)
    if len(ids) != len(lines):
        _unusual()
    return tuple(lines)


def read_line(o: Data) -> OrderLine:
    """An `OrderLine` (one line passes the checks of several)."""
    return read_lines([o])[0]


_new_payment: Final = builder(Payment)


def read_payment(o: Data) -> Payment:
    """A `Payment`."""
    if type(o) is not dict:
        _unusual()
    payment_id = o["payment_id"]
    amount = read_money(o["amount"])
    captured_at = read_instant(o["captured_at"])
    if not (
        type(payment_id) is str
        and payment_id
        and not payment_id.isspace()
        and payment_id.isprintable()
        and amount.amount > 0
    ):
        _unusual()
    return _new_payment(payment_id, amount, captured_at)


_new_shipment_line: Final = builder(ShipmentLine)


def read_shipment_line(o: Data) -> ShipmentLine:
    """A `ShipmentLine`."""
    if type(o) is not dict:
        _unusual()
    line_id = o["line_id"]
    quantity = o["quantity"]
    if not (
        type(line_id) is str
        and line_id
        and not line_id.isspace()
        and line_id.isprintable()
        and type(quantity) is int
        and 0 < quantity <= MAX_INT
    ):
        _unusual()
    return _new_shipment_line(line_id, quantity)


_new_shipment: Final = builder(Shipment)
_SHIPMENT_STATUS: Final = ShipmentStatus._value2member_map_


def read_shipment(o: Data) -> Shipment:
    """A `Shipment`."""
    if type(o) is not dict:
        _unusual()
    shipment_id = o["shipment_id"]
    lines = o["lines"]
    carrier = o["carrier"]
    tracking_number = o["tracking_number"]
    shipped_at = read_instant(o["shipped_at"])
    status = o.get("status", "shipped")
    if not (
        type(shipment_id) is str
        and shipment_id
        and not shipment_id.isspace()
        and shipment_id.isprintable()
        and type(lines) is list
        and lines  # items_of refuses no lines
        and type(carrier) is str
        and carrier
        and not carrier.isspace()
        and carrier.isprintable()
        and type(tracking_number) is str
        and tracking_number
        and not tracking_number.isspace()
        and tracking_number.isprintable()
        and type(status) is str
        and status in _SHIPMENT_STATUS
    ):
        _unusual()
    return _new_shipment(
        shipment_id,
        tuple([read_shipment_line(line) for line in lines]),
        carrier,
        tracking_number,
        shipped_at,
        _SHIPMENT_STATUS[status],
    )


_new_key: Final = builder(IdempotencyKey)


def read_key(o: Data) -> IdempotencyKey:
    """An `IdempotencyKey`."""
    if type(o) is not dict:
        _unusual()
    channel = o["channel"]
    event_type = o["event_type"]
    object_id = o["object_id"]
    event_id = o["event_id"]
    if not (
        type(channel) is str
        and channel
        and not channel.isspace()
        and channel.isprintable()
        and type(event_type) is str
        and event_type
        and not event_type.isspace()
        and event_type.isprintable()
        and type(object_id) is str
        and object_id
        and not object_id.isspace()
        and object_id.isprintable()
        and type(event_id) is str
        and event_id
        and not event_id.isspace()
        and event_id.isprintable()
    ):
        _unusual()
    return _new_key(channel, event_type, object_id, event_id)


_new_order: Final = builder(Order)
_ORDER_STATUS: Final = OrderStatus._value2member_map_


def _empty(items: object) -> bool:
    return (type(items) is list or type(items) is tuple) and not items


def read_order(o: Data) -> Order:
    """An `Order`, its lines, payments and shipments checked as its constructor does."""
    if type(o) is not dict:
        _unusual()
    order_id = o["order_id"]
    channel = o["channel"]
    buyer = read_buyer(o["buyer"])
    address = read_address(o["address"])
    lines = o["lines"]
    placed_at = read_instant(o["placed_at"])
    status = o.get("status", "pending_payment")
    version = o.get("version", 1)
    pay_by = o.get("pay_by")
    payments = o.get("payments", ())
    shipments = o.get("shipments", ())
    cancel_reason = o.get("cancel_reason")
    keys = o.get("applied_keys", ())
    address_changed_at = o.get("address_changed_at")
    if not (
        type(order_id) is str
        and order_id
        and not order_id.isspace()
        and order_id.isprintable()
        and type(channel) is str
        and channel
        and not channel.isspace()
        and channel.isprintable()
        and type(status) is str
        and status in _ORDER_STATUS
        and type(version) is int
        and 0 < version <= MAX_INT
        # Absent, they are empty; the sequence hooks take lists and tuples.
        and (type(payments) is list or type(payments) is tuple)
        and (type(shipments) is list or type(shipments) is tuple)
        and (type(keys) is list or type(keys) is tuple)
        and (
            cancel_reason is None
            or (type(cancel_reason) is str and is_unicode(cancel_reason))
        )
        # Ledgers, cases and price changes are rare: the constructors read them.
        and o.get("payment_ledger") is None
        and _empty(o.get("after_sales", ()))
        and _empty(o.get("price_changes", ()))
        and _empty(o.get("parked", ()))
        and _empty(o.get("review", ()))
        and o.get("saga") is None
    ):
        _unusual()
    order = _new_order(
        order_id,
        channel,
        buyer,
        address,
        read_lines(lines),
        placed_at,
        _ORDER_STATUS[status],
        version,
        None if pay_by is None else read_instant(pay_by),
        tuple([read_payment(payment) for payment in payments]),
        tuple([read_shipment(shipment) for shipment in shipments]),
        cancel_reason,
        frozenset([read_key(key) for key in keys]),
        None if address_changed_at is None else read_instant(address_changed_at),
        None,
        (),
        (),
        (),
        (),
        None,
    )
    # The checks of Order.__attrs_post_init__; read_lines made check_lines'.
    check_payments(order)
    check_shipments(order)
    return order


# --------------------------------------------------------------------------
# Registry

Reader = Callable[[Data], Any]

# Fields a reader never reads: it leaves a value that has them to the
# constructors, so the converter's hooks for their types do not matter to it.
UNREAD: Final[dict[type, frozenset[str]]] = {
    Order: frozenset(
        {"payment_ledger", "after_sales", "price_changes", "parked", "review", "saga"}
    ),
}

READERS: Final[dict[type, Reader]] = {
    Buyer: read_buyer,
    Address: read_address,
    OrderLine: read_line,
    Payment: read_payment,
    ShipmentLine: read_shipment_line,
    Shipment: read_shipment,
    IdempotencyKey: read_key,
    Order: read_order,
}
