"""orderkit.serialization's fast readers read exactly what the constructors read.

A converter from `make_converter()` reads the order aggregate with the fast
readers of `_readers.py` first and falls back to the constructors; one built
without them reads through the constructors alone. For every document, valid
or not, both give the same value (field for field, types included) or the
same error (class, path, value, message and cause).
"""

import copy
import datetime as dt
import enum
import hashlib
import inspect
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit import _time, _validate, money
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import StructureError
from orderkit.money import Currency, Money
from orderkit.orders import (
    Address,
    Buyer,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from orderkit.orders import _model as model
from orderkit.orders import _order as aggregate
from orderkit.serialization import Converter, make_converter
from orderkit.serialization import _values as values
from orderkit.serialization._converter import _configure
from orderkit.serialization._generated import _own_hooks_only
from orderkit.serialization._readers import READERS
from orderkit.testing import strategies as ost


FAST = make_converter()
SLOW = Converter(detailed_validation=False)
_configure(SLOW, readers=False)

# A value of any type the readers check, close to and across their rules.
EDGES: list[object] = [
    # text
    "",
    " ",
    "\u3000",
    "a\tb",
    "a\nb",
    "\u200b",
    "\x85",
    "\ud800",
    "路\udfff",
    "L1",
    "  L1  ",
    # countries
    "CN",
    "cn",
    "C",
    "CNN",
    "\uff23\uff2e",
    "C ",
    "1A",
    # quantities and versions
    0,
    -1,
    1,
    2**63 - 1,
    2**63,
    True,
    False,
    1.0,
    "3",
    # amounts
    "0",
    "0.00",
    "-0.00",
    "-1.00",
    "+1.00",
    "1.0",
    "1.000",
    ".50",
    "1.",
    "1e3",
    "1E+2",
    "1_0.00",
    " 1.00",
    "\u0661.\u0660\u0660",
    "NaN",
    "Infinity",
    "9" * 25 + ".00",
    "9" * 26 + ".00",
    "9" * 28,
    "9" * 29,
    "0" * 27 + "1.00",
    12,
    12.3,
    # currencies
    "CNY",
    "JPY",
    "KWD",
    "USD",
    "cny",
    "XXX",
    # timestamps
    "2026-11-11T08:00:00Z",
    "2026-11-11T08:00:00.5Z",
    "2026-11-11T08:00:00+00:00",
    "2026-11-11T08:00:00-00:00",
    "2026-11-11T16:00:00+08:00",
    "2026-11-11 08:00:00Z",
    "2026-11-11T08:00:00",
    "2026-11-11",
    "20261111T080000Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    # statuses
    "paid",
    "PAID",
    "shipped",
    "in_transit",
    "delivered",
    "completed",
    # shapes
    None,
    [],
    {},
    [{}],
    ["CNY"],
    {"amount": "1.00", "currency": "CNY"},
]
_EDGES = st.sampled_from(EDGES)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=2)
        | st.dictionaries(st.text(max_size=3), children, max_size=2)
    ),
    max_leaves=4,
)
_AMOUNTS = st.from_regex(r"[-+]?[0-9]{0,3}(\.[0-9]{0,4})?", fullmatch=True)
_REPLACEMENTS = _EDGES | _AMOUNTS | _JSON


def _shape(value: object) -> object:
    """A value with every part's type: equal shapes are equal, field for field."""
    if isinstance(value, Currency):
        return ("Currency", value.code, value is money._CURRENCIES[value.code])
    kind = type(value)
    if attrs.has(kind):
        fields = attrs.fields(kind)
        return (kind, *(_shape(getattr(value, f.name)) for f in fields))
    if isinstance(value, Decimal):
        return (Decimal, str(value))  # sign, digits and exponent
    if isinstance(value, dt.datetime):
        return (type(value), value.isoformat(), value.tzinfo, value.fold)
    if isinstance(value, tuple | list):
        return (type(value), *(_shape(item) for item in value))
    if isinstance(value, frozenset):
        return (frozenset, *sorted((_shape(item) for item in value), key=repr))
    if isinstance(value, enum.Enum):
        return (type(value), value.value)
    return (type(value), value)


def _outcome(converter: Converter, data: Any, cl: Any) -> tuple[object, ...]:
    try:
        return ("read", _shape(converter.structure(data, cl)))
    except StructureError as error:
        cause = error.__cause__
        return (
            "refused",
            error.field,
            repr(error.value),
            error.problem,
            str(error),
            type(cause),
            str(cause),
        )


