"""The fast path reads what the constructors read, and refuses what they refuse.

`make_converter()` reads an order with the fast readers and falls back to the
constructors; a converter configured without the readers reads through the
constructors alone. On a whole order document, written by `dumps` and then
changed in one place, both give the same value (field for field, types
included) or the same `StructureError` (path, value, problem, cause).
"""

import copy
import datetime as dt
import decimal
import enum
from decimal import Decimal
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import StructureError
from orderkit.money import Currency, Money
from orderkit.orders import Address, Buyer, Order, OrderLine, OrderStatus, Payment
from orderkit.serialization import Converter, make_converter
from orderkit.serialization._converter import _configure
from orderkit.serialization._readers import READERS
from orderkit.testing import strategies as ost


FAST = make_converter()
STDLIB = make_converter(json="stdlib")
SLOW = Converter(detailed_validation=False)
_configure(SLOW, readers=False)

PLACED = pendulum.datetime(2026, 11, 11, 0, 5, 12, tz="Asia/Shanghai")
ORDER = Order(
    order_id="DY-1001",
    channel="douyin",
    buyer=Buyer("buyer-42", "李雷", "138****8000", "lilei@example.com"),
    address=Address(
        "CN", "北京市", "北京市", "朝阳区", "建国路 88 号", "100022", "韩梅梅"
    ),
    lines=[
        OrderLine("L1", "RETRO-CLOCK", 1, Money("199.00", "CNY"), "复古闹钟"),
        OrderLine("L2", "VELVET-LAMP", 2, Money("89.50", "CNY"), "丝绒台灯"),
        OrderLine("L3", "TEAK-STOOL", 3, Money("329.00", "CNY")),
    ],
    placed_at=PLACED,
    status=OrderStatus.PAID,
    version=2,
    pay_by=PLACED.add(minutes=30),
    payments=[Payment("PAY-1", Money("1365.00", "CNY"), PLACED.add(minutes=3))],
    applied_keys=[
        IdempotencyKey("douyin", "trade.created", "DY-1001", "evt-7000"),
        IdempotencyKey("douyin", "trade.paid", "DY-1001", "evt-7001"),
    ],
)


def _shape(value: object) -> object:
    """A value with every part's type: equal shapes are equal, field for field."""
    if isinstance(value, Currency):
        return ("Currency", value.code)
    kind = type(value)
    if attrs.has(kind):
        return (kind, *(_shape(getattr(value, f.name)) for f in attrs.fields(kind)))
    if isinstance(value, Decimal):
        return (Decimal, str(value))
    if isinstance(value, dt.datetime):
        return (kind, value.isoformat(), value.tzinfo, value.fold)
    if isinstance(value, tuple | list):
        return (kind, *(_shape(item) for item in value))
    if isinstance(value, frozenset):
        return (frozenset, *sorted((_shape(item) for item in value), key=repr))
    if isinstance(value, enum.Enum):
        return (kind, value.value)
    return (kind, value)


def _outcome(converter: Converter, data: Any) -> tuple[object, ...]:
    try:
        return ("read", _shape(converter.structure(data, Order)))
    except StructureError as error:
        cause = error.__cause__
        return ("refused", error.field, repr(error.value), str(error), type(cause))


def _document() -> dict[str, Any]:
    document: dict[str, Any] = FAST.unstructure(ORDER)
    return document


