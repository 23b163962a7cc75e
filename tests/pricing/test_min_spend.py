"""Minimum spend (满减): an offer applies only when its goods reach a threshold."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.errors import InvalidOffer
from orderkit.money import Money
from orderkit.orders import OrderLine
from orderkit.pricing import (
    PERCENT_FIRST,
    AmountOff,
    FixedPrice,
    FreeShipping,
    Offer,
    PercentOff,
    PriceFloor,
    PricingPolicy,
    Quote,
    StackingPolicy,
    ViolationCode,
    price,
    validate,
)
from orderkit.serialization import make_converter
from orderkit.testing.strategies import money, order_lines


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


SCARF = OrderLine("L1", "SILK-SCARF", 1, usd("20.00"), "silk scarf")
TEAPOT = OrderLine("L1", "YIXING-TEAPOT", 2, cny("199.00"), "紫砂壶")
CUPS = OrderLine("L2", "CELADON-CUP", 3, cny("29.90"), "青瓷杯")
OVER_100 = AmountOff("X", usd("15.00"), min_spend=usd("100.00"))


def quote(
    lines: list[OrderLine],
    offers: list[Offer],
    *,
    shipping: Money | None = None,
    tax: Money | None = None,
    stated_total: Money | None = None,
) -> Quote:
    return Quote(
        "TB-2001", "taobao", lines, offers, shipping, tax, stated_total=stated_total
    )


class TestTheTrialCase:
    """15.00 off orders over 100.00, claimed on a 20.00 order."""

    def test_validate_holds_the_order(self) -> None:
        result = validate(quote([SCARF], [OVER_100], stated_total=usd("5.00")))

        assert not result.ok
        assert [
            (
                ViolationCode.BELOW_MIN_SPEND,
                "offers[0]",
                usd("100.00"),
                usd("20.00"),
            ),
            (ViolationCode.TOTAL_MISMATCH, "stated_total", usd("20.00"), usd("5.00")),
        ] == [(v.code, v.path, v.expected, v.actual) for v in result.violations]

    def test_the_violation_names_offer_threshold_and_subtotal(self) -> None:
        violation = validate(quote([SCARF], [OVER_100])).violations[0]

        assert "'X'" in violation.message
        assert "100.00 USD" in violation.message
        assert "20.00 USD" in violation.message
        assert (
            "未达优惠门槛（offers[0]）：应为 100.00 USD，实为 20.00 USD"  # noqa: RUF001
            == violation.describe("zh")
        )
        assert violation.describe("en").startswith(
            "Below the offer's minimum spend at offers[0]: "
        )

    def test_price_refuses_the_offer_with_the_subtotal(self) -> None:
        totals = price(quote([SCARF], [OVER_100]))

        assert usd("20.00") == totals.total
        assert () == totals.applied
        [refused] = totals.refused
        assert (0, "min_spend", usd("20.00")) == (
            refused.index,
            refused.reason,
            refused.subtotal,
        )


class TestThreshold:
    """What the threshold is measured against."""

    def test_reaching_it_exactly_applies_the_offer(self) -> None:
        line = OrderLine("L1", "SILK-SCARF", 5, usd("20.00"), "silk scarf")
        totals = price(quote([line], [OVER_100]))

        assert usd("85.00") == totals.total
        assert () == totals.refused
        assert validate(quote([line], [OVER_100])).ok

    def test_a_cent_under_refuses_it(self) -> None:
        line = OrderLine("L1", "SILK-SCARF", 1, usd("99.99"), "silk scarf")

        assert usd("99.99") == price(quote([line], [OVER_100])).total

    def test_only_the_offers_skus_count(self) -> None:
        cups_over_100 = AmountOff(
            "CUPS10", cny("10.00"), {"CELADON-CUP"}, min_spend=cny("100.00")
        )
        totals = price(quote([TEAPOT, CUPS], [cups_over_100]))

        # 398.00 of teapots does not help the cups (89.70) reach 100.00.
        assert [cny("89.70")] == [r.subtotal for r in totals.refused]

    def test_shipping_and_tax_do_not_count(self) -> None:
        totals = price(
            quote([SCARF], [OVER_100], shipping=usd("90.00"), tax=usd("10.00"))
        )

        assert ["min_spend"] == [r.reason for r in totals.refused]

    def test_an_earlier_fixed_price_lowers_it(self) -> None:
        now_45 = FixedPrice("NOW45", cny("45.00"), {"CELADON-CUP"})
        spend_140 = AmountOff("SPEND140", cny("15.00"), min_spend=cny("140.00"))
        line = OrderLine("L1", "CELADON-CUP", 3, cny("50.00"), "青瓷杯")
        # 150.00 at list price, 135.00 after the fixed price: claimed first,
        # the amount is applied second, fixed prices coming before amounts.
        totals = price(quote([line], [spend_140, now_45]))

        assert [("SPEND140", cny("135.00"))] == [
            (r.offer.code, r.subtotal) for r in totals.refused
        ]

    def test_a_later_percent_does_not_lower_it(self) -> None:
        spend_100 = AmountOff("SPEND100", cny("15.00"), min_spend=cny("100.00"))
        half = PercentOff("HALF", 50)
        line = OrderLine("L1", "CELADON-CUP", 1, cny("100.00"), "青瓷杯")
        totals = price(quote([line], [half, spend_100]))

        assert () == totals.refused
        assert cny("42.50") == totals.total

    def test_under_percent_first_the_percent_lowers_it(self) -> None:
        spend_100 = AmountOff("SPEND100", cny("15.00"), min_spend=cny("100.00"))
        half = PercentOff("HALF", 50)
        line = OrderLine("L1", "CELADON-CUP", 1, cny("100.00"), "青瓷杯")
        totals = price(
            quote([line], [spend_100, half]), StackingPolicy(order=PERCENT_FIRST)
        )

        assert [("SPEND100", cny("50.00"))] == [
            (r.offer.code, r.subtotal) for r in totals.refused
        ]
        assert cny("50.00") == totals.total

    def test_an_amount_claimed_before_lowers_the_next(self) -> None:
        line = OrderLine("L1", "CELADON-CUP", 1, cny("210.00"), "青瓷杯")
        over_100 = AmountOff("MAN100", cny("15.00"), min_spend=cny("100.00"))
        over_200 = AmountOff("MAN200", cny("30.00"), min_spend=cny("200.00"))

        first = price(quote([line], [over_100, over_200]))
        second = price(quote([line], [over_200, over_100]))

        assert [("MAN200", cny("195.00"))] == [
            (r.offer.code, r.subtotal) for r in first.refused
        ]
        assert cny("195.00") == first.total
        assert (cny("165.00"), ()) == (second.total, second.refused)

    def test_a_refused_offer_does_not_count_toward_max_stacked(self) -> None:
        ten_off = AmountOff("TEN", usd("10.00"))
        totals = price(
            quote([SCARF], [OVER_100, ten_off]), StackingPolicy(max_stacked=1)
        )

        assert ["TEN"] == [a.offer.code for a in totals.applied]
        assert ["min_spend"] == [r.reason for r in totals.refused]

    def test_a_percent_off_over_a_threshold(self) -> None:
        over_300 = PercentOff("ZHE9", 10, min_spend=cny("300.00"))

        assert cny("89.70") == price(quote([CUPS], [over_300])).total
        assert cny("438.93") == price(quote([TEAPOT, CUPS], [over_300])).total

    def test_a_threshold_in_another_currency_is_refused(self) -> None:
        in_usd = PercentOff("P", 10, min_spend=usd("1.00"))
        result = validate(quote([CUPS], [in_usd]))

        assert ["currency_mismatch"] == [r.reason for r in result.totals.refused]
        assert [ViolationCode.CURRENCY_MISMATCH] == [v.code for v in result.violations]


class TestFreeShipping:
    """Free shipping over a threshold (包邮门槛), measured after goods offers."""

    def test_under_it_shipping_is_charged(self) -> None:
        over_99 = FreeShipping("BAOYOU99", min_spend=cny("99.00"))
        result = validate(quote([CUPS], [over_99], shipping=cny("12.00")))

        assert cny("101.70") == result.totals.total
        assert [(ViolationCode.BELOW_MIN_SPEND, cny("89.70"))] == [
            (v.code, v.actual) for v in result.violations
        ]

    def test_goods_offers_come_first(self) -> None:
        over_400 = FreeShipping("BAOYOU400", min_spend=cny("400.00"))
        ten_off = AmountOff("TEN", cny("90.00"))
        lines = [TEAPOT, CUPS]

        assert (
            cny("487.70")
            == price(quote(lines, [over_400], shipping=cny("12.00"))).total
        )
        totals = price(quote(lines, [over_400, ten_off], shipping=cny("12.00")))
        assert [cny("397.70")] == [r.subtotal for r in totals.refused]


class TestFloors:
    """The floors are checked with the offer applied, as the buyer tried to pay."""

    def test_both_violations_are_reported(self) -> None:
        rules = PricingPolicy(floors=[PriceFloor("SILK-SCARF", usd("10.00"))])
        result = validate(quote([SCARF], [OVER_100]), rules)

        assert [
            (ViolationCode.BELOW_MIN_SPEND, "offers[0]"),
            (ViolationCode.BELOW_FLOOR, "lines[0].unit_price"),
        ] == [(v.code, v.path) for v in result.violations]


class TestBadInput:
    """A threshold that is not a non-negative Money in the offer's currency."""

    @pytest.mark.parametrize(
        "value", [100, Decimal(100), "100.00", 100.0, usd("-0.01")]
    )
    @pytest.mark.parametrize(
        "make",
        [
            lambda v: AmountOff("X", usd("15.00"), min_spend=v),
            lambda v: PercentOff("P", 10, min_spend=v),
            lambda v: FreeShipping("F", min_spend=v),
        ],
        ids=["amount", "percent", "free_shipping"],
    )
    def test_refused(self, make: Callable[[object], Offer], value: object) -> None:
        with pytest.raises(InvalidOffer) as caught:
            make(value)

        assert ("min_spend", value) == (caught.value.field, caught.value.value)
        assert "min_spend" in str(caught.value)

    def test_an_amount_off_in_another_currency(self) -> None:
        with pytest.raises(InvalidOffer, match="offer's currency, USD") as caught:
            AmountOff("X", usd("15.00"), min_spend=cny("100.00"))

        assert ("min_spend", cny("100.00")) == (caught.value.field, caught.value.value)

    def test_zero_and_none_are_fine(self) -> None:
        assert usd("0.00") == AmountOff("X", usd("1"), min_spend=usd("0")).min_spend
        assert AmountOff("X", usd("1")).min_spend is None


