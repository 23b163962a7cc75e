"""Fast readers for the parts of an order: money, instants, and the small classes.

See `_readers` for what a fast reader promises. Each reader here checks its
value inline and builds its class without validating again (`orderkit._fast`);
any value it does not read raises, for the constructors to read instead.

The conditions spell out the validators of orderkit._validate for exact
types: `text` is `type(v) is str and v and not v.isspace() and
v.isprintable()` (str.strip() strips exactly what isspace() counts),
`plain_text` is `type(v) is str` and no lone surrogate (`is_unicode`),
`optional_text` adds None, and `positive_int` is `type(v) is int and
0 < v <= MAX_INT`. A string holds a lone surrogate exactly when one of its
characters is one, so several strings are checked at once, joined.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import re
from collections.abc import Callable
from typing import Final, NoReturn, cast

import pendulum

from orderkit._decimal import MAX_DIGITS, context
from orderkit._fast import builder, draft
from orderkit._validate import MAX_INT, is_unicode
from orderkit.dedupe import IdempotencyKey
from orderkit.money import _CURRENCIES as CURRENCIES
from orderkit.money import Money
from orderkit.orders import (
    Address,
    Buyer,
    OrderLine,
    Payment,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from orderkit.serialization._wire import Data


class Unusual(Exception):
    """Raised by a reader for a value it leaves to the constructors."""


def unusual() -> NoReturn:
    raise Unusual


# A line's parts are filled in place, in the reading loop (`_readers`); the
# other parts, a few to an order, through the builders.
MONEY: Final = draft(Money)
LINE: Final = draft(OrderLine)
_new_money: Final = builder(Money)
_new_buyer: Final = builder(Buyer)
_new_address: Final = builder(Address)
_new_payment: Final = builder(Payment)
_new_shipment_line: Final = builder(ShipmentLine)
_new_shipment: Final = builder(Shipment)
_new_key: Final = builder(IdempotencyKey)


# --------------------------------------------------------------------------
# Values


@functools.cache
def _amount_pattern(minor_units: int) -> Callable[[str], object]:
    # A plain decimal with exactly the minor unit's places: Money reads it as
    # Decimal(amount), which its quantize leaves as it is.
    fraction = rf"\.[0-9]{{{minor_units}}}" if minor_units else ""
    return re.compile(rf"-?[0-9]+{fraction}").fullmatch


# Each currency, and the pattern of an amount at its minor unit.
CURRENCY_PATTERNS: Final = {
    code: (currency, _amount_pattern(currency.minor_units))
    for code, currency in CURRENCIES.items()
}

# `Decimal(text)` for the amounts read here: faster to call, and exact
# whatever the thread's context (Money's limit of 28 digits is well within
# the precision; anything it would round, or could not read, raises).
to_decimal: Final = context(
    decimal.Inexact, decimal.Rounded, prec=2 * MAX_DIGITS
).create_decimal


# A datetime class called with what `datetime.__reduce__` gives, its fields as
# bytes and a zone, builds the same instant without parsing its arguments.
_from_fields: Final = cast(
    "Callable[[object, dt.tzinfo], pendulum.DateTime]", pendulum.DateTime
)
_UTC: Final = pendulum.UTC
_fromisoformat: Final = dt.datetime.fromisoformat
_STDLIB_UTC: Final = dt.UTC


def read_instant(o: Data) -> pendulum.DateTime:
    """An ISO 8601 string in UTC, as `structure_instant` and `to_utc` read it."""
    # A str subclass is read as a str, as structure_instant reads it.
    parsed = _fromisoformat(o)
    if parsed.tzinfo is not _STDLIB_UTC:
        unusual()
    # The same fields in pendulum's class and zone: about twice as fast as
    # reading the seven fields and passing them one by one.
    return _from_fields(parsed.__reduce__()[1][0], _UTC)


# --------------------------------------------------------------------------
# Classes


def read_buyer(o: Data) -> Buyer:
    """A `Buyer`."""
    if type(o) is not dict:
        unusual()
    get = o.get
    buyer_id = o["buyer_id"]
    name = get("name", "")
    phone = get("phone")
    email = get("email")
    if not (
        type(buyer_id) is str
        and buyer_id
        and not buyer_id.isspace()
        and buyer_id.isprintable()
        and type(name) is str
        and (phone is None or type(phone) is str)
        and (email is None or type(email) is str)
        and is_unicode(f"{name}{phone or ''}{email or ''}")
    ):
        unusual()
    return _new_buyer(buyer_id, name, phone, email)


def read_address(o: Data) -> Address:
    """An `Address`."""
    if type(o) is not dict:
        unusual()
    get = o.get  # bound once: cheaper to call, seven times
    country = o["country"]
    province = get("province", "")
    city = get("city", "")
    district = get("district", "")
    street = get("street", "")
    postcode = get("postcode", "")
    recipient = get("recipient", "")
    phone = get("phone")
    # Two printable upper-case ASCII characters pass `text` and the country check.
    if not (
        type(country) is str
        and len(country) == 2
        and country.isascii()
        and country.isupper()
        and country.isprintable()
        and not country.isspace()
        and type(province) is str
        and type(city) is str
        and type(district) is str
        and type(street) is str
        and type(postcode) is str
        and type(recipient) is str
        and (phone is None or type(phone) is str)
        and is_unicode(
            f"{province}{city}{district}{street}{postcode}{recipient}{phone or ''}"
        )
    ):
        unusual()
    return _new_address(
        country, province, city, district, street, postcode, recipient, phone
    )


def read_payment(o: Data) -> Payment:
    """A `Payment`."""
    if type(o) is not dict:
        unusual()
    payment_id = o["payment_id"]
    price = o["amount"]
    captured_at = read_instant(o["captured_at"])
    # Money(amount, currency) for a decimal string at the minor unit.
    if type(price) is not dict:
        unusual()
    currency, plain = CURRENCY_PATTERNS[price["currency"]]
    amount = price["amount"]
    if not (
        type(payment_id) is str
        and payment_id
        and not payment_id.isspace()
        and payment_id.isprintable()
        and type(amount) is str
        and len(amount) <= MAX_DIGITS
        and plain(amount)
    ):
        unusual()
    value = to_decimal(amount)
    if not value > 0:  # positive_money
        unusual()
    return _new_payment(payment_id, _new_money(value, currency), captured_at)


def read_shipment_line(o: Data) -> ShipmentLine:
    """A `ShipmentLine`."""
    if type(o) is not dict:
        unusual()
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
        unusual()
    return _new_shipment_line(line_id, quantity)


_SHIPMENT_STATUS: Final = ShipmentStatus._value2member_map_


def read_shipment(o: Data) -> Shipment:
    """A `Shipment`."""
    if type(o) is not dict:
        unusual()
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
        unusual()
    return _new_shipment(
        shipment_id,
        tuple(map(read_shipment_line, lines)),
        carrier,
        tracking_number,
        shipped_at,
        _SHIPMENT_STATUS[status],
    )


def read_keys(data: list[Data] | tuple[Data, ...]) -> frozenset[IdempotencyKey]:
    """`IdempotencyKey`s, as an `Order` holds them."""
    keys = []
    for o in data:
        if type(o) is not dict:
            unusual()
        channel = o["channel"]
        event_type = o["event_type"]
        object_id = o["object_id"]
        event_id = o["event_id"]
        if not (
            type(channel) is str
            and channel
            and not channel.isspace()
            and type(event_type) is str
            and event_type
            and not event_type.isspace()
            and type(object_id) is str
            and object_id
            and not object_id.isspace()
            and type(event_id) is str
            and event_id
            and not event_id.isspace()
            # Printable strings join to a printable string, and only they do.
            and f"{channel}{event_type}{object_id}{event_id}".isprintable()
        ):
            unusual()
        keys.append(_new_key(channel, event_type, object_id, event_id))
    return frozenset(keys)


def read_key(o: Data) -> IdempotencyKey:
    """An `IdempotencyKey` (one key is read as several are)."""
    (key,) = read_keys([o])
    return key
