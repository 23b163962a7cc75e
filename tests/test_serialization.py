"""orderkit.serialization: the JSON wire format, round trips and read errors."""

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, Literal, get_args

import attrs
import cattrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

import orderkit.orders
from orderkit.calendar import DayWindow, day_of
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    EmptyOrder,
    IllegalTransition,
    InvalidMoney,
    NaiveDatetime,
    OrderkitError,
    StructureError,
    UnknownCurrency,
    UnknownStatus,
)
from orderkit.money import Currency, Money
from orderkit.orders import (
    Address,
    Applied,
    Batch,
    Buyer,
    Cancelled,
    Completed,
    Event,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Outcome,
    Payment,
    Rejected,
    Saga,
    ShipmentLine,
    ShipmentStatus,
    Shipped,
)
from orderkit.pricing import LimitRule, LimitScope, PurchaseContext
from orderkit.serialization import Converter, make_converter
from orderkit.serialization._wire import TAGS
from orderkit.testing import strategies as ost


CONVERTER = make_converter()
STDLIB = make_converter(json="stdlib")
DETAILED = make_converter(detailed=True)

# Singles' Day, 08:00 UTC: 16:00 in Beijing.
SINGLES_DAY = pendulum.datetime(2026, 11, 11, 8, 0, tz="UTC")
PLACED_KEY = IdempotencyKey("douyin", "trade.created", "DY-1001", "evt-7000")
PAID_KEY = IdempotencyKey("douyin", "trade.paid", "DY-1001", "evt-7001")
CLOCK_PRICE = Money("199.00", "CNY")


def _order(**changes: Any) -> Order:
    order = Order(
        order_id="DY-1001",
        channel="douyin",
        buyer=Buyer("buyer-42", "李雷", "138****8000"),
        address=Address("CN", "北京市", "北京市", "朝阳区", "建国路 88 号", "100022"),
        lines=[OrderLine("L1", "RETRO-CLOCK", 2, CLOCK_PRICE, "复古闹钟")],
        placed_at=SINGLES_DAY,
        status=OrderStatus.PAID,
        version=2,
        payments=[Payment("PAY-1", Money("398.00", "CNY"), SINGLES_DAY.add(minutes=1))],
        applied_keys=[PAID_KEY, PLACED_KEY],
    )
    return attrs.evolve(order, **changes)


def _order_payload() -> dict[str, Any]:
    """An order of three lines, as a channel adapter would hand it over."""
    return {
        "order_id": "DY-1001",
        "channel": "douyin",
        "buyer": {"buyer_id": "buyer-42", "name": "李雷"},
        "address": {"country": "CN", "province": "北京市", "city": "北京市"},
        "lines": [
            {
                "line_id": "L1",
                "sku": "RETRO-CLOCK",
                "quantity": 1,
                "unit_price": {"amount": "199.00", "currency": "CNY"},
            },
            {
                "line_id": "L2",
                "sku": "VELVET-LAMP",
                "quantity": 2,
                "unit_price": {"amount": "89.50", "currency": "CNY"},
            },
            {
                "line_id": "L3",
                "sku": "JADE-TEAPOT",
                "quantity": 1,
                "unit_price": {"amount": "12.30", "currency": "CNY"},
            },
        ],
        "placed_at": "2026-11-11T08:00:00Z",
    }


def _cancelled() -> Cancelled:
    return Cancelled(
        order_id="DY-1001",
        key=IdempotencyKey("douyin", "trade.cancelled", "DY-1001", "evt-7002"),
        occurred_at=SINGLES_DAY.add(hours=1),
        actor="buyer-42",
        reason="下错单了",
    )


# --------------------------------------------------------------------------
# Round trips


def _attrs_classes(module: Any) -> list[type]:
    found = [getattr(module, name) for name in module.__all__]
    return [obj for obj in found if isinstance(obj, type) and attrs.has(obj)]


# Rejected holds an exception, which compares by identity: it is written for
# people to read, and not read back (TestRejected).
ROUND_TRIP_TYPES: list[Any] = [
    *(cl for cl in _attrs_classes(orderkit.orders) if cl is not Rejected),
    Money,
    Currency,
    IdempotencyKey,
    OrderEvent,
    Outcome,
]


def _outcomes() -> st.SearchStrategy[Any]:
    return st.one_of([ost.for_type(member) for member in get_args(Outcome)])


def _strategy(cl: Any) -> st.SearchStrategy[Any]:
    if cl in (OrderEvent, Event):
        return ost.events()
    if cl is Outcome:
        return _outcomes()
    if cl is Batch:  # ost.for_type has no Batch strategy yet
        return st.builds(
            Batch,
            st.none() | ost.orders(),
            st.lists(_outcomes(), max_size=2).map(tuple),
            st.lists(ost.events(), max_size=2).map(tuple),
        )
    return ost.for_type(cl)


