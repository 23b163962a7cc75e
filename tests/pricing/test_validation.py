"""Validation: every violation at once, a hold reason, and the Shopify fixture."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderkit.adapters.channels import ShopifyPayloads
from orderkit.errors import ValidationError
from orderkit.integrations import ChannelOrder, load_json
from orderkit.money import Money
from orderkit.orders import OrderLine
from orderkit.pricing import (
    AmountOff,
    PercentOff,
    PriceFloor,
    PricingPolicy,
    Quote,
    StackingPolicy,
    TotalsPolicy,
    Validation,
    ViolationCode,
    validate,
)


FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "fixtures/channels/shopify/order-3-line-items-discount-shipping.json"
)


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def shopify_quote() -> Quote:
    """The canonical quote built from the fixture's own figures."""
    payload: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))["order"]
    currency = payload["currency"]
    lines = [
        OrderLine(
            str(item["id"]),
            item["sku"],
            item["quantity"],
            Money(item["price"], currency),
        )
        for item in payload["line_items"]
    ]
    offers = [
        AmountOff(d["code"], Money(d["amount"], currency))
        for d in payload["discount_codes"]
    ]
    shipping = sum(
        (Money(s["price"], currency) for s in payload["shipping_lines"]),
        Money.zero(currency),
    )
    return Quote(
        str(payload["id"]),
        "shopify",
        lines,
        offers,
        shipping=shipping,
        tax=Money(payload["total_tax"], currency),
        stated_total=Money(payload["total_price"], currency),
        taxes_included=payload["taxes_included"],
    )


def mapped_quote() -> Quote:
    """The same fixture read by the Shopify adapter (the channels issue's rerun)."""
    payload = load_json(FIXTURE.read_bytes())
    [order] = ShopifyPayloads().parse(payload, topic="orders/create")
    assert isinstance(order, ChannelOrder)
    return order.quote


@pytest.fixture(params=[shopify_quote, mapped_quote], ids=["canonical", "mapped"])
def fixture_quote(request: pytest.FixtureRequest) -> Quote:
    """The Shopify fixture's quote, built by hand and read by the adapter."""
    build: Any = request.param
    quote: Quote = build()
    return quote


class TestShopifyFixture:
    """Shopify's own order states 409.94 where its figures make 598.94."""

    def test_the_figures(self, fixture_quote: Quote) -> None:
        q = fixture_quote

        assert 3 == len(q.lines)
        assert usd("409.94") == q.stated_total

    def test_reject_holds_the_order(self, fixture_quote: Quote) -> None:
        result = validate(fixture_quote, PricingPolicy(totals=TotalsPolicy.REJECT))

        assert not result.ok
        [violation] = result.violations
        assert ViolationCode.TOTAL_MISMATCH == violation.code
        assert "stated_total" == violation.path
        assert (usd("598.94"), usd("409.94")) == (violation.expected, violation.actual)
        assert result.accepted_total is None
        assert result.hold_reason is not None
        assert "598.94 USD" in result.hold_reason
        assert "金额不符" in result.hold_reason

    def test_accept_takes_the_channel_total_with_a_warning(
        self, fixture_quote: Quote
    ) -> None:
        result = validate(fixture_quote, PricingPolicy(totals="accept_channel"))

        assert result.ok
        assert result.hold_reason is None
        assert usd("409.94") == result.accepted_total
        assert [ViolationCode.TOTAL_MISMATCH] == [w.code for w in result.warnings]
        assert usd("598.94") == result.totals.total