def _hook_outcome(converter: Converter, data: Any, cl: Any) -> tuple[object, ...]:
    """What the hook itself returns or raises, before any report."""
    try:
        return ("read", _shape(converter.get_structure_hook(cl)(data, cl)))
    except Exception as error:  # noqa: BLE001 - compared whole
        return ("raised", type(error), str(error))


def _paths(
    data: Any, prefix: tuple[str | int, ...] = ()
) -> list[tuple[str | int, ...]]:
    found = [prefix]
    if isinstance(data, dict):
        for key, child in data.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(data, list):
        for index, child in enumerate(data):
            found += _paths(child, (*prefix, index))
    return found


def _type_id(cl: Any) -> str:
    return "OrderEvent" if cl is OrderEvent else cl.__name__


CLASSES = [*READERS, OrderEvent]


def test_a_plain_converter_uses_the_readers() -> None:
    # A hook of any field type a reader reads, not ours, turns the readers
    # off: the fields a reader leaves to the constructors must not.
    assert _own_hooks_only(make_converter())


def _without_parts(order: Order) -> Order:
    return attrs.evolve(order, payment_ledger=None, after_sales=(), price_changes=())


@given(ost.orders())
def test_parts_of_an_order_are_left_to_the_constructors(order: Order) -> None:
    payload = FAST.unstructure(order)
    has_parts = bool(order.payment_ledger or order.after_sales or order.price_changes)
    try:
        read_by_reader = READERS[Order](payload) == order
    except Exception:  # noqa: BLE001 - the reader's signal to take the slow path
        read_by_reader = False
    assert read_by_reader is not has_parts
    assert FAST.structure(payload, Order) == order


@pytest.mark.parametrize("cl", list(READERS), ids=_type_id)
class TestReadersRead:
    """Every valid value as written is read by the reader itself, unchanged."""

    @given(data=st.data())
    def test_reads_what_was_written(self, cl: Any, data: st.DataObject) -> None:
        strategy = ost.for_type(cl)
        if cl is Order:
            strategy = strategy.map(_without_parts)
        value = data.draw(strategy)
        payload = FAST.unstructure(value)
        read = READERS[cl](payload)  # raises if it leaves the value to the slow path
        assert value == read
        assert _shape(SLOW.structure(payload, cl)) == _shape(read)


@pytest.mark.parametrize("cl", CLASSES, ids=_type_id)
class TestSameOutcome:
    """Fast and slow converters agree on any document: one value changed or gone."""

    @given(data=st.data(), replacement=_REPLACEMENTS, delete=st.booleans())
    def test_one_value_changed(
        self, cl: Any, data: st.DataObject, replacement: object, delete: bool
    ) -> None:
        strategy = ost.events() if cl is OrderEvent else ost.for_type(cl)
        payload = FAST.unstructure(data.draw(strategy))
        path = data.draw(st.sampled_from(_paths(payload)))
        if not path:
            payload = copy.deepcopy(replacement)
        else:
            *parents, last = path
            target = payload
            for part in parents:
                target = target[part]
            if delete and isinstance(target, dict):
                del target[last]
            else:
                target[last] = copy.deepcopy(replacement)  # never one object twice
        assert _outcome(SLOW, payload, cl) == _outcome(FAST, payload, cl)
        assert _hook_outcome(SLOW, payload, cl) == _hook_outcome(FAST, payload, cl)

    @given(data=st.data(), replacements=st.lists(_EDGES, min_size=2, max_size=4))
    def test_several_values_changed(
        self, cl: Any, data: st.DataObject, replacements: list[object]
    ) -> None:
        strategy = ost.events() if cl is OrderEvent else ost.for_type(cl)
        payload = FAST.unstructure(data.draw(strategy))
        for replacement in replacements:
            paths = _paths(payload)[1:]
            if not paths:
                break
            *parents, last = data.draw(st.sampled_from(paths))
            target = payload
            for part in parents:
                target = target[part]
            target[last] = copy.deepcopy(replacement)  # never one object twice
        assert _outcome(SLOW, payload, cl) == _outcome(FAST, payload, cl)