def _type_id(cl: Any) -> str:
    return {OrderEvent: "OrderEvent", Outcome: "Outcome"}.get(cl) or cl.__name__


@pytest.mark.parametrize("cl", ROUND_TRIP_TYPES, ids=_type_id)
class TestRoundTrip:
    """Every public value reads back equal to the value written, by every route."""

    # One property per type checks every route: drawing orders and outcomes
    # is what costs, so each value is drawn once.
    @given(data=st.data())
    def test_reads_back_equal(self, cl: Any, data: st.DataObject) -> None:
        value = data.draw(_strategy(cl))
        written = CONVERTER.dumps(value)
        assert value == CONVERTER.loads(written, type(value))
        assert value == CONVERTER.loads(written, cl)
        assert value == CONVERTER.structure(CONVERTER.unstructure(value), cl)
        assert value == DETAILED.structure(DETAILED.unstructure(value), type(value))
        assert written == STDLIB.dumps(value)
        assert value == STDLIB.loads(written, cl)
        # Equality ignores zones and Decimal exponents; the bytes do not.
        assert written == CONVERTER.dumps(CONVERTER.loads(written, cl))


def test_a_purchase_context_reads_back_equal() -> None:
    """Its annotations name `Address`, which a converter must be able to resolve."""
    context = PurchaseContext(
        buyer_id="buyer-42",
        channel="douyin",
        phone="+8613912345678",
        address=Address("CN", "广东省", "深圳市", street="科技园路 1 号"),
        skus=["TEA-01"],
    )
    assert context == CONVERTER.loads(CONVERTER.dumps(context), PurchaseContext)


class TestRoundTripCoverage:
    """The round-trip property reaches every public attrs class and union."""

    def test_the_types_found(self) -> None:
        expected = {
            *(cl.__name__ for cl in _attrs_classes(orderkit.orders)),
            "Money",
            "Currency",
            "IdempotencyKey",
            "OrderEvent",
            "Outcome",
        } - {"Rejected"}
        assert expected == {_type_id(cl) for cl in ROUND_TRIP_TYPES}


class TestTags:
    """The type tags stored data carries: renaming a class must not change them."""

    def test_every_event_and_outcome_keeps_its_tag(self) -> None:
        tagged = [*orderkit.orders.EVENT_TYPES, *get_args(Outcome), Rejected]
        expected = {
            "OrderPlaced": "OrderPlaced",
            "PaymentCaptured": "PaymentCaptured",
            "PickingStarted": "PickingStarted",
            "Shipped": "Shipped",
            "InTransit": "InTransit",
            "Delivered": "Delivered",
            "Completed": "Completed",
            "Cancelled": "Cancelled",
            "Closed": "Closed",
            "AddressChanged": "AddressChanged",
            "Applied": "Applied",
            "Duplicate": "Duplicate",
            "Stale": "Stale",
            "Early": "Early",
            "RefundDue": "RefundDue",
            "Rejected": "Rejected",
        }
        assert expected == {cl.__name__: TAGS[cl] for cl in tagged}


# --------------------------------------------------------------------------
# The wire format