class TestAChannelTotalBelowTheFloors:
    """What a channel's total takes off is a discount: the floors see it too."""

    LINES = (OrderLine("L1", "YIXING-TEAPOT", 2, cny("199.00"), "紫砂壶"),)
    # 144.00 a unit: two teapots may not net under 288.00.
    FLOOR = PriceFloor.from_cost("YIXING-TEAPOT", cny("120.00"), "1.2")

    def validated(
        self, stated: str, totals: TotalsPolicy = TotalsPolicy.ACCEPT_CHANNEL
    ) -> Validation:
        rules = PricingPolicy(floors=[self.FLOOR], totals=totals)
        quote = Quote("TB-1", "taobao", self.LINES, stated_total=cny(stated))
        return validate(quote, rules)

    def test_a_total_under_the_floors_holds_the_order(self) -> None:
        result = self.validated("100.00")

        assert not result.ok
        assert result.accepted_total is None
        [violation] = result.violations
        assert (ViolationCode.BELOW_FLOOR, "lines[0]") == (
            violation.code,
            violation.path,
        )
        assert (cny("288.00"), cny("100.00")) == (violation.expected, violation.actual)

    def test_rejecting_the_total_still_says_it_is_under_the_floors(self) -> None:
        result = self.validated("100.00", TotalsPolicy.REJECT)

        assert [(v.code, v.path) for v in result.violations] == [
            (ViolationCode.TOTAL_MISMATCH, "stated_total"),
            (ViolationCode.BELOW_FLOOR, "lines[0]"),
        ]

    @pytest.mark.parametrize("stated", ["288.00", "300.00", "450.00"])
    def test_a_total_at_or_over_the_floors_is_taken_with_a_warning(
        self, stated: str
    ) -> None:
        result = self.validated(stated)

        assert result.ok
        assert cny(stated) == result.accepted_total
        assert [ViolationCode.TOTAL_MISMATCH] == [w.code for w in result.warnings]


LINES = [
    OrderLine("L1", "AIR-FRYER", 2, cny("399.00"), "空气炸锅"),
    OrderLine("L2", "RICE-COOKER", 1, cny("259.00"), "电饭煲"),
    OrderLine("L3", "CHOPSTICKS", 10, cny("9.90"), "筷子"),
]


def quote(*offers: Any, stated: Money | None = None) -> Quote:
    return Quote("DY-2001", "douyin", LINES, offers, stated_total=stated)


class TestViolations:
    """Every violation at once, each with a code, a path and both values."""

    def test_a_matching_total_passes(self) -> None:
        result = validate(quote(stated=cny("1156.00")))

        assert result.ok
        assert cny("1156.00") == result.accepted_total
        assert () == result.warnings

    def test_no_stated_total_accepts_the_computed_one(self) -> None:
        assert cny("1156.00") == validate(quote()).accepted_total

    def test_the_abusive_stack_of_incident_2(self) -> None:
        # A store-wide coupon on top of a flash sale, pushing fryers under cost.
        policy = PricingPolicy(
            stacking=StackingPolicy(exclusive={"percent"}),
            floors=[PriceFloor.from_cost("AIR-FRYER", cny("260.00"), "1.05")],
            max_line_quantity=5,
            max_order_quantity=12,
        )
        lines = [*LINES[:2], OrderLine("L3", "CHOPSTICKS", 20, cny("9.90"))]
        q = Quote(
            "DY-2002",
            "douyin",
            lines,
            [PercentOff("FLASH40", 40), AmountOff("STORE100", cny("100.00"))],
            stated_total=cny("498.40"),
        )

        result = validate(q, policy)

        assert [
            (ViolationCode.OFFER_REFUSED, "offers[0]"),
            (ViolationCode.BELOW_FLOOR, "lines[0].unit_price"),
            (ViolationCode.QUANTITY_LIMIT, "lines[2].quantity"),
            (ViolationCode.QUANTITY_LIMIT, "lines"),
            (ViolationCode.TOTAL_MISMATCH, "stated_total"),
        ] == [(v.code, v.path) for v in result.violations]
        floor = result.violations[1]
        assert cny("273.00") == floor.expected
        # STORE100 takes 63.59 off 798.00, FLASH40 40% of the rest: 440.65 / 2.
        assert cny("220.32") == floor.actual
        assert result.hold_reason is not None
        assert result.hold_reason.count("\n- ") == 2 * len(result.violations)

    def test_a_line_one_fen_under_its_floor(self) -> None:
        policy = PricingPolicy(floors=[PriceFloor("RICE-COOKER", cny("233.11"))])

        result = validate(quote(PercentOff("TEN", 10, {"RICE-COOKER"})), policy)

        # 10% off 259.00 nets 233.10.
        assert [(ViolationCode.BELOW_FLOOR, cny("233.11"), cny("233.10"))] == [
            (v.code, v.expected, v.actual) for v in result.violations
        ]

    def test_a_line_at_its_floor_passes(self) -> None:
        policy = PricingPolicy(floors=[PriceFloor("RICE-COOKER", cny("233.10"))])

        assert validate(quote(PercentOff("TEN", 10, {"RICE-COOKER"})), policy).ok

    def test_floor_in_another_currency(self) -> None:
        policy = PricingPolicy(floors=[PriceFloor("AIR-FRYER", usd("40.00"))])

        [violation] = validate(quote(), policy).violations

        assert (ViolationCode.CURRENCY_MISMATCH, "lines[0].unit_price") == (
            violation.code,
            violation.path,
        )

    def test_stated_total_in_another_currency(self) -> None:
        [violation] = validate(quote(stated=usd("160.00"))).violations

        assert (ViolationCode.CURRENCY_MISMATCH, "CNY", "USD") == (
            violation.code,
            violation.expected,
            violation.actual,
        )

    def test_negative_stated_total(self) -> None:
        [violation] = validate(quote(stated=cny("-1.00"))).violations

        assert ViolationCode.NEGATIVE_TOTAL == violation.code

    def test_an_offer_in_another_currency(self) -> None:
        result = validate(quote(AmountOff("USD5", usd("5.00"))))

        assert [(ViolationCode.CURRENCY_MISMATCH, "offers[0]", "USD5")] == [
            (v.code, v.path, v.actual) for v in result.violations
        ]

    def test_describe_in_both_languages(self) -> None:
        [violation] = validate(quote(stated=cny("1.00"))).violations

        assert violation.describe("en").startswith(
            "Total does not add up at stated_total"
        )
        assert "应为 1156.00 CNY，实为 1.00 CNY" in violation.describe("zh")  # noqa: RUF001