def _order_payload() -> dict[str, Any]:
    order = Order(
        order_id="DY-1001",
        channel="douyin",
        buyer=Buyer("buyer-42"),
        address=Address("CN"),
        lines=[
            OrderLine("L1", "RETRO-CLOCK", 1, Money("199.00", "CNY")),
            OrderLine("L2", "VELVET-LAMP", 2, Money("89.50", "CNY")),
        ],
        placed_at=dt.datetime(2026, 11, 11, 8, tzinfo=dt.UTC),
    )
    payload: dict[str, Any] = FAST.unstructure(order)
    return payload


def _shipped_payload() -> dict[str, Any]:
    """An order with a value in every field: payments, a shipment, keys."""
    placed = dt.datetime(2026, 11, 11, 8, tzinfo=dt.UTC)
    order = Order(
        order_id="DY-1001",
        channel="douyin",
        buyer=Buyer("buyer-42", "李雷", "138****8000", "lilei@example.com"),
        address=Address("CN", "北京市", "北京市", "朝阳区", "建国路 88 号", "100022"),
        lines=[
            OrderLine("L1", "RETRO-CLOCK", 1, Money("199.00", "CNY"), "复古闹钟"),
            OrderLine("L2", "VELVET-LAMP", 2, Money("89.50", "CNY")),
        ],
        placed_at=placed,
        status="shipped",
        version=4,
        pay_by=placed,
        payments=[Payment("PAY-1", Money("378.00", "CNY"), placed)],
        shipments=[
            Shipment(
                "S1",
                [ShipmentLine("L1", 1), ShipmentLine("L2", 2)],
                "SF",
                "SF1001",
                placed,
            )
        ],
        cancel_reason="",
        applied_keys=[IdempotencyKey("douyin", "trade.paid", "DY-1001", "evt-7001")],
        address_changed_at=placed,
    )
    payload: dict[str, Any] = FAST.unstructure(order)
    return payload


def _at(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


# Each class, and where a value of it sits in _shipped_payload().
_PLACES: list[tuple[Any, tuple[str | int, ...]]] = [
    (Order, ()),
    (Buyer, ("buyer",)),
    (Address, ("address",)),
    (OrderLine, ("lines", 0)),
    (Payment, ("payments", 0)),
    (Shipment, ("shipments", 0)),
    (ShipmentLine, ("shipments", 0, "lines", 1)),
    (IdempotencyKey, ("applied_keys", 0)),
]


@pytest.mark.parametrize(("cl", "place"), _PLACES, ids=[c.__name__ for c, _ in _PLACES])
def test_every_edge_in_every_place(cl: Any, place: tuple[str | int, ...]) -> None:
    """Every value of EDGES, and no value, everywhere in a document: same outcome."""
    original = _at(_shipped_payload(), place)
    assert "read" == _hook_outcome(FAST, original, cl)[0]
    for path in _paths(original):
        for replacement in [*EDGES, attrs.NOTHING]:
            payload = copy.deepcopy(original)
            if not path:
                payload = copy.deepcopy(replacement)
            else:
                *parents, last = path
                target = _at(payload, tuple(parents))
                if replacement is not attrs.NOTHING:
                    target[last] = copy.deepcopy(replacement)
                elif isinstance(target, dict):
                    del target[last]
                else:
                    continue
            slow = _hook_outcome(SLOW, payload, cl)
            assert slow == _hook_outcome(FAST, payload, cl), (path, replacement)


class TestOrderRules:
    """The rules across an order's fields, which the readers check in their own way."""

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param(
                lambda p: p["lines"][1].update(line_id="L1"), id="repeated-id"
            ),
            pytest.param(
                lambda p: p["lines"][1]["unit_price"].update(currency="USD"),
                id="two-currencies",
            ),
            pytest.param(
                lambda p: p["lines"][1]["unit_price"].update(amount="89.5"),
                id="one-place",
            ),
            pytest.param(
                lambda p: p["lines"][1]["unit_price"].update(amount=89), id="int-amount"
            ),
            pytest.param(lambda p: p.update(lines=[]), id="no-lines"),
            pytest.param(lambda p: p.update(lines=()), id="lines-tuple"),
            pytest.param(lambda p: p.update(status="shipped"), id="no-shipment"),
            pytest.param(lambda p: p.update(status="paid"), id="unpaid"),
            pytest.param(
                lambda p: p.update(payments=[p["lines"][0]]), id="payment-shape"
            ),
            pytest.param(lambda p: p.update(applied_keys=None), id="keys-null"),
            pytest.param(lambda p: p.update(payments=None), id="payments-null"),
            pytest.param(lambda p: p.update(payments=()), id="payments-tuple"),
            pytest.param(lambda p: p.update(pay_by=None), id="pay-by-null"),
            pytest.param(lambda p: p.pop("status"), id="status-absent"),
            pytest.param(lambda p: p.pop("applied_keys"), id="keys-absent"),
            pytest.param(lambda p: p.pop("payments"), id="payments-absent"),
        ],
    )
    def test_same_outcome(self, change: Any) -> None:
        payload = _order_payload()
        change(payload)
        assert _outcome(SLOW, payload, Order) == _outcome(FAST, payload, Order)


