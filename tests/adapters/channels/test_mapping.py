"""FieldMap: a Taobao trade mapped by a TOML spec, with no Python mapping code."""

from __future__ import annotations

import copy
import json
import tomllib
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderkit.adapters.channels._common import moved
from orderkit.adapters.channels.mapping import FieldMap
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    EmptyOrder,
    InvalidMoney,
    InvalidQuantity,
    MappingError,
    NaiveDatetime,
    OrderkitError,
    StructureError,
    UnknownCurrency,
    UnknownStatus,
    ValidationError,
)
from orderkit.integrations import ChannelOrder, load_json
from orderkit.money import Money
from orderkit.orders import (
    Applied,
    Cancelled,
    Closed,
    Order,
    OrderStatus,
    PaymentCaptured,
    RefundDue,
    apply_all,
)
from orderkit.ports import ChannelPayloads
from orderkit.pricing import AmountOff, price
from orderkit.serialization import make_converter
from orderkit.testing.contracts import ChannelContract, Sample


FIXTURES = Path(__file__).parents[2] / "fixtures" / "channels" / "taobao"
SAMPLE = FIXTURES / "trade-fullinfo-sample.json"
SPEC = FIXTURES / "fieldmap.toml"
ROOT = "trade_fullinfo_get_response.trade"
TID = "2154938200150361"
CONVERTER = make_converter()
FAR_FUTURE = pendulum.datetime(2100, 1, 1)


def fieldmap() -> FieldMap:
    return FieldMap.from_toml(SPEC.read_text("utf-8"))


def sample() -> Any:
    return load_json(SAMPLE.read_bytes())


def trade(payload: Any) -> dict[str, Any]:
    result: dict[str, Any] = payload["trade_fullinfo_get_response"]["trade"]
    return result


def parse_one(payload: Any) -> ChannelOrder:
    (record,) = fieldmap().parse(payload, topic="trade")
    assert isinstance(record, ChannelOrder)
    return record