def _changed(path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    document = _document()
    *parents, last = path
    target: Any = document
    for part in parents:
        target = target[part]
    target[last] = value
    return document


def test_the_sample_is_read_by_the_fast_reader() -> None:
    assert ORDER == READERS[Order](_document())


# Each place, and values around the rules the fast readers spell out again.
CHANGES: list[tuple[tuple[str | int, ...], object]] = [
    # unit prices, read in place and checked together after the loop
    (("lines", 1, "unit_price", "amount"), "89.5"),
    (("lines", 1, "unit_price", "amount"), "89.500"),
    (("lines", 1, "unit_price", "amount"), "-89.50"),
    (("lines", 1, "unit_price", "amount"), "-0.00"),
    (("lines", 1, "unit_price", "amount"), "+89.50"),
    (("lines", 1, "unit_price", "amount"), " 89.50"),
    (("lines", 1, "unit_price", "amount"), "8_9.50"),
    (("lines", 1, "unit_price", "amount"), "8.9E+1"),
    (("lines", 1, "unit_price", "amount"), "NaN"),
    (("lines", 1, "unit_price", "amount"), "89.50|1.00"),
    (("lines", 1, "unit_price", "amount"), "|"),
    (("lines", 1, "unit_price", "amount"), "\u0668\u0669.\u0665\u0660"),
    (("lines", 1, "unit_price", "amount"), "9" * 25 + ".00"),
    (("lines", 1, "unit_price", "amount"), "9" * 26 + ".00"),
    (("lines", 1, "unit_price", "amount"), "9" * 27 + ".00"),
    (("lines", 1, "unit_price", "amount"), 89.5),
    (("lines", 1, "unit_price", "amount"), 89),
    (("lines", 1, "unit_price", "amount"), None),
    (("lines", 1, "unit_price", "currency"), "USD"),
    (("lines", 1, "unit_price", "currency"), "XXX"),  # ISO 4217 "no currency"
    (("lines", 1, "unit_price", "currency"), ["CNY"]),
    (("lines", 0, "unit_price", "currency"), "JPY"),
    (("lines", 1, "unit_price"), "89.50 CNY"),
    # lines
    (("lines", 1, "line_id"), "L1"),
    (("lines", 1, "line_id"), " "),
    (("lines", 1, "line_id"), "L\t2"),
    (("lines", 1, "sku"), ""),
    (("lines", 1, "sku"), "\u3000"),
    (("lines", 1, "quantity"), 0),
    (("lines", 1, "quantity"), 2**63),
    (("lines", 1, "quantity"), True),
    (("lines", 1, "title"), "丝绒\udc00台灯"),
    (("lines", 2, "title"), "\ud800"),
    (("lines", 1, "title"), 5),
    (("lines", 1), ["L2"]),
    # buyer and address, whose text is checked joined
    (("buyer", "name"), "李\ud800雷"),
    (("buyer", "phone"), "\udfff"),
    (("buyer", "email"), 5),
    (("buyer", "buyer_id"), "  "),
    (("address", "street"), "建国路\ud83d"),
    (("address", "recipient"), None),
    (("address", "phone"), "\ud800"),
    (("address", "country"), "C\n"),
    (("address", "country"), "C "),
    (("address", "country"), "cn"),
    # instants, rebuilt from their fields
    (("placed_at",), "2026-11-10T16:05:12.000001Z"),
    (("placed_at",), "2026-11-10T16:05:12.999999+00:00"),
    (("placed_at",), "0001-01-01T00:00:00Z"),
    (("placed_at",), "9999-12-31T23:59:59.999999Z"),
    (("placed_at",), "2026-11-11T00:05:12+08:00"),
    (("placed_at",), "2026-11-10T16:05:12"),
    (("pay_by",), "2026-11-10 16:35:12Z"),
    (("payments", 0, "captured_at"), "2026-11-10T16:08:12-00:00"),
    (("payments", 0, "captured_at"), "20261110T160812Z"),
    # payments, checked as the order checks them
    (("payments", 0, "amount", "amount"), "0.00"),
    (("payments", 0, "amount", "amount"), "-1365.00"),
    (("payments", 0, "amount", "currency"), "USD"),
    (("payments", 0, "payment_id"), "PAY 1\x00"),
    (("payments",), [FAST.unstructure(ORDER.payments[0])] * 2),
    (("status",), "pending_payment"),
    (("status",), "shipped"),
    (("status",), "PAID"),
    # keys, whose parts are checked joined
    (("applied_keys", 0, "channel"), " "),
    (("applied_keys", 0, "event_type"), "trade\x1fcreated"),
    (("applied_keys", 0, "object_id"), ""),
    (("applied_keys", 1, "event_id"), "evt\u20287001"),
    (("applied_keys", 1, "event_id"), 7001),
]


@pytest.mark.parametrize(("path", "value"), CHANGES, ids=repr)
def test_one_value_changed(path: tuple[str | int, ...], value: object) -> None:
    document = _changed(path, copy.deepcopy(value))
    assert _outcome(SLOW, document) == _outcome(FAST, copy.deepcopy(document))


def test_a_price_holding_the_separator_is_refused_in_any_decimal_context() -> None:
    # Where InvalidOperation is not trapped, Decimal("1|2") is NaN, not an
    # error: the count of separators still refuses it.
    document = _changed(("lines", 1, "unit_price", "amount"), "89.50|1.00")
    expected = _outcome(SLOW, document)
    with decimal.localcontext() as context:
        context.traps[decimal.InvalidOperation] = False
        assert expected == _outcome(FAST, document)
    assert expected[0] == "refused"


def test_every_line_price_at_the_limit() -> None:
    document = _document()
    for line in document["lines"]:
        line["unit_price"]["amount"] = "9" * 25 + ".00"
    assert _outcome(SLOW, document) == _outcome(FAST, document)
    assert "read" == _outcome(FAST, document)[0]


def test_instants_are_pendulum_utc() -> None:
    order = FAST.structure(
        _changed(("placed_at",), "2026-11-10T16:05:12.000001Z"), Order
    )
    assert type(order.placed_at) is pendulum.DateTime
    assert order.placed_at.tzinfo is pendulum.UTC
    assert order.placed_at.microsecond == 1
    assert order.placed_at.fold == 0


@given(ost.orders())
def test_json_round_trip(order: Order) -> None:
    for converter in (FAST, STDLIB):
        document = converter.dumps(order)
        assert _shape(SLOW.loads(document, Order)) == _shape(
            converter.loads(document, Order)
        )
        assert order == converter.loads(document, Order)


@given(st.lists(st.sampled_from(CHANGES), min_size=2, max_size=3))
def test_several_values_changed(
    changes: list[tuple[tuple[str | int, ...], object]],
) -> None:
    document = _document()
    for path, value in changes:
        *parents, last = path
        target: Any = document
        try:
            for part in parents:
                target = target[part]
            target[last] = copy.deepcopy(value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change took the place away
    assert _outcome(SLOW, document) == _outcome(FAST, copy.deepcopy(document))


class _Text(str):
    __slots__ = ()


class _Object(dict[str, Any]):
    pass


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("lines", 1, "title"), _Text("丝绒台灯")),
        (("lines", 1, "unit_price", "amount"), _Text("89.50")),
        (("lines", 1, "unit_price"), _Object(amount="89.50", currency="CNY")),
        (("lines", 1, "line_id"), _Text("L2")),
        (("lines", 1, "quantity"), True),
        (("lines", 1), _Object(line_id="L2", sku="S", quantity=2, unit_price={})),
        (("buyer", "name"), _Text("李雷")),
        (("payments", 0, "amount", "amount"), _Text("1365.00")),
        (("applied_keys", 0, "channel"), _Text("douyin")),
        (("applied_keys", 0, "channel"), b"douyin"),
    ],
    ids=repr,
)
def test_subclasses_are_read_as_the_constructors_read_them(
    path: tuple[str | int, ...], value: object
) -> None:
    document = _changed(path, value)
    assert _outcome(SLOW, document) == _outcome(FAST, document)
