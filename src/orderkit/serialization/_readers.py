"""Fast readers for the order aggregate: inline checks, no constructors.

Reading an `Order` through its constructors spends most of its time calling
validators and converters one field at a time. A reader here (or in
`_parts`) checks a value inline and fills a draft of its class
(`orderkit._fast.draft`), and it is stricter than the constructors: JSON's
own types (`dict`, `list`, `str`, `int`; a line's title, price and amount may be of a
subclass, which the constructors keep or read as they are), decimal strings at
exactly the currency's minor unit, timestamps that `datetime.fromisoformat`
reads as UTC. What it accepts, the constructors accept and build equal, field
for field; anything else, invalid or merely unusual, raises, and `attrs_hook`
then reads the value again the usual way, which accepts it or raises the
error it always raised. Errors are made only there: a reader never reports.

Each reader repeats the rules of its class. tests/test_serialization_readers.py
pins a digest of the source of those rules (the validators, converters and
checks of orderkit.orders._model and _order, money, _time), so that a change in the
domain cannot leave a reader behind, and compares fast and slow reads of
valid and broken documents; tests/serialization/ adds documents broken where
the readers check several values at once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from operator import attrgetter
from typing import Any, Final

from orderkit._decimal import MAX_DIGITS
from orderkit._fast import draft
from orderkit._validate import MAX_INT, is_unicode
from orderkit.dedupe import IdempotencyKey
from orderkit.money import _CURRENCIES as CURRENCIES
from orderkit.money import Currency, Money
from orderkit.orders import (
    Address,
    Buyer,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    Shipment,
    ShipmentLine,
)
from orderkit.orders._order import _UNSHIPPED
from orderkit.orders._order import _check_shipments as check_shipments
from orderkit.serialization._parts import (
    LINE,
    MONEY,
    read_address,
    read_buyer,
    read_instant,
    read_key,
    read_keys,
    read_payment,
    read_shipment,
    read_shipment_line,
    to_decimal,
    unusual,
)
from orderkit.serialization._wire import Data


_ORDER: Final = draft(Order)
_ORDER_STATUS: Final = OrderStatus._value2member_map_
_PENDING: Final = OrderStatus.PENDING_PAYMENT
_PAYMENT_ID: Final = attrgetter("payment_id")


@functools.cache
def _prices_pattern(minor_units: int) -> Callable[[str], object]:
    """Unit prices joined by `|`: plain, not negative, at the minor unit.

    Each price within 28 characters, so with at most 28 digits, as
    `read_payment` reads an amount.
    """
    if minor_units:
        price = rf"[0-9]{{1,{MAX_DIGITS - 1 - minor_units}}}\.[0-9]{{{minor_units}}}"
    else:
        price = rf"[0-9]{{1,{MAX_DIGITS}}}"
    # Possessive: a price never gives back what it matched.
    return re.compile(rf"(?:{price}\|)*+{price}").fullmatch


# Each currency, and the pattern of its unit prices.
_PRICES: Final = {
    code: (currency, _prices_pattern(currency.minor_units))
    for code, currency in CURRENCIES.items()
}


def read_lines(data: Data) -> tuple[OrderLine, ...]:
    """Order lines as an `Order` holds them: one or more, ids unique, one currency.

    Each line and its price are built in place: this loop is most of the time
    an order takes. Prices (as `read_payment` reads an amount, and not
    negative) and titles are checked together after it.
    """
    if type(data) is not list or not data:
        unusual()
    # The first line's currency; the loop checks the shape of every line.
    # One Currency instance per code: `is` compares codes.
    currency, plain = _PRICES[data[0]["unit_price"]["currency"]]
    lines = []
    ids = set()
    amounts = []
    titles = []
    for o in data:
        if type(o) is not dict:
            unusual()
        line_id = o["line_id"]
        sku = o["sku"]
        quantity = o["quantity"]
        price = o["unit_price"]
        title = o.get("title", "")
        # Absent in orders stored before lines could be unstocked: stocked.
        stocked = o.get("stocked", True)
        # A price of another type fails to subscript; read as structure_money
        # reads it otherwise.
        if not (
            CURRENCIES[price["currency"]] is currency
            and type(line_id) is str
            and line_id
            and not line_id.isspace()
            and line_id.isprintable()
            and type(sku) is str
            and sku
            and not sku.isspace()
            and sku.isprintable()
            and type(quantity) is int
            and 0 < quantity <= MAX_INT
            and (stocked is True or stocked is False)
        ):
            unusual()
        amount = price["amount"]
        amounts.append(amount)
        titles.append(title)
        ids.add(line_id)
        # Decimal reads more than plain prices: the amounts are checked below.
        money = MONEY()
        money.amount = to_decimal(amount)
        money.currency = currency
        money.__class__ = Money
        line = LINE()
        line.line_id = line_id
        line.sku = sku
        line.quantity = quantity
        line.unit_price = money
        line.title = title
        line.stocked = stocked
        line.__class__ = OrderLine
        lines.append(line)
    # join refuses anything but strings (titles and prices are stored, or read
    # by Money, as they are); a price holding "|" shows in the count.
    prices = "|".join(amounts)
    if not (
        len(ids) == len(lines)
        and prices.count("|") == len(lines) - 1
        and plain(prices)
        and is_unicode("".join(titles))
    ):
        unusual()
    return tuple(lines)


def read_line(o: Data) -> OrderLine:
    """An `OrderLine` (one line passes the checks of several)."""
    return read_lines([o])[0]


def _read_payments(
    data: list[Data] | tuple[Data, ...], currency: Currency, status: OrderStatus
) -> tuple[Payment, ...]:
    """An order's payments, checked as `check_payments` checks them.

    Unique ids, in the lines' currency; and a paid order is not pending.
    """
    if status is _PENDING:
        unusual()
    payments = tuple(map(read_payment, data))
    for payment in payments:
        # One Currency instance per code: `is` compares codes.
        if payment.amount.currency is not currency:
            unusual()
    if len(payments) > 1 and len(set(map(_PAYMENT_ID, payments))) < len(payments):
        unusual()
    return payments


def read_order(o: Data) -> Order:
    """An `Order`, its lines, payments and shipments checked as its constructor does."""
    if type(o) is not dict:
        unusual()
    order_id = o["order_id"]
    channel = o["channel"]
    buyer = read_buyer(o["buyer"])
    address = read_address(o["address"])
    lines = read_lines(o["lines"])
    placed_at = read_instant(o["placed_at"])
    get = o.get  # bound once: cheaper to call, fourteen times
    status = get("status", "pending_payment")
    version = get("version", 1)
    pay_by = get("pay_by")
    payments = get("payments", ())
    shipments = get("shipments", ())
    cancel_reason = get("cancel_reason")
    keys = get("applied_keys", ())
    address_changed_at = get("address_changed_at")
    # Ledgers, cases, price changes and cancelled units are rare: the
    # constructors read them.
    after_sales = get("after_sales", ())
    price_changes = get("price_changes", ())
    parked = get("parked", ())
    review = get("review", ())
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
        and get("payment_ledger") is None
        and get("saga") is None
        and (type(after_sales) is list or type(after_sales) is tuple)
        and not after_sales
        and (type(price_changes) is list or type(price_changes) is tuple)
        and not price_changes
        and (type(parked) is list or type(parked) is tuple)
        and not parked
        and (type(review) is list or type(review) is tuple)
        and not review
        # Absent or empty; any other value is the constructor's to judge.
        and get("cancelled_units", ()) in ((), [])
    ):
        unusual()
    order = _ORDER()
    order.order_id = order_id
    order.channel = channel
    order.buyer = buyer
    order.address = address
    order.lines = lines
    order.placed_at = placed_at
    order.status = _ORDER_STATUS[status]
    order.version = version
    order.pay_by = None if pay_by is None else read_instant(pay_by)
    order.payments = (
        _read_payments(payments, lines[0].unit_price.currency, order.status)
        if payments
        else ()
    )
    order.shipments = tuple(map(read_shipment, shipments)) if shipments else ()
    # check_shipments without shipments: a status from before shipping.
    if not shipments and order.status not in _UNSHIPPED:
        unusual()
    order.cancel_reason = cancel_reason
    order.applied_keys = read_keys(keys)
    order.address_changed_at = (
        None if address_changed_at is None else read_instant(address_changed_at)
    )
    order.payment_ledger = None
    order.after_sales = ()
    order.price_changes = ()
    order.parked = ()
    order.review = order.cancelled_units = ()
    order.saga = None
    order.__class__ = Order
    # The checks of Order.__attrs_post_init__: read_lines made check_lines',
    # _read_payments check_payments', and the rare parts are empty.
    if shipments:
        check_shipments(order)
    return order  # type: ignore[no-any-return]


# --------------------------------------------------------------------------
# Registry

Reader = Callable[[Data], Any]

# Fields a reader never reads: it leaves a value that has them to the
# constructors, so the converter's hooks for their types do not matter to it.
UNREAD: Final[dict[type, frozenset[str]]] = {
    Order: frozenset(
        {
            "payment_ledger",
            "after_sales",
            "price_changes",
            "parked",
            "review",
            "saga",
            "cancelled_units",
        }
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