class TestHostHooks:
    """A host's own hook is honoured where a reader would otherwise read the value."""

    def test_money(self) -> None:
        converter = make_converter()
        converter.register_structure_hook(Money, lambda v, _: Money(v["amount"], "USD"))
        line = {
            "line_id": "L1",
            "sku": "RETRO-CLOCK",
            "quantity": 1,
            "unit_price": {"amount": "199.00", "currency": "CNY"},
        }
        assert Money("199.00", "USD") == converter.structure(line, OrderLine).unit_price

    def test_nested_class(self) -> None:
        converter = make_converter()
        converter.register_structure_hook(Buyer, lambda _value, _type: Buyer("host"))
        payload = _order_payload()
        assert "host" == converter.structure(payload, Order).buyer.buyer_id

    @pytest.mark.parametrize("detailed", [False, True])
    def test_a_plain_type_the_constructor_checks(self, detailed: bool) -> None:
        """A `str` hook reaches the fields whose constructors check `str` too."""
        converter = make_converter(detailed=detailed)
        converter.register_structure_hook(str, lambda value, _: str(value).strip())
        payload = _order_payload()
        payload["order_id"] = " DY-1001 "
        payload["lines"][0]["line_id"] = " L1 "
        order = converter.structure(payload, Order)
        assert ("DY-1001", "L1") == (order.order_id, order.lines[0].line_id)

    @pytest.mark.parametrize("detailed", [False, True])
    def test_a_status_enum(self, detailed: bool) -> None:
        converter = make_converter(detailed=detailed)
        converter.register_structure_hook(
            ShipmentStatus, lambda value, _: ShipmentStatus(str(value).lower())
        )
        shipment = {
            "shipment_id": "S1",
            "lines": [{"line_id": "L1", "quantity": 1}],
            "tracking_number": "SF1",
            "carrier": "SF",
            "shipped_at": "2026-11-11T00:00:00Z",
            "status": "IN_TRANSIT",
        }
        assert (
            converter.structure(shipment, Shipment).status is ShipmentStatus.IN_TRANSIT
        )

    @pytest.mark.parametrize("detailed", [False, True])
    def test_extra_keys_forbidden(self, detailed: bool) -> None:
        converter = make_converter(detailed=detailed).copy(forbid_extra_keys=True)
        line = {
            "line_id": "L1",
            "sku": "RETRO-CLOCK",
            "quantity": 1,
            "unit_price": {"amount": "199.00", "currency": "CNY"},
            "titel": "a typo of title",
        }
        with pytest.raises(StructureError, match="titel"):
            converter.structure(line, OrderLine)


# What the readers repeat: if any of it changes, review _readers.py (the
# readers must still accept only what these accept, and build the same
# values), then update the digest.
MIRRORED = [
    _validate.text,
    _validate.plain_text,
    _validate.optional_text,
    _validate.positive_int,
    _validate.instance_of,
    _validate.items_of,
    _validate.as_tuple,
    _validate.positive_money,
    _time.to_utc,
    money.Currency,
    money._as_currency,
    money._as_decimal,
    money._check_size,
    Money.__init__,
    model,
    aggregate,
    IdempotencyKey,
    values.structure_instant,
    values.structure_money,
]
MIRRORED_DIGEST = "9dc4ac7e4c40a1aaab50de39ea060c0fd18ef637d2eb7a5495db51e472a9e43f"


def test_the_rules_the_readers_repeat_are_unchanged() -> None:
    source = "\n".join(inspect.getsource(item) for item in MIRRORED)  # type: ignore[arg-type]
    digest = hashlib.sha256(source.encode()).hexdigest()
    assert MIRRORED_DIGEST == digest


def test_the_readers_cover_the_classes_of_an_order() -> None:
    assert {
        Order,
        Buyer,
        Address,
        OrderLine,
        Payment,
        Shipment,
        ShipmentLine,
        IdempotencyKey,
    } == set(READERS)
