"""FieldMap `[[offers]]`: every discount a channel states, each with its issuer.

Pinduoduo states `seller_discount` and `platform_discount` apart (Douyin
three, Taobao several): with one `discount` target only, the quote's total
came out above the channel's, and the desk held every such order.
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections import Counter
from decimal import Decimal
from typing import Any

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderkit.adapters.channels.mapping import FieldMap
from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter
from orderkit.errors import InvalidMoney, MappingError, OrderkitError, ValidationError
from orderkit.integrations import ChannelOrder
from orderkit.money import Money
from orderkit.orders import OrderStatus
from orderkit.pricing import AmountOff, price, validate
from orderkit.services import Accepted, DeskPolicy, Ledger, OrderDesk
from orderkit.testing import FrozenClock


ROOT = "order_sn_increment_get_response.order_sn_list"
SKU = "TEA-LONGJING-250G"

# Pinduoduo's pdd.order.number.list.increment.get, amounts in fen.
SPEC = """
channel = "pinduoduo"
topics = ["orders"]
root = "order_sn_increment_get_response.order_sn_list[]"
currency = "CNY"
region = "CN"
zone = "Asia/Shanghai"

[fields]
order_id = "order_sn"
placed_at = "created_time"
"buyer.buyer_id" = "buyer_id"
"address.country" = { const = "CN" }
shipping = { path = "postage", as = "minor" }
total = { path = "pay_amount", as = "minor" }

[fields.status]
path = "order_status"
as = "id"
map = { "1" = "paid", "2" = "shipped" }

[lines]
path = "item_list"

[lines.fields]
line_id = { path = "sku_id", as = "id" }
sku = "outer_id"
quantity = { path = "goods_count", as = "integer" }
unit_price = { path = "goods_price", as = "minor" }

[[offers]]
path = "seller_discount"
as = "minor"
issuer = "shop"

[[offers]]
path = "platform_discount"
as = "minor"
issuer = "pinduoduo"

[[events]]
type = "payment_captured"
when = "confirm_time"