class TestWireFormat:
    """The exact bytes orderkit writes, pinned."""

    def test_money_amount_is_a_string(self) -> None:
        expected = b'{"amount":"199.00","currency":"CNY"}'
        assert expected == CONVERTER.dumps(CLOCK_PRICE)

    @pytest.mark.parametrize(
        ("money", "expected"),
        [
            (Money("1500", "JPY"), b'{"amount":"1500","currency":"JPY"}'),
            (Money("-0.5", "KWD"), b'{"amount":"-0.500","currency":"KWD"}'),
        ],
    )
    def test_amount_keeps_the_minor_unit(self, money: Money, expected: bytes) -> None:
        assert expected == CONVERTER.dumps(money)

    def test_currency_is_its_code(self) -> None:
        assert b'"CNY"' == CONVERTER.dumps(Currency("CNY"))

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (Decimal("12.30"), b'"12.30"'),
            (Decimal("1E+3"), b'"1000"'),
            (Decimal("-0.05"), b'"-0.05"'),
        ],
    )
    def test_decimal_is_a_plain_string(self, value: Decimal, expected: bytes) -> None:
        assert expected == CONVERTER.dumps(value)

    @pytest.mark.parametrize(
        ("instant", "expected"),
        [
            (SINGLES_DAY, b'"2026-11-11T08:00:00Z"'),
            (SINGLES_DAY.add(microseconds=250), b'"2026-11-11T08:00:00.000250Z"'),
            (
                pendulum.datetime(2026, 11, 11, 16, 0, tz="Asia/Shanghai"),
                b'"2026-11-11T08:00:00Z"',
            ),
        ],
    )
    def test_instant_is_utc_with_z(
        self, instant: pendulum.DateTime, expected: bytes
    ) -> None:
        assert expected == CONVERTER.dumps(instant)

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            (OrderStatus.IN_TRANSIT, b'"in_transit"'),
            (OrderStatus.PENDING_PAYMENT, b'"pending_payment"'),
            (ShipmentStatus.DELIVERED, b'"delivered"'),
        ],
    )
    def test_enum_is_its_value(
        self, status: OrderStatus | ShipmentStatus, expected: bytes
    ) -> None:
        assert expected == CONVERTER.dumps(status)
        assert expected.strip(b'"').decode() == CONVERTER.unstructure(status)
        assert type(CONVERTER.unstructure(status)) is str

    def test_event_carries_its_tag_first(self) -> None:
        expected = (
            '{"type":"Cancelled","order_id":"DY-1001",'
            '"key":{"channel":"douyin","event_type":"trade.cancelled",'
            '"object_id":"DY-1001","event_id":"evt-7002"},'
            '"occurred_at":"2026-11-11T09:00:00Z","actor":"buyer-42",'
            '"source":"douyin","reason":"下错单了"}'
        ).encode()
        assert expected == CONVERTER.dumps(_cancelled())

    def test_order(self) -> None:
        expected = (
            '{"order_id":"DY-1001","channel":"douyin",'
            '"buyer":{"buyer_id":"buyer-42","name":"李雷",'
            '"phone":"138****8000","email":null},'
            '"address":{"country":"CN","province":"北京市","city":"北京市",'
            '"district":"朝阳区","street":"建国路 88 号","postcode":"100022",'
            '"recipient":"","phone":null},'
            '"lines":[{"line_id":"L1","sku":"RETRO-CLOCK","quantity":2,'
            '"unit_price":{"amount":"199.00","currency":"CNY"},'
            '"title":"复古闹钟"}],'
            '"placed_at":"2026-11-11T08:00:00Z","status":"paid","version":2,'
            '"pay_by":null,'
            '"payments":[{"payment_id":"PAY-1",'
            '"amount":{"amount":"398.00","currency":"CNY"},'
            '"captured_at":"2026-11-11T08:01:00Z"}],'
            '"shipments":[],"cancel_reason":null,'
            '"applied_keys":['
            '{"channel":"douyin","event_type":"trade.created",'
            '"object_id":"DY-1001","event_id":"evt-7000"},'
            '{"channel":"douyin","event_type":"trade.paid",'
            '"object_id":"DY-1001","event_id":"evt-7001"}],'
            '"address_changed_at":null,"payment_ledger":null,'
            '"after_sales":[],"price_changes":[],"parked":[],"review":[],'
            '"saga":null}'
        ).encode()
        assert expected == CONVERTER.dumps(_order())
        assert expected == STDLIB.dumps(_order())

    def test_an_order_with_parked_events_a_review_and_a_saga(self) -> None:
        shipped = Shipped(
            order_id="DY-1001",
            key=IdempotencyKey("douyin", "wms.shipped", "DY-1001", "evt-7009"),
            occurred_at=pendulum.datetime(2026, 11, 11, 9),
            shipment_id="S1",
            lines=[ShipmentLine("L1", 2)],
            carrier="SF",
            tracking_number="SF1400123456",
        )
        saga = Saga(
            name="refund",
            step="requested",
            key="refund:order:douyin:DY-1001:3",
            started_at=pendulum.datetime(2026, 11, 11, 10),
            amount=Money("398.00", "CNY"),
            reference="PAY-1",
        )
        order = attrs.evolve(_order(), parked=[shipped], review=("pricing",), saga=saga)
        for converter in (CONVERTER, STDLIB):
            assert converter.loads(converter.dumps(order), Order) == order

    def test_sets_are_sorted_whatever_the_iteration_order(self) -> None:
        keys = [
            IdempotencyKey("douyin", "trade.paid", "DY-1001", f"evt-{n}")
            for n in range(9, 0, -1)
        ]
        written = CONVERTER.unstructure(_order(applied_keys=keys))["applied_keys"]
        expected = [f"evt-{n}" for n in range(1, 10)]
        assert expected == [key["event_id"] for key in written]

    def test_tuples_are_lists(self) -> None:
        lines = CONVERTER.unstructure(_order())["lines"]
        assert type(lines) is list


# --------------------------------------------------------------------------
# Reading