class TestPolicy:
    """A bad policy is refused when built, naming the field."""

    def test_two_floors_for_one_sku(self) -> None:
        floor = PriceFloor("AIR-FRYER", cny("200.00"))

        with pytest.raises(ValidationError, match=r"floors\[1\]\.sku"):
            PricingPolicy(floors=[floor, floor])

    def test_unknown_totals_policy(self) -> None:
        with pytest.raises(ValidationError, match="totals"):
            PricingPolicy(totals="shrug")

    def test_zero_quantity_limit(self) -> None:
        with pytest.raises(ValidationError, match="max_line_quantity"):
            PricingPolicy(max_line_quantity=0)

    def test_floor_lookup(self) -> None:
        floor = PriceFloor("AIR-FRYER", cny("200.00"))
        policy = PricingPolicy(floors=[floor])

        assert (floor, None) == (policy.floor("AIR-FRYER"), policy.floor("WOK"))


class TestPriceFloor:
    """Floors are absolute, or a ratio of cost rounded up."""

    def test_from_cost_rounds_up(self) -> None:
        assert cny("10.99") == PriceFloor.from_cost("TEA", cny("9.99"), "1.1").price

    def test_from_cost_at_cost(self) -> None:
        assert cny("9.99") == PriceFloor.from_cost("TEA", cny("9.99")).price

    @pytest.mark.parametrize("ratio", [0, "-1", 1.1, "abc", Decimal("Infinity")])
    def test_bad_ratio(self, ratio: Any) -> None:
        with pytest.raises(ValidationError) as caught:
            PriceFloor.from_cost("TEA", cny("9.99"), ratio)

        assert ("ratio", ratio) == (caught.value.field, caught.value.value)

    def test_negative_price(self) -> None:
        with pytest.raises(ValidationError, match="price"):
            PriceFloor("TEA", cny("-0.01"))

    def test_negative_cost(self) -> None:
        with pytest.raises(ValidationError, match="cost"):
            PriceFloor.from_cost("TEA", cny("-0.01"))