def utc(  # noqa: PLR0917 - a date and a time of day
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> pendulum.DateTime:
    return pendulum.datetime(year, month, day, hour, minute, second, tz="UTC")


def fullwidth(digits: str) -> str:
    return "".join(chr(0xFF10 + int(digit)) for digit in digits)


class TestTaobaoContract(ChannelContract):
    """The FieldMap loaded from the fixture spec passes the channel contract."""

    def make_channel(self) -> ChannelPayloads:
        return fieldmap()

    def samples(self) -> Sequence[Sample]:
        return [Sample.from_file(SAMPLE, "trade")]

    def with_status(self, payload: Any, topic: str, status: str) -> Any | None:
        assert topic == "trade"
        trade(payload)["status"] = status
        return payload


class TestTaobaoSample:
    """The sample maps onto the figures a person reads off the payload."""

    def test_is_a_channel_payloads(self) -> None:
        channel: ChannelPayloads = fieldmap()
        assert "taobao" == channel.channel
        assert frozenset({"trade"}) == channel.topics

    def test_order_ids_buyer_and_address(self) -> None:
        placed = parse_one(sample()).placed
        assert TID == placed.order_id
        assert "taobao" == placed.channel
        assert "AAFq6Gm0ADlVvZ3xW7tLcKpE" == placed.buyer.buyer_id
        assert "龙井爱好者小明" == placed.buyer.name
        address = placed.address
        assert ("CN", "浙江省", "杭州市", "西湖区") == (
            address.country,
            address.province,
            address.city,
            address.district,
        )
        assert "文三路478号华星时代广场A座1203室" == address.street
        assert ("310012", "张晓明") == (address.postcode, address.recipient)

    def test_masked_phone_is_kept_as_sent(self) -> None:
        placed = parse_one(sample()).placed
        assert "138****8000" == placed.buyer.phone == placed.address.phone

    def test_lines_in_cny(self) -> None:
        lines = parse_one(sample()).placed.lines
        assert [
            ("2154938200160361", "TEA-LJ-250G", 2, Money("168.00", "CNY")),
            ("2154938200170361", "CUP-GLASS-350", 1, Money("59.90", "CNY")),
            ("2154938200180361", "TRAY-BAMBOO-S", 3, Money("25.00", "CNY")),
        ] == [(li.line_id, li.sku, li.quantity, li.unit_price) for li in lines]
        assert "西湖龙井 明前特级 250克 礼盒装" == lines[0].title

    def test_quote_reconciles_with_payment(self) -> None:
        quote = parse_one(sample()).quote
        assert Money("10.00", "CNY") == quote.shipping
        assert (AmountOff("discount_fee", Money("20.00", "CNY")),) == quote.offers
        assert Money("460.90", "CNY") == quote.stated_total
        assert Money("460.90", "CNY") == price(quote).total

    def test_times_are_beijing_time_in_utc(self) -> None:
        record = parse_one(sample())
        assert utc(2025, 11, 10, 16, 3, 17) == record.placed.occurred_at
        assert utc(2025, 11, 10, 16, 4, 5) == record.updated_at
        (paid,) = record.events
        assert utc(2025, 11, 10, 16, 4, 2) == paid.occurred_at

    def test_status_and_payment_event(self) -> None:
        record = parse_one(sample())
        assert OrderStatus.PAID == record.status
        assert "WAIT_SELLER_SEND_GOODS" == record.channel_status
        (paid,) = record.events
        assert isinstance(paid, PaymentCaptured)
        assert "2025111122001176541234567890" == paid.payment_id
        assert Money("460.90", "CNY") == paid.amount

    def test_keys_come_from_the_payload(self) -> None:
        record = parse_one(sample())
        assert (
            IdempotencyKey("taobao", "order_placed", TID, "2025-11-10T16:03:17+00:00")
            == record.placed.key
        )
        assert (
            IdempotencyKey(
                "taobao", "payment_captured", TID, "2025-11-10T16:04:02+00:00"
            )
            == record.events[0].key
        )

    def test_unpaid_order_has_no_payment_event(self) -> None:
        payload = sample()
        del trade(payload)["pay_time"]
        trade(payload)["status"] = "WAIT_BUYER_PAY"
        record = parse_one(payload)
        assert OrderStatus.PENDING_PAYMENT == record.status
        assert () == record.events

    def test_orders_round_trip_through_the_serializer(self) -> None:
        record = parse_one(sample())
        batch = apply_all(None, [record.placed, *record.events], now=FAR_FUTURE)
        assert batch.order is not None
        assert OrderStatus.PAID == batch.order.status
        assert CONVERTER.loads(CONVERTER.dumps(batch.order), Order) == batch.order


STATUSES = {
    "TRADE_NO_CREATE_PAY": OrderStatus.PENDING_PAYMENT,
    "WAIT_BUYER_PAY": OrderStatus.PENDING_PAYMENT,
    "PAY_PENDING": OrderStatus.PENDING_PAYMENT,
    "WAIT_PRE_AUTH_CONFIRM": OrderStatus.PENDING_PAYMENT,
    "WAIT_SELLER_SEND_GOODS": OrderStatus.PAID,
    "PAID_FORBID_CONSIGN": OrderStatus.PAID,
    "SELLER_CONSIGNED_PART": OrderStatus.PARTIALLY_SHIPPED,
    "WAIT_BUYER_CONFIRM_GOODS": OrderStatus.SHIPPED,
    "TRADE_BUYER_SIGNED": OrderStatus.DELIVERED,
    "TRADE_FINISHED": OrderStatus.COMPLETED,
    "TRADE_CLOSED": OrderStatus.CANCELLED,
    "TRADE_CLOSED_BY_TAOBAO": OrderStatus.CLOSED,
}


class TestStatuses:
    """Every Taobao status in the map, and the events its end_time states."""

    def test_the_map_lists_every_status(self) -> None:
        spec = tomllib.loads(SPEC.read_text("utf-8"))
        assert set(STATUSES) == set(spec["fields"]["status"]["map"])

    @pytest.mark.parametrize(("channel_status", "status"), sorted(STATUSES.items()))
    def test_status_maps(self, channel_status: str, status: OrderStatus) -> None:
        payload = sample()
        trade(payload)["status"] = channel_status
        record = parse_one(payload)
        assert status == record.status
        assert channel_status == record.channel_status

    def test_closed_after_payment_is_cancelled_with_end_time(self) -> None:
        payload = sample()
        trade(payload).update(status="TRADE_CLOSED", end_time="2025-11-12 09:30:00")
        record = parse_one(payload)
        # Refunded in full already: no payment is stated, so none is owed back.
        (cancelled,) = record.events
        assert isinstance(cancelled, Cancelled)
        assert utc(2025, 11, 12, 1, 30) == cancelled.occurred_at
        batch = apply_all(None, [record.placed, *record.events], now=FAR_FUTURE)
        assert batch.order is not None
        assert OrderStatus.CANCELLED == batch.order.status

    def test_closed_before_payment_is_closed(self) -> None:
        payload = sample()
        del trade(payload)["pay_time"]
        trade(payload).update(
            status="TRADE_CLOSED_BY_TAOBAO", end_time="2025-11-11 00:33:17"
        )
        (closed,) = parse_one(payload).events
        assert isinstance(closed, Closed)
        assert "付款以前\uff0c卖家或买家主动关闭交易" == closed.reason

    def test_end_time_of_an_open_order_states_nothing(self) -> None:
        payload = sample()
        trade(payload)["end_time"] = "2025-11-12 09:30:00"
        assert 1 == len(parse_one(payload).events)

    def test_unknown_status_names_its_path(self) -> None:
        payload = sample()
        trade(payload)["status"] = "TRADE_LOST_IN_SPACE"
        with pytest.raises(UnknownStatus) as caught:
            fieldmap().parse(payload, topic="trade")
        assert f"{ROOT}.status" == caught.value.field


class TestEmptyStrings:
    """Exports write "" for what they lack: an optional amount or time is absent."""

    def test_optional_amounts_and_times_are_left_out(self) -> None:
        payload = sample()
        order = trade(payload)
        order["discount_fee"] = ""
        order["post_fee"] = ""
        order["modified"] = ""
        record = parse_one(payload)
        assert record.quote.offers == ()
        assert record.quote.shipping is None
        assert record.updated_at is None

    def test_optional_text_keeps_its_empty_string(self) -> None:
        payload = sample()
        trade(payload)["buyer_nick"] = ""
        assert "" == parse_one(payload).placed.buyer.name

    def test_a_required_empty_amount_is_refused_by_its_converter(self) -> None:
        payload = sample()
        trade(payload)["orders"]["order"][0]["price"] = ""
        with pytest.raises(InvalidMoney) as caught:
            fieldmap().parse(payload, topic="trade")
        assert f"{ROOT}.orders.order[0].price" == caught.value.field


class TestErrorsAtOnce:
    """A payload with several broken fields reports every one, with its path."""

    def test_every_path_is_reported(self) -> None:
        payload = sample()
        order = trade(payload)
        del order["tid"]
        order["status"] = "NOT_A_STATUS"
        order["created"] = "2025-11-31 00:00:00"
        order["post_fee"] = 10.5
        order["orders"]["order"][0]["num"] = "1e3"
        order["orders"]["order"][1]["price"] = "59.905"
        del order["orders"]["order"][2]["outer_sku_id"]
        # With the status unreadable, whether the payment is stated cannot be
        # known: its fields are not read (see the next test).
        order["alipay_no"] = ""
        with pytest.raises(MappingError) as caught:
            fieldmap().parse(payload, topic="trade")
        error = caught.value
        assert isinstance(error, ValidationError)
        assert ROOT == error.field
        lines = f"{ROOT}.orders.order"
        assert {
            f"{ROOT}.tid": ValidationError,
            f"{ROOT}.status": UnknownStatus,
            f"{ROOT}.created": ValidationError,
            f"{ROOT}.post_fee": InvalidMoney,
            f"{lines}[0].num": InvalidQuantity,
            f"{lines}[1].price": InvalidMoney,
            f"{lines}[2].outer_sku_id": ValidationError,
        } == {e.field: type(e) for e in error.errors}
        assert error.paths == tuple(e.field for e in error.errors)
        assert f"{ROOT}.tid: is missing" in str(error)

    def test_a_stated_event_reports_its_fields_too(self) -> None:
        payload = sample()
        order = trade(payload)
        order["alipay_no"] = ""
        order["post_fee"] = 10.5
        with pytest.raises(MappingError) as caught:
            fieldmap().parse(payload, topic="trade")
        assert {f"{ROOT}.alipay_no", f"{ROOT}.post_fee"} == set(caught.value.paths)

    def test_repeated_line_id(self) -> None:
        payload = sample()
        lines = trade(payload)["orders"]["order"]
        lines[2]["oid"] = lines[0]["oid"]
        with pytest.raises(ValidationError) as caught:
            fieldmap().parse(payload, topic="trade")
        assert f"{ROOT}.orders.order[2].oid" == caught.value.field

    def test_no_lines(self) -> None:
        payload = sample()
        trade(payload)["orders"]["order"] = []
        with pytest.raises(EmptyOrder) as caught:
            fieldmap().parse(payload, topic="trade")
        assert f"{ROOT}.orders.order" == caught.value.field

    def test_a_core_refusal_is_moved_to_the_payload_path(self) -> None:
        payload = sample()
        trade(payload)["buyer_open_uid"] = "uid\twith a tab"
        with pytest.raises(ValidationError) as caught:
            fieldmap().parse(payload, topic="trade")
        assert f"{ROOT}.buyer_open_uid" == caught.value.field

    def test_a_moved_refusal_keeps_its_class(self) -> None:
        # What a core refusal is moved with (here and in the adapters): the
        # subclass, its own attributes and the message follow the new path.
        error = StructureError("lines", [], "must not be empty", "list")

        relocated = moved(error, f"{ROOT}.orders")

        assert isinstance(relocated, StructureError)
        assert (f"{ROOT}.orders", [], "list", error) == (
            relocated.field,
            relocated.value,
            relocated.type_name,
            relocated.__cause__,
        )
        assert str(
            StructureError(f"{ROOT}.orders", [], "must not be empty", "list")
        ) == str(relocated)
        assert "lines" == error.field

    def test_naive_time_without_a_zone_is_refused(self) -> None:
        spec = tomllib.loads(SPEC.read_text("utf-8"))
        del spec["zone"]
        with pytest.raises(MappingError) as caught:
            FieldMap.from_dict(spec).parse(sample(), topic="trade")
        assert NaiveDatetime in {type(e) for e in caught.value.errors}

    def test_missing_root(self) -> None:
        with pytest.raises(StructureError) as caught:
            fieldmap().parse({"error_response": {"code": 27}}, topic="trade")
        assert ROOT == caught.value.field

    def test_unknown_topic(self) -> None:
        with pytest.raises(ValidationError) as caught:
            fieldmap().parse(sample(), topic="refund")
        assert "topic" == caught.value.field


class TestReaderGaps:
    """Inputs the core readers let escape as builtins are refused with a path."""

    @pytest.mark.parametrize(
        ("line", "key", "value"),
        [
            (False, "created", "0001-01-01 00:00:00"),
            (False, "pay_time", "9999-12-31T23:59:59-14:00"),
            (True, "num", "9" * 5000),
            (True, "title", "\ud800"),
        ],
    )
    def test_refused_with_the_path(self, line: bool, key: str, value: str) -> None:
        payload = sample()
        target = trade(payload)["orders"]["order"][0] if line else trade(payload)
        target[key] = value
        with pytest.raises(ValidationError) as caught:
            fieldmap().parse(payload, topic="trade")
        where = f"{ROOT}.orders.order[0].{key}" if line else f"{ROOT}.{key}"
        assert where == caught.value.field


def minimal_spec(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "channel": "demo",
        "topics": ["order"],
        "currency": "CNY",
        "region": "CN",
        "fields": {
            "order_id": "id",
            "placed_at": {"path": "created_at", "as": "instant"},
            "status": {"path": "state", "map": {"PAID": "paid"}},
            "buyer.buyer_id": "buyer",
            "address.country": {"const": "CN"},
        },
        "lines": {
            "path": "items",
            "fields": {
                "line_id": "id",
                "sku": "sku",
                "quantity": {"path": "qty", "as": "integer"},
                "unit_price": {"path": "price", "as": "money"},
            },
        },
    }
    spec.update(changes)
    return spec


class TestSpecValidation:
    """A wrong spec is refused on loading, naming its place in the spec."""

    @pytest.mark.parametrize("where", [(), ("fields",), ("fields", "status", "map")])
    def test_a_key_that_is_not_text(self, where: tuple[str, ...]) -> None:
        spec: dict[Any, Any] = tomllib.loads(SPEC.read_text("utf-8"))
        table = spec
        for part in where:
            table = table[part]
        table[7] = "x"  # a dict spec may hold any key; JSON and TOML cannot
        with pytest.raises(ValidationError) as caught:
            FieldMap.from_dict(spec)
        assert caught.value.value == 7

    def test_minimal_spec_reads_a_flat_payload(self) -> None:
        fm = FieldMap.from_dict(minimal_spec(root="orders[]"))
        payload = {
            "orders": [
                {
                    "id": 7,
                    "created_at": "2025-06-18T10:00:00+08:00",
                    "state": "PAID",
                    "buyer": "b-1",
                    "items": [{"id": 1, "sku": "S", "qty": 2, "price": "9.90"}],
                }
            ]
        }
        (record,) = fm.parse(payload, topic="order")
        assert isinstance(record, ChannelOrder)
        assert "7" == record.order_id
        assert utc(2025, 6, 18, 2) == record.placed.occurred_at

    def test_fen_and_unix_seconds(self) -> None:
        spec = minimal_spec()
        spec["fields"]["placed_at"] = {"path": "created_at", "as": "unix"}
        spec["fields"]["shipping"] = {"path": "post_fee", "as": "minor"}
        spec["lines"]["fields"]["unit_price"] = {"path": "price", "as": "minor"}
        payload = {
            "id": 7,
            "created_at": 1762876799,
            "state": "PAID",
            "buyer": "b-1",
            "post_fee": "600",
            "items": [{"id": 1, "sku": "S", "qty": 2, "price": 12900}],
        }
        (record,) = FieldMap.from_dict(spec).parse(payload, topic="order")
        assert isinstance(record, ChannelOrder)
        assert utc(2025, 11, 11, 15, 59, 59) == record.placed.occurred_at
        assert Money("129.00", "CNY") == record.placed.lines[0].unit_price
        assert Money("6.00", "CNY") == record.quote.shipping

    def test_fen_and_seconds_refused_name_their_paths(self) -> None:
        spec = minimal_spec()
        spec["fields"]["placed_at"] = {"path": "created_at", "as": "unix"}
        spec["lines"]["fields"]["unit_price"] = {"path": "price", "as": "minor"}
        payload = {
            "id": 7,
            "created_at": 1762876799000,
            "state": "PAID",
            "buyer": "b-1",
            "items": [{"id": 1, "sku": "S", "qty": 2, "price": "129.00"}],
        }
        with pytest.raises(MappingError) as caught:
            FieldMap.from_dict(spec).parse(payload, topic="order")
        assert {(e.field, e.value) for e in caught.value.errors} == {
            ("created_at", 1762876799000),
            ("items[0].price", "129.00"),
        }

    def test_a_null_object_on_the_way_to_a_field_is_no_value(self) -> None:
        spec = minimal_spec()
        spec["fields"]["buyer.phone"] = "consignee.mobile"
        spec["fields"]["status"]["map"]["WAIT_PAY"] = "pending_payment"
        spec["events"] = [
            {
                "type": "payment_captured",
                "when": "payment.paid_at",
                "fields": {
                    "occurred_at": {"path": "payment.paid_at", "as": "instant"},
                    "payment_id": "payment.serial",
                    "amount": {"path": "payment.amount", "as": "money"},
                },
            }
        ]
        unpaid = {
            "id": 8,
            "created_at": "2025-06-18T10:00:00+08:00",
            "state": "WAIT_PAY",
            "buyer": "b-1",
            "items": [{"id": 1, "sku": "S", "qty": 1, "price": "9.90"}],
            "payment": None,  # not paid yet
            "consignee": None,
        }
        (record,) = FieldMap.from_dict(spec).parse(unpaid, topic="order")
        assert isinstance(record, ChannelOrder)
        assert () == record.events
        assert record.placed.buyer.phone is None

    @pytest.mark.parametrize(
        ("changes", "where"),
        [
            ({"colour": "red"}, "colour"),
            ({"currency": "XYZ"}, "currency"),
            ({"region": "china"}, "region"),
            ({"zone": "Mars/Olympus"}, "zone"),
            ({"zone": "Asia"}, "zone"),  # a folder of the zone database
            ({"zone": "utc"}, "zone"),  # pendulum takes it; reading would not
            # Whatever zone the host is set to: other instants on other hosts.
            ({"zone": "localtime"}, "zone"),
            ({"zone": "Factory"}, "zone"),
            ({"topics": []}, "topics"),
            ({"root": "a..b"}, "root"),
            ({"channel": ""}, "channel"),
        ],
    )
    def test_bad_setting(self, changes: dict[str, Any], where: str) -> None:
        with pytest.raises(ValidationError) as caught:
            FieldMap.from_dict(minimal_spec(**changes))
        assert where == caught.value.field

    def test_unknown_currency_is_typed(self) -> None:
        with pytest.raises(UnknownCurrency):
            FieldMap.from_dict(minimal_spec(currency="XYZ"))

    @pytest.mark.parametrize(
        ("target", "source", "where"),
        [
            ("colour", "c", "fields.colour"),
            ("order_id", {"path": "id", "as": "uuid"}, "fields.order_id.as"),
            ("order_id", {"path": "id", "as": "money"}, "fields.order_id.as"),
            ("order_id", {"path": "id", "const": "1"}, "fields.order_id"),
            ("order_id", {"path": "id", "default": "1"}, "fields.order_id.default"),
            ("order_id", {"path": ""}, "fields.order_id.path"),
            ("status", {"path": "state"}, "fields.status.map"),
            ("status", {"path": "s", "map": {"P": "payed"}}, "fields.status.map.P"),
            ("shipping", {"path": "s", "map": {"a": "b"}}, "fields.shipping.map"),
            ("shipping", {"const": 1.5}, "fields.shipping.const"),
            ("placed_at", {"path": "t", "zone": "Nowhere"}, "fields.placed_at.zone"),
            ("placed_at", {"path": "t", "zone": "Europe"}, "fields.placed_at.zone"),
            (
                "placed_at",
                {"path": "t", "as": "unix", "zone": "Asia/Shanghai"},
                "fields.placed_at.zone",
            ),
            ("order_id", {"path": "id", "as": "minor"}, "fields.order_id.as"),
            ("shipping", {"path": "s", "as": "unix"}, "fields.shipping.as"),
            (
                "placed_at",
                {"path": "t", "zone": "posixrules"},
                "fields.placed_at.zone",
            ),
            ("address.country", {"const": "China"}, "fields.address.country.const"),
        ],
    )
    def test_bad_field(self, target: str, source: object, where: str) -> None:
        spec = minimal_spec()
        spec["fields"][target] = source
        with pytest.raises(ValidationError) as caught:
            FieldMap.from_dict(spec)
        assert where == caught.value.field

    def test_missing_required_targets_are_all_named(self) -> None:
        spec = minimal_spec()
        del spec["fields"]["order_id"]
        del spec["lines"]["fields"]["quantity"]
        with pytest.raises(MappingError) as caught:
            FieldMap.from_dict(spec)
        assert ("fields.order_id", "lines.fields.quantity") == caught.value.paths

    @pytest.mark.parametrize(
        ("event", "where"),
        [
            ({"type": "delivered", "when": "t"}, "events[0].type"),
            ({"type": "closed", "when": "t", "fields": {}}, "events[0].fields"),
            (
                {
                    "type": "closed",
                    "when": "t",
                    "statuses": ["gone"],
                    "fields": {"occurred_at": "t"},
                },
                "events[0].statuses[0]",
            ),
        ],
    )
    def test_bad_event(self, event: dict[str, Any], where: str) -> None:
        with pytest.raises(ValidationError) as caught:
            FieldMap.from_dict(minimal_spec(events=[event]))
        assert caught.value.field.startswith(where)

    def test_not_a_table(self) -> None:
        with pytest.raises(ValidationError) as caught:
            FieldMap.from_dict(["channel"])  # type: ignore[arg-type]
        assert "spec" == caught.value.field

    def test_bad_toml_and_json(self) -> None:
        with pytest.raises(StructureError) as caught:
            FieldMap.from_toml("channel = ")
        assert "spec" == caught.value.field
        with pytest.raises(StructureError) as caught:
            FieldMap.from_json("{")
        assert "spec" == caught.value.field


class TestSpecForms:
    """The same spec as a dict, JSON and TOML gives equal maps."""

    def test_dict_json_and_toml_are_equal(self) -> None:
        text = SPEC.read_text("utf-8")
        spec = tomllib.loads(text)
        from_toml = FieldMap.from_toml(text)
        from_dict = FieldMap.from_dict(spec)
        from_json = FieldMap.from_json(json.dumps(spec, ensure_ascii=False))
        assert from_toml == from_dict == from_json
        assert hash(from_toml) == hash(from_json)

    def test_settings_are_readable(self) -> None:
        fm = fieldmap()
        assert ("CNY", "CN", "Asia/Shanghai") == (fm.currency, fm.region, fm.zone)


# ----------------------------------------------------------------------
# Fuzz: every mutation maps onto valid records or raises an OrderkitError.

HOSTILE: list[object] = [
    None,
    "",
    " ",
    0,
    -1,
    True,
    1.5,
    Decimal("NaN"),
    Decimal("1E+999999"),
    "1e3",
    "NaN",
    "12.345",
    "-5.00",
    fullwidth("12"),
    fullwidth("13800138000"),
    "2025-02-30 10:00:00",
    "2025-11-11T25:61:00",
    "0001-01-01 00:00:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "Mon, 01 Jan 0000 00:00:00 +0000",
    "9" * 5000,
    "长" * 20_000,
    "\ud800",
    "tab\tinside",
    "🦄",
    [],
    {},
    {"nested": [1, 2]},
    10**30,
]

ORDER_KEYS = sorted(trade(sample()))
LINE_KEYS = sorted(trade(sample())["orders"]["order"][0])
STATUS_VALUES = sorted(STATUSES)


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    payload = sample()
    order = trade(payload)
    values = st.one_of(
        st.sampled_from(HOSTILE),
        st.text(max_size=30),
        st.integers(),
        st.decimals(allow_nan=True, allow_infinity=True),
        st.sampled_from(STATUS_VALUES),
    )
    for _ in range(draw(st.integers(1, 4))):
        container = order.get("orders")
        lines = container.get("order") if isinstance(container, dict) else None
        where = draw(st.sampled_from(["order", "line", "lines", "status", "end"]))
        if where == "order":
            key = draw(st.sampled_from(ORDER_KEYS))
            if draw(st.booleans()):
                order.pop(key, None)
            else:
                order[key] = draw(values)
        elif where == "line" and isinstance(lines, list) and lines:
            line = lines[draw(st.integers(0, len(lines) - 1))]
            key = draw(st.sampled_from(LINE_KEYS))
            if draw(st.booleans()):
                line.pop(key, None)
            else:
                line[key] = draw(values)
        elif where == "lines" and isinstance(container, dict):
            container["order"] = draw(
                st.sampled_from(
                    [
                        [],
                        None,
                        "x",
                        {},
                        lines[:1] * 2 if isinstance(lines, list) else [],
                    ]
                )
            )
        elif where == "status":
            order["status"] = draw(st.sampled_from(STATUS_VALUES))
        else:
            order["end_time"] = draw(
                st.sampled_from(["2025-11-12 09:30:00", "2025-11-10 00:00:00", "x"])
            )
    return payload


class TestFuzz:
    """Mutated samples map onto valid records or raise a typed error."""

    # Three times the profile's examples: one parse costs under a millisecond.
    @settings(max_examples=3 * settings().max_examples)
    @given(payload=mutated())
    def test_maps_or_raises_an_orderkit_error(
        self, payload: Any, fuzz_tally: Counter[str]
    ) -> None:
        fm = fieldmap()
        try:
            records = fm.parse(copy.deepcopy(payload), topic="trade")
        except OrderkitError as error:
            fuzz_tally[f"refused: {type(error).__name__}"] += 1
            return
        fuzz_tally["accepted"] += 1
        (record,) = records
        assert isinstance(record, ChannelOrder)
        assert records == fm.parse(copy.deepcopy(payload), topic="trade")
        batch = apply_all(None, [record.placed, *record.events], now=FAR_FUTURE)
        assert all(isinstance(o, Applied | RefundDue) for o in batch.outcomes)
        assert batch.order is not None
        assert CONVERTER.loads(CONVERTER.dumps(batch.order), Order) == batch.order
        price(record.quote)


class TestSpecText:
    """A spec that is not text is refused with a typed error, not a TypeError."""

    @pytest.mark.parametrize("text", [b'channel = "x"', None, {"channel": "x"}])
    def test_toml_that_is_not_text(self, text: object) -> None:
        with pytest.raises(StructureError) as caught:
            FieldMap.from_toml(text)  # type: ignore[arg-type]
        assert ("spec", "TOML") == (caught.value.field, caught.value.type_name)

    def test_json_decoded_already(self) -> None:
        with pytest.raises(StructureError) as caught:
            FieldMap.from_json({"channel": "x"})  # type: ignore[arg-type]
        assert "spec" == caught.value.field


def paid_spec(*, total: bool = True) -> dict[str, Any]:
    """`minimal_spec` with a payment event whose amount is its own field."""
    spec = minimal_spec()
    if total:
        spec["fields"]["total"] = {"path": "total", "as": "money"}
    spec["events"] = [
        {
            "type": "payment_captured",
            "when": "paid_at",
            "fields": {
                "occurred_at": {"path": "paid_at", "as": "instant"},
                "payment_id": "payment.id",
                "amount": {"path": "payment.amount", "as": "money"},
            },
        }
    ]
    return spec


def paid_payload(total: str, amount: str) -> dict[str, Any]:
    return {
        "id": 7,
        "created_at": "2025-06-18T10:00:00+08:00",
        "paid_at": "2025-06-18T10:01:00+08:00",
        "state": "PAID",
        "buyer": "b-1",
        "total": total,
        "payment": {"id": "PAY-7", "amount": amount},
        "items": [{"id": 1, "sku": "S", "qty": 2, "price": "0.00"}],
    }


class TestFreeOrders:
    """A payment of zero is a free order's: stated only when the total is zero."""

    def test_a_zero_payment_of_a_free_order_is_stated(self) -> None:
        fm = FieldMap.from_dict(paid_spec())

        (record,) = fm.parse(paid_payload("0.00", "0.00"), topic="order")

        assert isinstance(record, ChannelOrder)
        (paid,) = record.events
        assert isinstance(paid, PaymentCaptured)
        assert Money("0.00", "CNY") == paid.amount
        batch = apply_all(None, [record.placed, *record.events], now=FAR_FUTURE)
        assert batch.order is not None
        assert (OrderStatus.PAID, ()) == (batch.order.status, batch.order.payments)

    def test_a_zero_payment_of_an_order_with_a_total_is_refused(self) -> None:
        fm = FieldMap.from_dict(paid_spec())

        with pytest.raises(ValidationError) as caught:
            fm.parse(paid_payload("19.80", "0.00"), topic="order")

        assert ("payment.amount", Money("0.00", "CNY")) == (
            caught.value.field,
            caught.value.value,
        )
        assert "the order's total (total) is 19.80 CNY" in caught.value.problem

    def test_a_zero_payment_without_a_total_is_refused(self) -> None:
        fm = FieldMap.from_dict(paid_spec(total=False))

        with pytest.raises(ValidationError) as caught:
            fm.parse(paid_payload("0.00", "0.00"), topic="order")

        assert "payment.amount" == caught.value.field
        assert "no total" in caught.value.problem

    def test_a_refused_zero_payment_is_reported_with_the_other_problems(
        self,
    ) -> None:
        fm = FieldMap.from_dict(paid_spec())
        payload = paid_payload("19.80", "0.00")
        payload["buyer"] = ""

        with pytest.raises(MappingError) as caught:
            fm.parse(payload, topic="order")

        assert {"buyer", "payment.amount"} == set(caught.value.paths)

    def test_an_unreadable_total_is_reported_once(self) -> None:
        fm = FieldMap.from_dict(paid_spec())

        with pytest.raises(ValidationError) as caught:
            fm.parse(paid_payload("19.8x", "0.00"), topic="order")

        assert "total" == caught.value.field

    def test_a_zero_taobao_payment_is_a_free_order_paid(self) -> None:
        payload = sample()
        for line in trade(payload)["orders"]["order"]:
            line["price"] = "0.00"
        trade(payload).update(post_fee="0.00", discount_fee="0.00", payment="0.00")

        (paid,) = parse_one(payload).events

        assert isinstance(paid, PaymentCaptured)
        assert Money("0.00", "CNY") == paid.amount


def _lines_with(stocked: object, items: Sequence[dict[str, Any]]) -> list[bool]:
    """How a minimal spec mapping `stocked` as given reads each item's line."""
    spec = minimal_spec()
    spec["lines"]["fields"]["stocked"] = stocked
    payload = {
        "id": 7,
        "created_at": "2025-06-18T10:00:00+08:00",
        "state": "PAID",
        "buyer": "b-1",
        "items": [
            {"id": n, "sku": f"S{n}", "qty": 1, "price": "9.90", **item}
            for n, item in enumerate(items, 1)
        ],
    }
    (record,) = FieldMap.from_dict(spec).parse(payload, topic="order")
    assert isinstance(record, ChannelOrder)
    return [line.stocked for line in record.placed.lines]


class TestStockedLines:
    """A line field, or a rule, says which lines have no stock behind them."""

    def test_lines_are_stocked_unless_mapped(self) -> None:
        assert all(line.stocked for line in parse_one(sample()).placed.lines)

    def test_a_flag_read_as_one(self) -> None:
        items: list[dict[str, Any]] = [
            {"ships": True},
            {"ships": False},
            {"ships": 0},
            {"ships": "1"},
            {"ships": "false"},
            {"ships": None},
            {},
        ]
        expected = [True, False, False, True, False, True, True]
        assert _lines_with("ships", items) == expected

    def test_a_rule_over_text_names_the_unstocked_kinds(self) -> None:
        rule = {
            "path": "kind",
            "as": "text",
            "map": {"virtual": False, "giftcard": False, "service": False},
        }
        items = [{"kind": "simple"}, {"kind": "virtual"}, {"kind": "giftcard"}, {}]
        assert _lines_with(rule, items) == [True, False, False, True]

    def test_a_rule_over_a_flag_inverts_it(self) -> None:
        rule = {"path": "is_virtual", "map": {"true": False}}
        items: list[dict[str, Any]] = [
            {"is_virtual": 1},
            {"is_virtual": 0},
            {"is_virtual": True},
            {},
        ]
        assert _lines_with(rule, items) == [False, True, False, True]

    def test_a_constant_for_every_line(self) -> None:
        assert _lines_with({"const": False}, [{}, {}]) == [False, False]

    @pytest.mark.parametrize("value", ["yes", 2, [], "TRUE"])
    def test_a_value_that_is_no_flag_is_refused_with_its_path(
        self, value: object
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _lines_with("ships", [{}, {"ships": value}])
        assert ("items[1].ships", value) == (caught.value.field, caught.value.value)

    @pytest.mark.parametrize(
        ("source", "where"),
        [
            ({"path": "kind", "as": "text"}, "lines.fields.stocked.map"),
            ({"path": "kind", "as": "money"}, "lines.fields.stocked.as"),
            (
                {"path": "kind", "as": "text", "map": {"virtual": "no"}},
                "lines.fields.stocked.map.virtual",
            ),
            ({"const": "no"}, "lines.fields.stocked.const"),
            # Read as a flag, "1" is looked up as "true": it would never match.
            ({"path": "is_virtual", "map": {"1": False}}, "lines.fields.stocked.map.1"),
        ],
    )
    def test_a_wrong_rule_is_refused_on_loading(
        self, source: object, where: str
    ) -> None:
        spec = minimal_spec()
        spec["lines"]["fields"]["stocked"] = source
        with pytest.raises(ValidationError) as caught:
            FieldMap.from_dict(spec)
        assert where == caught.value.field

    def test_a_rule_survives_toml(self) -> None:
        rule = 'stocked = { path = "is_virtual", map = { "true" = false } }'
        text = SPEC.read_text("utf-8").replace(
            'title = "title"', f'title = "title"\n{rule}'
        )
        spec = tomllib.loads(text)
        assert FieldMap.from_toml(text) == FieldMap.from_dict(spec)
        payload = sample()
        trade(payload)["orders"]["order"][0]["is_virtual"] = True
        (record,) = FieldMap.from_toml(text).parse(payload, topic="trade")
        assert isinstance(record, ChannelOrder)
        assert record.placed.lines[0].stocked is False