class TestReading:
    """Data is read through the domain's constructors, and nothing is coerced."""

    def test_offset_timestamps_become_utc(self) -> None:
        actual = CONVERTER.loads(b'"2026-11-11T16:00:00+08:00"', pendulum.DateTime)
        assert SINGLES_DAY == actual
        assert pendulum.UTC is actual.tzinfo

    def test_z_timestamps_are_pendulum_utc(self) -> None:
        actual = CONVERTER.loads(b'"2026-11-11T08:00:00.000250Z"', pendulum.DateTime)
        assert SINGLES_DAY.add(microseconds=250) == actual
        assert pendulum.UTC is actual.tzinfo
        assert type(actual) is pendulum.DateTime

    def test_events_are_read_by_their_tag(self) -> None:
        written = CONVERTER.dumps(_cancelled())
        for cl in (OrderEvent, Event, Cancelled):
            actual = CONVERTER.loads(written, cl)
            assert _cancelled() == actual
            assert type(actual) is Cancelled

    def test_outcomes_are_read_by_their_tag(self) -> None:
        applied = Applied(_order(), (), _cancelled())
        actual = CONVERTER.loads(CONVERTER.dumps(applied), Outcome)
        assert applied == actual

    def test_unknown_keys_are_ignored(self) -> None:
        payload = {**_order_payload(), "promotion": "双十一"}
        assert "DY-1001" == CONVERTER.structure(payload, Order).order_id

    def test_integer_amounts_are_accepted_as_money_accepts_them(self) -> None:
        actual = CONVERTER.structure({"amount": 199, "currency": "CNY"}, Money)
        assert CLOCK_PRICE == actual

    def test_str_input_is_accepted(self) -> None:
        written = CONVERTER.dumps(_order()).decode()
        assert _order() == CONVERTER.loads(written, Order)

    def test_defaults_apply_to_absent_fields(self) -> None:
        order = CONVERTER.structure(_order_payload(), Order)
        expected: tuple[object, ...] = (OrderStatus.PENDING_PAYMENT, 1, (), frozenset())
        assert expected == (
            order.status,
            order.version,
            order.payments,
            order.applied_keys,
        )

    def test_event_source_defaults_to_the_key_channel(self) -> None:
        data = CONVERTER.unstructure(_cancelled())
        del data["source"]
        assert "douyin" == CONVERTER.structure(data, OrderEvent).source


# --------------------------------------------------------------------------
# Errors


@pytest.fixture(params=["fast", "detailed"])
def converter(request: pytest.FixtureRequest) -> Converter:
    return CONVERTER if request.param == "fast" else DETAILED


def _refused(converter: Converter, data: Any, cl: Any) -> StructureError:
    with pytest.raises(StructureError) as caught:
        converter.structure(data, cl)
    assert isinstance(caught.value, OrderkitError)
    return caught.value


def _payload_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    payload = _order_payload()
    change(payload)
    return payload


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """`_set("lines.2.quantity", 3)` sets payload["lines"][2]["quantity"]."""
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]

    def change(payload: dict[str, Any]) -> None:
        target: Any = payload
        for part in parents:
            target = target[part]
        if value is attrs.NOTHING:
            del target[last]
        else:
            target[last] = value

    return change