class TestSerialization:
    """Offers round-trip with the threshold; documents without it still load."""

    @pytest.mark.parametrize(
        "offer",
        [
            OVER_100,
            PercentOff("ZHE9", 10, {"CELADON-CUP"}, min_spend=cny("300.00")),
            FreeShipping("BAOYOU99", min_spend=cny("99.00")),
            FreeShipping("FREE"),
        ],
    )
    def test_round_trip(self, offer: Offer) -> None:
        converter = make_converter()

        assert offer == converter.loads(converter.dumps(offer), type(offer))
        assert offer == converter.structure(converter.unstructure(offer), Offer)

    def test_the_threshold_is_written(self) -> None:
        written = make_converter().unstructure(OVER_100)

        assert {"amount": "100.00", "currency": "USD"} == written["min_spend"]

    @pytest.mark.parametrize(
        ("document", "expected"),
        [
            (
                b'{"code":"X","amount":{"amount":"15.00","currency":"USD"},"skus":[]}',
                AmountOff("X", usd("15.00")),
            ),
            (b'{"code":"P","percent":"10","skus":[]}', PercentOff("P", 10)),
            (b'{"code":"F"}', FreeShipping("F")),
        ],
    )
    def test_old_documents_load(self, document: bytes, expected: Offer) -> None:
        converter = make_converter()

        assert expected == converter.loads(document, type(expected))
        assert expected == converter.loads(document, Offer)


@given(
    st.lists(order_lines("CNY"), min_size=1, max_size=4, unique_by=lambda x: x.line_id),
    money("CNY", min_minor=0, max_minor=10**6),
    money("CNY", min_minor=0, max_minor=10**9),
)
def test_applies_exactly_when_the_goods_reach_it(
    lines: list[OrderLine], amount: Money, least: Money
) -> None:
    with_it = price(quote(lines, [AmountOff("A", amount, min_spend=least)]))
    without = price(quote(lines, [AmountOff("A", amount)]))
    goods = without.goods

    if goods >= least:
        assert (without.total, ()) == (with_it.total, with_it.refused)
    else:
        assert goods == with_it.total
        assert [goods] == [r.subtotal for r in with_it.refused]