[events.fields]
occurred_at = "confirm_time"
payment_id = "pay_no"
amount = { path = "pay_amount", as = "minor" }
"""


def spec_dict() -> dict[str, Any]:
    return tomllib.loads(SPEC)


# A key `payload` leaves out of the order.
_ABSENT = object()


def payload(**changes: object) -> dict[str, Any]:
    order: dict[str, Any] = {
        "order_sn": "261111-012345678901234",
        "order_status": 1,
        "created_time": "2026-11-11 00:00:12",
        "confirm_time": "2026-11-11 00:01:05",
        "pay_no": "4200002611112026111100009999",
        "buyer_id": "pdd_uid_88231",
        "postage": 0,
        "seller_discount": 1000,
        "platform_discount": 2000,
        "pay_amount": 22800,
        "item_list": [
            {
                "sku_id": 1100223344,
                "outer_id": SKU,
                "goods_count": 2,
                "goods_price": 12900,
            }
        ],
    }
    for key, value in changes.items():
        if value is _ABSENT:
            del order[key]
        else:
            order[key] = value
    return {"order_sn_increment_get_response": {"order_sn_list": [order]}}


def parse_one(fm: FieldMap, data: Any) -> ChannelOrder:
    (record,) = fm.parse(data, topic="orders")
    assert isinstance(record, ChannelOrder)
    return record


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def refused(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """Each problem of a refused spec, as (place, problem)."""
    with pytest.raises(ValidationError) as caught:
        FieldMap.from_dict(spec)
    error = caught.value
    problems = error.errors if isinstance(error, MappingError) else (error,)
    return [(problem.field, problem.problem) for problem in problems]


class TestOffersRead:
    """Each offer stated above zero is one order-level AmountOff, in spec order."""

    def test_two_offers_with_their_issuers(self) -> None:
        record = parse_one(FieldMap.from_toml(SPEC), payload())

        assert record.quote.offers == (
            AmountOff("seller_discount", cny("10.00"), issuer="shop"),
            AmountOff("platform_discount", cny("20.00"), issuer="pinduoduo"),
        )

    def test_the_quote_checks_out_against_the_stated_total(self) -> None:
        record = parse_one(FieldMap.from_toml(SPEC), payload())

        checked = validate(record.quote)

        assert checked.violations == ()
        assert checked.totals.total == cny("228.00") == record.quote.stated_total

    def test_money_by_default_with_a_code_of_its_own(self) -> None:
        spec = spec_dict()
        spec["offers"] = [
            {"path": "coupon.amount", "code": "PDD-COUPON-7", "issuer": "pinduoduo"}
        ]
        data = payload(coupon={"amount": "12.50"})

        record = parse_one(FieldMap.from_dict(spec), data)

        assert record.quote.offers == (
            AmountOff("PDD-COUPON-7", cny("12.50"), issuer="pinduoduo"),
        )

    def test_an_offer_without_an_issuer_has_none(self) -> None:
        spec = spec_dict()
        del spec["offers"][0]["issuer"]

        record = parse_one(FieldMap.from_dict(spec), payload())

        assert record.quote.offers[0] == AmountOff("seller_discount", cny("10.00"))

    def test_after_the_discount_target(self) -> None:
        spec = spec_dict()
        spec["fields"]["discount"] = {"path": "goods_discount", "as": "minor"}
        data = payload(goods_discount=500, pay_amount=22300)

        record = parse_one(FieldMap.from_dict(spec), data)

        assert [offer.code for offer in record.quote.offers] == [
            "goods_discount",
            "seller_discount",
            "platform_discount",
        ]
        assert validate(record.quote).violations == ()

    @pytest.mark.parametrize(
        "missing",
        [_ABSENT, None, 0, "", "0"],
        ids=["absent", "null", "zero", "empty", "zero-text"],
    )
    def test_an_absent_or_zero_offer_is_none(self, missing: object) -> None:
        data = payload(platform_discount=missing, pay_amount=24800)

        record = parse_one(FieldMap.from_toml(SPEC), data)

        assert [offer.code for offer in record.quote.offers] == ["seller_discount"]
        assert validate(record.quote).violations == ()

    def test_a_negative_offer_is_refused_at_its_payload_path(self) -> None:
        with pytest.raises(InvalidMoney) as caught:
            FieldMap.from_toml(SPEC).parse(
                payload(platform_discount=-2000), topic="orders"
            )

        assert caught.value.field == f"{ROOT}[0].platform_discount"
        assert caught.value.problem == "must not be negative"

    def test_a_malformed_offer_is_reported_with_the_others(self) -> None:
        data = payload(seller_discount="10.5", platform_discount=1.5)

        with pytest.raises(MappingError) as caught:
            FieldMap.from_toml(SPEC).parse(data, topic="orders")

        assert caught.value.paths == (
            f"{ROOT}[0].seller_discount",
            f"{ROOT}[0].platform_discount",
        )


class TestOffersSpec:
    """A wrong `[[offers]]` table is refused on loading, naming its place."""

    def test_a_path_is_required(self) -> None:
        spec = spec_dict()
        del spec["offers"][1]["path"]

        assert refused(spec) == [
            ("offers[1].path", "is required: the payload path of the amount")
        ]

    def test_a_path_must_be_a_path(self) -> None:
        spec = spec_dict()
        spec["offers"][0]["path"] = "a..b"

        assert [place for place, _ in refused(spec)] == ["offers[0].path"]

    def test_an_issuer_must_be_text(self) -> None:
        spec = spec_dict()
        spec["offers"][0]["issuer"] = 7

        assert refused(spec) == [("offers[0].issuer", "must be a non-empty string")]

    def test_a_code_must_be_text(self) -> None:
        spec = spec_dict()
        spec["offers"][1]["code"] = " "

        assert refused(spec) == [("offers[1].code", "must be a non-empty string")]

    def test_an_unknown_key_is_refused(self) -> None:
        spec = spec_dict()
        spec["offers"][1]["const"] = 100

        ((place, problem),) = refused(spec)

        assert place == "offers[1].const"
        assert problem.startswith("is not a key here; known: as, code, issuer, path")

    def test_only_money_converters(self) -> None:
        spec = spec_dict()
        spec["offers"][0]["as"] = "integer"
        spec["offers"][1]["as"] = "fen"

        problems = refused(spec)

        assert problems[0] == (
            "offers[0].as",
            "is not a converter for an offer; use money or minor",
        )
        assert problems[1][0] == "offers[1].as"

    @pytest.mark.parametrize("value", [{"path": "x"}, "x", [{"path": "x"}, 7]])
    def test_offers_must_be_a_list_of_tables(self, value: object) -> None:
        spec = spec_dict()
        spec["offers"] = value

        place, problem = refused(spec)[-1]

        if isinstance(value, list):
            assert (place, problem) == ("offers[1]", "must be a table (a JSON object)")
        else:
            assert (place, problem) == (
                "offers",
                "must be a list of offer tables ([[offers]])",
            )

    def test_two_offers_of_one_code_are_refused(self) -> None:
        spec = spec_dict()
        spec["offers"][1]["code"] = "seller_discount"

        ((place, problem),) = refused(spec)

        assert place == "offers[1].code"
        assert "repeats the offer code of offers[0]" in problem

    def test_two_paths_ending_in_one_key_need_codes(self) -> None:
        spec = spec_dict()
        spec["offers"] = [
            {"path": "shop.amount", "issuer": "shop"},
            {"path": "platform.amount", "issuer": "pinduoduo"},
        ]

        assert [place for place, _ in refused(spec)] == ["offers[1].code"]

    def test_an_offer_may_not_repeat_the_discount_targets_code(self) -> None:
        spec = spec_dict()
        spec["fields"]["discount"] = {"path": "seller_discount", "as": "minor"}

        ((place, problem),) = refused(spec)

        assert place == "offers[0].code"
        assert "repeats the offer code of fields.discount" in problem

    def test_every_problem_at_once(self) -> None:
        spec = spec_dict()
        spec["offers"][0]["issuer"] = ""
        spec["offers"][1] = {"as": "minor", "issuer": "pinduoduo", "colour": "red"}

        assert [place for place, _ in refused(spec)] == [
            "offers[0].issuer",
            "offers[1].colour",
            "offers[1].path",
        ]

    def test_dict_json_and_toml_are_equal(self) -> None:
        spec = spec_dict()
        from_toml = FieldMap.from_toml(SPEC)
        from_dict = FieldMap.from_dict(spec)
        from_json = FieldMap.from_json(json.dumps(spec))

        assert from_toml == from_dict == from_json
        assert hash(from_toml) == hash(from_json)

    def test_the_offers_tell_maps_apart(self) -> None:
        spec = spec_dict()
        spec["offers"][1]["issuer"] = "platform"

        assert FieldMap.from_dict(spec) != FieldMap.from_toml(SPEC)


class TestDesk:
    """The desk accepts an order whose discounts are all mapped."""

    def test_the_order_is_accepted_not_held_for_pricing(self) -> None:
        unit = MemoryUnitOfWork()
        clock = FrozenClock(pendulum.datetime(2026, 11, 10, 16, 5))
        with unit as uow:
            Ledger(uow.ledger, clock, outbox=uow.outbox).receive(
                SKU, "HZ-1", 10, key="PO-1"
            )
            uow.commit()
        desk = OrderDesk(
            unit,
            clock,
            DeskPolicy(locations=["HZ-1"]),
            Fingerprinter(b"offers-secret-of-16-bytes"),
        )
        record = parse_one(FieldMap.from_toml(SPEC), payload())

        outcome = desk.accept(record)

        assert isinstance(outcome, Accepted)
        assert outcome.order.status is OrderStatus.PAID
        assert outcome.order.review == ()


class TestNumericStatus:
    """A status sent as a JSON number, read as text, says how to read it."""

    # Without offers: the hint alone is under test.
    @staticmethod
    def status_as_text() -> dict[str, Any]:
        spec = spec_dict()
        del spec["offers"]
        del spec["fields"]["status"]["as"]
        return spec

    def test_the_error_names_the_id_converter(self) -> None:
        spec = self.status_as_text()
        data = payload(order_status=2, pay_amount=25800)

        with pytest.raises(ValidationError) as caught:
            FieldMap.from_dict(spec).parse(data, topic="orders")

        assert caught.value.field == f"{ROOT}[0].order_status"
        assert caught.value.problem == 'is a number, not text: read it with as = "id"'
        spec["fields"]["status"]["as"] = "id"
        record = parse_one(FieldMap.from_dict(spec), data)
        assert (record.status, record.channel_status) == (OrderStatus.SHIPPED, "2")

    def test_only_where_an_id_reads_the_target(self) -> None:
        spec = self.status_as_text()
        spec["fields"]["buyer.phone"] = {"path": "receiver_phone", "as": "text"}
        data = payload(receiver_phone=13800138000)

        with pytest.raises(MappingError) as caught:
            FieldMap.from_dict(spec).parse(data, topic="orders")

        assert {error.field: error.problem for error in caught.value.errors} == {
            f"{ROOT}[0].receiver_phone": "must be text",
            f"{ROOT}[0].order_status": 'is a number, not text: read it with as = "id"',
        }


# ----------------------------------------------------------------------
# Fuzz: hostile discounts map onto offers that price, or raise a typed error.

HOSTILE: list[object] = [
    _ABSENT,
    None,
    "",
    " ",
    0,
    "0",
    -1,
    True,
    1.5,
    Decimal("10.5"),
    "1e3",
    "-100",
    "\uff11\uff12",  # full-width digits
    10**40,
    "9" * 400,
    [],
    {},
]


class TestFuzz:
    """Whatever the discounts hold, the map gives valid offers or refuses."""

    @settings(max_examples=2 * settings().max_examples)
    @given(
        seller=st.one_of(st.sampled_from(HOSTILE), st.integers(-10, 30_000)),
        platform=st.one_of(st.sampled_from(HOSTILE), st.integers(-10, 30_000)),
    )
    def test_maps_or_raises_an_orderkit_error(
        self, seller: object, platform: object, fuzz_tally: Counter[str]
    ) -> None:
        fm = FieldMap.from_toml(SPEC)
        data = payload(seller_discount=seller, platform_discount=platform)
        try:
            record = parse_one(fm, copy.deepcopy(data))
        except OrderkitError as error:
            fuzz_tally[f"refused: {type(error).__name__}"] += 1
            return
        fuzz_tally["accepted"] += 1
        offers = record.quote.offers
        assert [offer.issuer for offer in offers] == [
            issuer
            for issuer, value in (("shop", seller), ("pinduoduo", platform))
            if value not in (_ABSENT, None, "", 0, "0")
        ]
        assert all(
            isinstance(offer, AmountOff) and offer.amount.amount > 0 for offer in offers
        )
        assert record == parse_one(fm, copy.deepcopy(data))
        price(record.quote)