class TestStructureErrors:
    """Bad data raises StructureError with the path from the top and the value."""

    def test_float_amount(self, converter: Converter) -> None:
        payload = _payload_with(_set("lines.2.unit_price.amount", 12.3))
        error = _refused(converter, payload, Order)
        assert "lines[2].unit_price.amount" == error.field
        assert 12.3 == error.value
        assert isinstance(error, OrderkitError)
        assert isinstance(error, ValueError)
        assert isinstance(error.__cause__, InvalidMoney)
        assert "lines[2].unit_price.amount" in str(error)
        assert "12.3" in str(error)
        assert "Order" == error.type_name

    def test_missing_field(self, converter: Converter) -> None:
        payload = _payload_with(_set("lines.1.sku", attrs.NOTHING))
        error = _refused(converter, payload, Order)
        assert "lines[1].sku" == error.field
        assert attrs.NOTHING is error.value
        assert "missing" in str(error)

    def test_missing_money_part(self, converter: Converter) -> None:
        payload = _payload_with(_set("lines.0.unit_price.currency", attrs.NOTHING))
        error = _refused(converter, payload, Order)
        assert "lines[0].unit_price.currency" == error.field

    @pytest.mark.parametrize(
        "timestamp", ["2026-11-11T08:00:00", "2026-11-11 08:00:00", "2026-11-11"]
    )
    def test_naive_timestamp(self, converter: Converter, timestamp: str) -> None:
        error = _refused(converter, _payload_with(_set("placed_at", timestamp)), Order)
        assert "placed_at" == error.field
        assert timestamp == error.value
        assert isinstance(error.__cause__, NaiveDatetime)

    def test_naive_timestamp_in_an_optional_field(self, converter: Converter) -> None:
        payload = _payload_with(_set("pay_by", "2026-11-11T08:30:00"))
        assert "pay_by" == _refused(converter, payload, Order).field

    @pytest.mark.parametrize("timestamp", ["yesterday", 1762848000, None])
    def test_not_a_timestamp(self, converter: Converter, timestamp: object) -> None:
        error = _refused(converter, _payload_with(_set("placed_at", timestamp)), Order)
        assert "placed_at" == error.field
        assert timestamp == error.value

    def test_unknown_currency(self, converter: Converter) -> None:
        payload = _payload_with(_set("lines.0.unit_price.currency", "XYZ"))
        error = _refused(converter, payload, Order)
        assert "lines[0].unit_price.currency" == error.field
        assert "XYZ" == error.value
        assert isinstance(error.__cause__, UnknownCurrency)

    def test_unknown_status(self, converter: Converter) -> None:
        error = _refused(converter, _payload_with(_set("status", "teleported")), Order)
        assert "status" == error.field
        assert "teleported" == error.value
        assert isinstance(error.__cause__, UnknownStatus)

    def test_unknown_shipment_status(self, converter: Converter) -> None:
        shipment = {
            "shipment_id": "S1",
            "lines": [{"line_id": "L1", "quantity": 1}],
            "carrier": "SF",
            "tracking_number": "SF1234567890",
            "shipped_at": "2026-11-12T02:00:00Z",
            "status": "lost_in_space",
        }
        payload = _payload_with(_set("shipments", [shipment]))
        error = _refused(converter, payload, Order)
        assert "shipments[0].status" == error.field
        assert isinstance(error.__cause__, UnknownStatus)

    def test_unknown_event_tag(self, converter: Converter) -> None:
        data = {**CONVERTER.unstructure(_cancelled()), "type": "Teleported"}
        error = _refused(converter, data, OrderEvent)
        assert "type" == error.field
        assert "Teleported" == error.value
        assert "OrderEvent" == error.type_name

    def test_missing_event_tag(self, converter: Converter) -> None:
        data = CONVERTER.unstructure(_cancelled())
        del data["type"]
        error = _refused(converter, data, OrderEvent)
        assert "type" == error.field
        assert attrs.NOTHING is error.value

    def test_another_class_tag(self, converter: Converter) -> None:
        data = CONVERTER.unstructure(_cancelled())
        error = _refused(converter, data, Completed)
        assert "type" == error.field
        assert "Cancelled" == error.value

    def test_nested_event_path(self, converter: Converter) -> None:
        applied = CONVERTER.unstructure(Applied(_order(), (), _cancelled()))
        applied["event"]["occurred_at"] = "2026-11-11T09:00:00"
        error = _refused(converter, applied, Outcome)
        assert "event.occurred_at" == error.field

    @pytest.mark.parametrize(
        ("path", "value"),
        [
            ("lines.0.sku", 5),
            ("lines.0.quantity", "3"),
            ("lines.0.quantity", 3.0),
            ("lines.0.quantity", True),
            ("version", True),
            ("cancel_reason", 5),
            ("buyer.name", None),
        ],
    )
    def test_no_coercion(self, converter: Converter, path: str, value: object) -> None:
        error = _refused(converter, _payload_with(_set(path, value)), Order)
        expected = path.replace(".0.", "[0].")
        assert expected == error.field
        assert value == error.value

    def test_unchecked_text_is_not_coerced(self, converter: Converter) -> None:
        data = {"field": "address", "old": 5, "new": "朝阳区"}
        error = _refused(converter, data, orderkit.orders.FieldChange)
        assert "old" == error.field

    def test_empty_order(self, converter: Converter) -> None:
        error = _refused(converter, _payload_with(_set("lines", [])), Order)
        assert "lines" == error.field
        assert isinstance(error.__cause__, EmptyOrder)

    def test_lines_not_a_list(self, converter: Converter) -> None:
        error = _refused(converter, _payload_with(_set("lines", "RETRO-CLOCK")), Order)
        assert "lines" == error.field
        assert "RETRO-CLOCK" == error.value

    def test_not_an_object(self, converter: Converter) -> None:
        error = _refused(converter, _payload_with(_set("buyer", ["buyer-42"])), Order)
        assert "buyer" == error.field
        assert ["buyer-42"] == error.value

    @pytest.mark.parametrize(
        ("path", "value", "expected"),
        [
            ("buyer.buyer_id", "", "buyer.buyer_id"),
            ("address.country", "china", "address.country"),
            ("lines.1.line_id", "L1", "lines[1].line_id"),
            ("lines.1.unit_price.currency", "USD", "lines[1].unit_price"),
            ("lines.2.quantity", 0, "lines[2].quantity"),
        ],
    )
    def test_domain_rules(
        self, converter: Converter, path: str, value: object, expected: str
    ) -> None:
        error = _refused(converter, _payload_with(_set(path, value)), Order)
        assert expected == error.field
        assert isinstance(error.__cause__, OrderkitError)

    def test_invalid_json(self) -> None:
        with pytest.raises(StructureError) as caught:
            CONVERTER.loads(b'{"order_id": "DY-1001"', Order)
        assert "" == caught.value.field
        assert isinstance(caught.value.__cause__, ValueError)

    def test_fast_and_detailed_paths_agree(self) -> None:
        payload = _payload_with(_set("lines.2.unit_price.amount", 12.3))
        fast = _refused(CONVERTER, payload, Order)
        detailed = _refused(DETAILED, payload, Order)
        assert (str(detailed), detailed.field) == (str(fast), fast.field)

    def test_a_report_reads_with_the_hooks_registered_on_the_converter(self) -> None:
        """A host's own hook for Money is honoured when the path is worked out."""
        converter = make_converter()
        converter.register_structure_hook(Money, lambda v, _: Money(*v.split()))
        line = {
            "line_id": "L1",
            "sku": "RETRO-CLOCK",
            "quantity": 0,
            "unit_price": "199.00 CNY",
            "title": "",
        }

        refused = _refused(converter, line, OrderLine)

        assert ("quantity", 0) == (refused.field, refused.value)


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False)
    | st.text(max_size=4)
    | st.sampled_from(["", "CNY", "paid", "12.30", "Shipped", "2026-11-11T08:00:00"]),
    lambda children: (
        st.lists(children, max_size=2)
        | st.dictionaries(st.text(max_size=3), children, max_size=2)
    ),
    max_leaves=4,
)


