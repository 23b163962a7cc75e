"""Offers and stacking: declared order, exclusivity, combinations, caps."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderkit.errors import InvalidMoney, InvalidOffer, InvalidQuantity
from orderkit.money import Money
from orderkit.orders import OrderLine
from orderkit.pricing import (
    AmountOff,
    BuyXGetY,
    FixedPrice,
    FreeShipping,
    OfferKind,
    PercentOff,
    StackingPolicy,
    apply_offers,
    offer_kind,
)


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


MOONCAKES = OrderLine("L1", "MOONCAKE-BOX", 5, cny("88.00"), "月饼礼盒")
LANTERN = OrderLine("L2", "RED-LANTERN", 2, cny("35.00"), "红灯笼")
LINES = [MOONCAKES, LANTERN]

STORE_COUPON = AmountOff("STORE30", cny("30.00"))
FLASH_SALE = PercentOff("FLASH20", 20)
SHIP_FREE = FreeShipping("FREESHIP")


class TestOfferKinds:
    """Every kind computes what its name promises."""

    def test_fixed_price(self) -> None:
        totals = apply_offers(
            LINES, [FixedPrice("NOW66", cny("66.00"), {"MOONCAKE-BOX"})]
        )

        assert cny("110.00") == totals.lines[0].line_discount

    def test_fixed_price_above_the_price_takes_nothing(self) -> None:
        totals = apply_offers(
            LINES, [FixedPrice("NOW99", cny("99.00"), {"MOONCAKE-BOX"})]
        )

        assert cny("0.00") == totals.line_discounts

    def test_buy_two_get_one(self) -> None:
        totals = apply_offers(LINES, [BuyXGetY("B2G1", 2, 1, {"MOONCAKE-BOX"})])

        # 5 boxes: one group of three, so one box free.
        assert cny("88.00") == totals.lines[0].line_discount

    def test_free_units_are_worth_what_an_earlier_offer_made_them(self) -> None:
        # "Now only 66" first (the default order), then buy 2, get 1: one of
        # the five boxes is free at 66, not at its list price of 88.
        totals = apply_offers(
            LINES,
            [
                FixedPrice("NOW66", cny("66.00"), {"MOONCAKE-BOX"}),
                BuyXGetY("B2G1", 2, 1, {"MOONCAKE-BOX"}),
            ],
        )

        assert cny("264.00") == totals.lines[0].net  # 4 boxes at 66

    def test_percent_of_the_whole_order(self) -> None:
        totals = apply_offers(LINES, [FLASH_SALE])

        assert cny("102.00") == totals.order_discounts

    def test_free_shipping(self) -> None:
        totals = apply_offers(LINES, [SHIP_FREE], shipping=cny("15.00"))

        assert cny("15.00") == totals.shipping_discount
        assert cny("510.00") == totals.total


class TestStacking:
    """The policy picks which claimed offers apply, deterministically."""

    def test_everything_stacks_by_default(self) -> None:
        totals = apply_offers(LINES, [FLASH_SALE, STORE_COUPON])

        # Amounts before percentages: 20% of (510 - 30).
        assert cny("126.00") == totals.order_discounts
        assert () == totals.refused

    def test_exclusive_offer_keeps_the_rest_out(self) -> None:
        policy = StackingPolicy(exclusive={"percent"})

        totals = apply_offers(LINES, [FLASH_SALE, STORE_COUPON], policy=policy)

        assert ["STORE30"] == [a.offer.code for a in totals.applied]
        assert [("FLASH20", "exclusive", 0)] == [
            (r.offer.code, r.reason, r.index) for r in totals.refused
        ]

    def test_exclusive_offer_first_in_order_wins(self) -> None:
        policy = StackingPolicy(exclusive={"amount"})

        totals = apply_offers(LINES, [FLASH_SALE, STORE_COUPON], policy=policy)

        assert ["STORE30"] == [a.offer.code for a in totals.applied]
        assert ["exclusive"] == [r.reason for r in totals.refused]

    def test_only_listed_kinds_combine(self) -> None:
        policy = StackingPolicy(combinable=[("amount", "free_shipping")])

        totals = apply_offers(
            LINES, [FLASH_SALE, STORE_COUPON, SHIP_FREE], policy=policy
        )

        assert ["STORE30", "FREESHIP"] == [a.offer.code for a in totals.applied]
        assert ["not_combinable"] == [r.reason for r in totals.refused]

    def test_max_stacked(self) -> None:
        policy = StackingPolicy(max_stacked=2)

        totals = apply_offers(
            LINES, [SHIP_FREE, FLASH_SALE, STORE_COUPON], policy=policy
        )

        assert ["FREESHIP"] == [r.offer.code for r in totals.refused]

    def test_the_same_code_twice(self) -> None:
        totals = apply_offers(LINES, [STORE_COUPON, STORE_COUPON])

        assert [("duplicate_code", 1)] == [(r.reason, r.index) for r in totals.refused]

    def test_an_offer_in_another_currency_is_refused(self) -> None:
        totals = apply_offers(LINES, [AmountOff("USD5", Money("5.00", "USD"))])

        assert ["currency_mismatch"] == [r.reason for r in totals.refused]
        assert cny("0.00") == totals.order_discounts

    def test_line_cap(self) -> None:
        policy = StackingPolicy(line_cap=Decimal(10))

        totals = apply_offers(LINES, [FLASH_SALE, STORE_COUPON], policy=policy)

        assert [cny("44.00"), cny("7.00")] == [x.order_discount for x in totals.lines]

    def test_order_cap(self) -> None:
        policy = StackingPolicy(order_cap=Decimal(15))

        totals = apply_offers(LINES, [FLASH_SALE, STORE_COUPON], policy=policy)

        assert cny("76.50") == totals.order_discounts  # 15% of 510.00


class TestBadInput:
    """Bad offers and policies raise a typed error naming the field and value."""

    @pytest.mark.parametrize("percent", [Decimal(-1), Decimal("100.01"), 101, "NaN"])
    def test_percent_outside_0_to_100(self, percent: object) -> None:
        with pytest.raises(InvalidOffer) as caught:
            PercentOff("BAD", percent)  # type: ignore[arg-type]

        assert ("percent", percent) == (caught.value.field, caught.value.value)

    @pytest.mark.parametrize("percent", [12.5, True, "twelve"])
    def test_percent_not_a_decimal(self, percent: object) -> None:
        with pytest.raises(InvalidOffer, match="percent"):
            PercentOff("BAD", percent)  # type: ignore[arg-type]

    def test_float_amount(self) -> None:
        with pytest.raises(InvalidMoney, match="floats"):
            AmountOff("BAD", Money(9.99, "CNY"))  # type: ignore[arg-type]

    def test_negative_amount(self) -> None:
        with pytest.raises(InvalidOffer, match="amount"):
            AmountOff("BAD", cny("-5.00"))

    def test_amount_that_is_not_money(self) -> None:
        with pytest.raises(InvalidOffer, match="amount"):
            AmountOff("BAD", "5.00")  # type: ignore[arg-type]

    def test_fixed_price_without_skus(self) -> None:
        with pytest.raises(InvalidOffer, match="skus"):
            FixedPrice("BAD", cny("1.00"), set())

    def test_skus_as_a_string(self) -> None:
        with pytest.raises(InvalidOffer, match="skus"):
            PercentOff("BAD", 5, "MOONCAKE-BOX")

    def test_buy_zero(self) -> None:
        with pytest.raises(InvalidQuantity, match="buy"):
            BuyXGetY("BAD", 0, 1, {"X"})

    def test_unknown_kind(self) -> None:
        with pytest.raises(InvalidOffer) as caught:
            offer_kind("half_price")

        assert "half_price" == caught.value.value

    def test_policy_with_an_unknown_kind(self) -> None:
        with pytest.raises(InvalidOffer, match="exclusive"):
            StackingPolicy(exclusive={"half_price"})

    def test_order_missing_a_kind(self) -> None:
        with pytest.raises(InvalidOffer, match="every offer kind"):
            StackingPolicy(order=[OfferKind.PERCENT, OfferKind.AMOUNT])

    def test_combinable_not_pairs(self) -> None:
        with pytest.raises(InvalidOffer, match=r"combinable\[0\]"):
            StackingPolicy(combinable=[("percent",)])

    @pytest.mark.parametrize(
        "cap",
        [
            Decimal(101),
            50,
            Decimal(-1),
            Decimal("NaN"),
            Decimal("sNaN"),
            Decimal("Inf"),
        ],
    )
    @pytest.mark.parametrize("field", ["line_cap", "order_cap"])
    def test_cap_outside_0_to_100(self, cap: object, field: str) -> None:
        with pytest.raises(InvalidOffer) as caught:
            StackingPolicy(**{field: cap})  # type: ignore[arg-type]
        assert caught.value.field == field

    def test_max_stacked_zero(self) -> None:
        with pytest.raises(InvalidOffer, match="max_stacked"):
            StackingPolicy(max_stacked=0)