def _paths(
    data: Any, prefix: tuple[str | int, ...] = ()
) -> list[tuple[str | int, ...]]:
    """Where every value sits in unstructured data, the top included."""
    found = [prefix]
    if isinstance(data, dict):
        for key, child in data.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(data, list):
        for index, child in enumerate(data):
            found += _paths(child, (*prefix, index))
    return found


def _outcome(converter: Converter, data: Any, cl: Any) -> tuple[object, ...]:
    try:
        return ("read", converter.structure(data, cl))
    except StructureError as error:
        return ("refused", error.field, str(error))


class TestFastPath:
    """The fast path accepts and refuses exactly what the detailed path does."""

    @pytest.mark.parametrize(
        ("cl", "values"),
        [(Order, ost.orders()), (OrderEvent, ost.events())],
        ids=["Order", "OrderEvent"],
    )
    @given(data=st.data(), replacement=_JSON_VALUES, delete=st.booleans())
    def test_one_value_changed(
        self,
        cl: Any,
        values: st.SearchStrategy[Any],
        data: st.DataObject,
        replacement: object,
        delete: bool,
    ) -> None:
        payload = CONVERTER.unstructure(data.draw(values))
        *parents, last = data.draw(st.sampled_from(_paths(payload)[1:]))
        target = payload
        for part in parents:
            target = target[part]
        if delete and isinstance(target, dict):
            del target[last]
        else:
            target[last] = replacement
        assert _outcome(DETAILED, payload, cl) == _outcome(CONVERTER, payload, cl)


class TestExplainingAFailure:
    """A failed read is explained by a detailed twin: made once, remade after a hook."""

    LINE: Final = {
        "line_id": "L1",
        "sku": "RETRO-CLOCK",
        "quantity": "1",  # text is never a quantity
        "unit_price": {"amount": "199.00", "currency": "CNY"},
    }

    def test_the_twin_is_made_once_for_many_failures(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        converter = make_converter()
        copies = 0
        copy = Converter.copy

        def counted(self: Converter, *args: Any, **kwargs: Any) -> Converter:
            nonlocal copies
            copies += 1
            return copy(self, *args, **kwargs)

        monkeypatch.setattr(Converter, "copy", counted)
        for _ in range(3):
            with pytest.raises(StructureError, match="quantity"):
                converter.structure(self.LINE, OrderLine)
        assert copies == 1

    def test_a_hook_registered_later_explains_the_next_failure(self) -> None:
        converter = make_converter()
        with pytest.raises(StructureError) as before:
            converter.structure(self.LINE, OrderLine)

        def sku(_value: object, _type: object) -> str:
            raise ValueError("the host refuses every SKU")

        converter.register_structure_hook(str, sku)
        with pytest.raises(StructureError) as after:
            converter.structure(self.LINE, OrderLine)
        assert "host refuses" not in str(before.value)
        assert "host refuses" in str(after.value)


class TestRejected:
    """A rejected event's error is written for people, and not read back."""

    def _rejected(self) -> Rejected:
        error = IllegalTransition("DY-1001", "cancelled", "Shipped", "it was cancelled")
        return Rejected(_order(), _cancelled(), error)

    def test_error_is_written_as_its_class_and_message(self) -> None:
        expected = {
            "type": "IllegalTransition",
            "message": "order 'DY-1001' in status 'cancelled' cannot take Shipped: "
            "it was cancelled",
        }
        assert expected == CONVERTER.unstructure(self._rejected())["error"]

    def test_in_a_batch(self) -> None:
        batch = Batch(_order(), (self._rejected(),), ())
        written = CONVERTER.unstructure(batch)
        assert "Rejected" == written["outcomes"][0]["type"]

    def test_reading_it_back_is_refused(self, converter: Converter) -> None:
        data = CONVERTER.unstructure(self._rejected())
        error = _refused(converter, data, Rejected)
        assert "error" == error.field


# --------------------------------------------------------------------------
# Converters


class TestMakeConverter:
    """Each call returns a new, independent, configured converter."""

    def test_each_call_returns_a_new_converter(self) -> None:
        first, second = make_converter(), make_converter()
        assert first is not second
        first.register_unstructure_hook(Money, str)
        assert b'"199.00 CNY"' == first.dumps(CLOCK_PRICE)
        assert b'{"amount":"199.00","currency":"CNY"}' == second.dumps(CLOCK_PRICE)

    def test_it_is_a_cattrs_converter(self) -> None:
        assert isinstance(make_converter(), cattrs.Converter)

    def test_fast_by_default(self) -> None:
        assert not make_converter().detailed_validation
        assert make_converter(detailed=True).detailed_validation

    @pytest.mark.parametrize(
        ("choice", "expected"),
        [("auto", "orjson"), ("orjson", "orjson"), ("stdlib", "stdlib")],
    )
    def test_json_backend(self, choice: Any, expected: str) -> None:
        assert expected == make_converter(json=choice).json_backend

    def test_unknown_json_backend(self) -> None:
        with pytest.raises(ValueError, match="simplejson"):
            make_converter(json="simplejson")  # type: ignore[arg-type]

    def test_copy_keeps_the_backend_and_the_hooks(self) -> None:
        copied = STDLIB.copy()
        assert "stdlib" == copied.json_backend
        assert CONVERTER.dumps(_order()) == copied.dumps(_order())

    def test_a_copy_builds_its_hooks_from_its_own_registrations(self) -> None:
        line = OrderLine("L1", "RETRO-CLOCK", 2, CLOCK_PRICE)
        original = make_converter()
        original.unstructure(line)
        copied = original.copy()
        copied.register_unstructure_hook(Money, str)
        assert "199.00 CNY" == copied.unstructure(line)["unit_price"]
        assert {"amount": "199.00", "currency": "CNY"} == (
            original.unstructure(line)["unit_price"]
        )

    def test_stdlib_json_is_the_same_document(self) -> None:
        expected = json.loads(CONVERTER.dumps(_order()))
        assert expected == json.loads(STDLIB.dumps(_order()))


class TestShipped:
    """A Shipped event writes its parcel lines as a list, under its tag."""

    def test_lines_are_a_list(self) -> None:
        event = Shipped(
            order_id="DY-1001",
            key=IdempotencyKey("douyin", "wms.shipped", "DY-1001", "S1"),
            occurred_at=SINGLES_DAY.add(days=1),
            shipment_id="S1",
            lines=[ShipmentLine("L1", 2)],
            carrier="SF",
            tracking_number="SF1234567890",
        )
        data = CONVERTER.unstructure(event)
        assert [{"line_id": "L1", "quantity": 2}] == data["lines"]
        assert "Shipped" == data["type"]


class TestStdlibJson:
    """The standard-library path refuses what orjson refuses, with a typed error."""

    @pytest.mark.parametrize(
        "document", [b'{"amount": NaN}', b"[" * 100_000, b'{"x": Infinity}']
    )
    def test_not_json_is_a_structure_error(self, document: bytes) -> None:
        converter = make_converter(json="stdlib")

        with pytest.raises(StructureError) as caught:
            converter.loads(document, Money)

        assert "" == caught.value.field

    def test_not_text_is_a_structure_error(self) -> None:
        with pytest.raises(StructureError):
            make_converter(json="stdlib").loads(None, Money)  # type: ignore[call-overload]


class TestCountsFitSixtyFourBits:
    """A count every JSON library and store holds exactly; larger is refused."""

    def test_a_quantity_beyond_64_bits_is_refused(self) -> None:
        with pytest.raises(StructureError) as caught:
            CONVERTER.structure(
                {
                    "line_id": "L1",
                    "sku": "RETRO-CLOCK",
                    "quantity": 2**63,
                    "unit_price": {"amount": "1.00", "currency": "CNY"},
                },
                OrderLine,
            )

        assert "quantity" == caught.value.field


@pytest.mark.parametrize("backend", ["orjson", "stdlib"])
class TestLargeIntegersInJson:
    """Both JSON readers judge an integer by its value, whatever its size."""

    def test_an_integer_amount_beyond_64_bits_is_read_exactly(
        self, backend: Literal["orjson", "stdlib"]
    ) -> None:
        document = b'{"amount": 18446744073709551616, "currency": "CNY"}'

        money = make_converter(json=backend).loads(document, Money)

        assert Money(Decimal(2**64), "CNY") == money

    def test_a_quantity_beyond_64_bits_is_refused_for_its_size(
        self, backend: Literal["orjson", "stdlib"]
    ) -> None:
        document = (
            b'{"line_id": "L1", "sku": "RETRO-CLOCK", "quantity": 18446744073709551616,'
            b' "unit_price": {"amount": "1.00", "currency": "CNY"}}'
        )

        with pytest.raises(StructureError) as caught:
            make_converter(json=backend).loads(document, OrderLine)

        assert "quantity" == caught.value.field
        assert "2**63 - 1" in str(caught.value)

    def test_a_float_amount_is_still_refused(
        self, backend: Literal["orjson", "stdlib"]
    ) -> None:
        with pytest.raises(StructureError, match="floats are not exact"):
            make_converter(json=backend).loads(
                b'{"amount": 1.5, "currency": "CNY"}', Money
            )


class TestDurations:
    """A `timedelta` is an ISO 8601 duration in days and the day's time."""

    @pytest.mark.parametrize(
        ("duration", "text"),
        [
            (dt.timedelta(0), "PT0S"),
            (dt.timedelta(days=1), "P1D"),
            (dt.timedelta(minutes=30), "PT30M"),
            (
                dt.timedelta(days=2, hours=3, seconds=5, microseconds=500),
                "P2DT3H5.0005S",
            ),
            (-dt.timedelta(hours=1), "-PT1H"),
        ],
    )
    def test_written_in_its_shortest_form(
        self, duration: dt.timedelta, text: str
    ) -> None:
        assert CONVERTER.unstructure(duration) == text
        assert CONVERTER.structure(text, dt.timedelta) == duration

    @given(st.timedeltas())
    def test_reads_back_equal(self, duration: dt.timedelta) -> None:
        written = CONVERTER.dumps(duration)
        assert CONVERTER.loads(written, dt.timedelta) == duration
        assert STDLIB.loads(written, dt.timedelta) == duration

    @pytest.mark.parametrize(
        ("text", "expected"),
        [("P1W", dt.timedelta(weeks=1)), ("PT1,5S", dt.timedelta(seconds=1.5))],
    )
    def test_weeks_and_a_decimal_comma_are_read(
        self, text: str, expected: dt.timedelta
    ) -> None:
        assert CONVERTER.structure(text, dt.timedelta) == expected

    @pytest.mark.parametrize(
        "value", ["P1Y", "P1M", "P", "PT", "P1DT", "1D", "PT1.5M", 1800, 1800.0, None]
    )
    def test_anything_else_is_refused(self, value: object) -> None:
        with pytest.raises(StructureError, match="ISO 8601 duration"):
            CONVERTER.structure(value, dt.timedelta)

    def test_too_long_is_refused(self) -> None:
        with pytest.raises(StructureError, match="longer than"):
            CONVERTER.structure("P999999999999D", dt.timedelta)

    def test_a_limit_rule_reads_back_equal(self) -> None:
        rule = LimitRule(LimitScope.BUYER, 5, dt.timedelta(days=1))
        written = CONVERTER.dumps(rule)
        assert b'"window":"P1D"' in written
        assert CONVERTER.loads(written, LimitRule) == rule


class TestDates:
    """A `date` is ISO 8601's calendar date, `YYYY-MM-DD`."""

    @given(st.dates())
    def test_reads_back_equal(self, day: dt.date) -> None:
        written = CONVERTER.dumps(day)
        assert len(written) == len(b'"2026-11-11"')
        assert CONVERTER.loads(written, dt.date) == day

    @pytest.mark.parametrize(
        "value", ["20261111", "2026-W46-3", "2026-13-01", "2026-11-11T00:00:00Z", 5]
    )
    def test_anything_else_is_refused(self, value: object) -> None:
        with pytest.raises(StructureError, match="ISO 8601 date"):
            CONVERTER.structure(value, dt.date)

    def test_a_day_window_reads_back_equal(self) -> None:
        window = day_of(pendulum.datetime(2026, 11, 11, 3), "Asia/Shanghai")
        assert CONVERTER.loads(CONVERTER.dumps(window), DayWindow) == window


class TestTopLevelPaths:
    """A value read on its own is reported by its own field names."""

    def test_address_country(self) -> None:
        with pytest.raises(StructureError) as caught:
            CONVERTER.structure({"country": "china"}, Address)

        assert ("country", "china") == (caught.value.field, caught.value.value)
