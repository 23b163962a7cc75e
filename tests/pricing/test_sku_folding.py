"""Floors and offers match a line's SKU folded, as purchase limits do.

A channel that types `yixing-teapot`, `"YIXING-TEAPOT "` or the SKU in
full-width letters sells the product floored and discounted as
`YIXING-TEAPOT`, and counted by purchase limits as it (user trial price29,
finding 3): a floor that matched only the exact text let a 60% coupon take
the teapot under it unseen.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.dedupe import normalize_sku
from orderkit.errors import ValidationError
from orderkit.money import Money
from orderkit.orders import OrderLine
from orderkit.pricing import (
    AmountOff,
    BuyXGetY,
    FixedPrice,
    LimitRule,
    LimitScope,
    Offer,
    PercentOff,
    PriceFloor,
    PricingPolicy,
    PurchaseContext,
    Quote,
    ViolationCode,
    limit_keys,
    price,
    validate,
)


TEAPOT = "YIXING-TEAPOT"
SPELLINGS = (
    TEAPOT,
    "yixing-teapot",
    "YIXING-TEAPOT ",
    "  Yixing-Teapot",
    "\uff39\uff29\uff38\uff29\uff2e\uff27-\uff34\uff25\uff21\uff30\uff2f\uff34",
    "\uff59\uff49\uff58\uff49\uff4e\uff47\uff0d\uff54\uff45\uff41\uff50\uff4f\uff54",
)
FLOOR = PricingPolicy(
    floors=[PriceFloor.from_cost(TEAPOT, Money("120.00", "CNY"), "1.2")]
)


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def quote(
    sku: str,
    offers: list[Offer],
    *,
    quantity: int = 1,
    stated_total: Money | None = None,
) -> Quote:
    lines = [
        OrderLine("L1", sku, quantity, cny("199.00")),
        OrderLine("L2", "CUP_2", 2, cny("30.00")),
    ]
    return Quote("TB-1", "taobao", lines, offers, stated_total=stated_total)


# A SKU of ASCII letters, digits and hyphens, spelt another way: each letter
# in either case, each character plain or full-width (U+FF01..U+FF5E are
# U+0021..U+007E shifted), and spaces around it.
BASES = st.from_regex(r"[A-Z][A-Z0-9-]{0,14}[A-Z0-9]", fullmatch=True)


def _full_width(char: str) -> str:
    return chr(ord(char) + 0xFEE0)


@st.composite
def spelling(draw: st.DrawFn, base: str) -> str:
    chars = []
    for char in base:
        if char.isalpha() and draw(st.booleans()):
            char = char.lower()  # noqa: PLW2901 - respelt in place
        if draw(st.booleans()):
            char = _full_width(char)  # noqa: PLW2901
        chars.append(char)
    before, after = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    return " " * before + "".join(chars) + " " * after


@st.composite
def base_and_spelling(draw: st.DrawFn) -> tuple[str, str]:
    base = draw(BASES)
    return base, draw(spelling(base))


def nets(sku: str, offers: list[Offer], quantity: int = 1) -> list[Money]:
    return [line.net for line in price(quote(sku, offers, quantity=quantity)).lines]


class TestTheTrialsTeapot:
    @pytest.mark.parametrize("sku", SPELLINGS, ids=repr)
    def test_every_spelling_is_held_under_the_floor(self, sku: str) -> None:
        checked = validate(quote(sku, [PercentOff("FLASH60", 60)]), FLOOR)
        (violation,) = checked.violations
        assert ViolationCode.BELOW_FLOOR == violation.code
        assert "lines[0].unit_price" == violation.path
        assert cny("144.00") == violation.expected
        assert cny("79.60") == violation.actual
        assert f"{sku!r} nets 79.60 CNY" in violation.message

    @pytest.mark.parametrize("sku", SPELLINGS, ids=repr)
    def test_every_spelling_is_one_purchase_limit_key_too(self, sku: str) -> None:
        rule = LimitRule(LimitScope.BUYER, 2, dt.timedelta(days=1), sku=TEAPOT)
        context = PurchaseContext(buyer_id="b1", skus=[sku], quantities=[1])
        (key,) = limit_keys([rule], context)
        assert "buyer:b1|sku:yixing-teapot" == key.key

    @pytest.mark.parametrize("sku", SPELLINGS, ids=repr)
    def test_the_policy_finds_the_floor_of_any_spelling(self, sku: str) -> None:
        assert FLOOR.floors[0] == FLOOR.floor(sku)

    def test_a_sku_with_other_punctuation_is_another_sku(self) -> None:
        # Folding is the limits' and dedupe's: `"A-1"` and `"A1"` stay apart.
        assert FLOOR.floor("YIXINGTEAPOT") is None
        assert validate(quote("YIXING TEAPOT", [PercentOff("F", 60)]), FLOOR).ok


class TestFloors:
    @given(base_and_spelling())
    def test_any_spelling_of_a_floored_sku_is_checked_against_it(
        self, found: tuple[str, str]
    ) -> None:
        base, sku = found
        policy = PricingPolicy(floors=[PriceFloor(base, cny("144.00"))])
        checked = validate(quote(sku, [PercentOff("FLASH60", 60)]), policy)
        assert [("below_floor", "lines[0].unit_price", cny("79.60"))] == [
            (v.code.value, v.path, v.actual) for v in checked.violations
        ]
        assert policy.floors[0] == policy.floor(sku)

    @given(base_and_spelling())
    def test_a_spelling_at_or_over_its_floor_passes(
        self, found: tuple[str, str]
    ) -> None:
        base, sku = found
        policy = PricingPolicy(floors=[PriceFloor(base, cny("79.60"))])
        assert validate(quote(sku, [PercentOff("FLASH60", 60)]), policy).ok

    @given(base_and_spelling())
    def test_a_channel_total_under_the_floor_holds_any_spelling(
        self, found: tuple[str, str]
    ) -> None:
        # No offer claimed: the channel's total alone takes 120.00 off.
        base, sku = found
        policy = PricingPolicy(floors=[PriceFloor(base, cny("144.00"))])
        checked = validate(quote(sku, [], stated_total=cny("139.00")), policy)
        floored = [v for v in checked.violations if v.code is ViolationCode.BELOW_FLOOR]
        assert ["lines[0]"] == [v.path for v in floored]

    @given(st.data(), BASES)
    def test_two_floors_whose_skus_fold_equal_are_refused(
        self, data: st.DataObject, base: str
    ) -> None:
        first = data.draw(spelling(base))
        second = data.draw(spelling(base).filter(lambda s: s != first))
        floors = [
            PriceFloor("CUP_2", cny("10.00")),
            PriceFloor(first, cny("144.00")),
            PriceFloor(second, cny("150.00")),
        ]
        with pytest.raises(ValidationError) as raised:
            PricingPolicy(floors=floors)
        assert "floors[2].sku" == raised.value.field
        assert second == raised.value.value
        assert "floors[1]" in str(raised.value)

    def test_the_trials_tea_and_tea_are_refused(self) -> None:
        with pytest.raises(ValidationError, match=r"floors\[1\]\.sku") as raised:
            PricingPolicy(
                floors=[PriceFloor("TEA", cny("1.00")), PriceFloor("tea", cny("2.00"))]
            )
        assert "tea" == raised.value.value

    def test_one_sku_twice_is_refused_as_before(self) -> None:
        with pytest.raises(ValidationError, match="has a floor already"):
            PricingPolicy(
                floors=[PriceFloor("TEA", cny("1.00")), PriceFloor("TEA", cny("2.00"))]
            )


OFFERS_FOR: dict[str, Callable[[str], Offer]] = {
    "percent": lambda sku: PercentOff("P", 60, {sku}),
    "amount": lambda sku: AmountOff("A", cny("50.00"), {sku}),
    "amount_min_spend": lambda sku: AmountOff(
        "M", cny("50.00"), {sku}, min_spend=cny("398.00")
    ),
    "fixed_price": lambda sku: FixedPrice("F", cny("99.00"), {sku}),
    "buy_x_get_y": lambda sku: BuyXGetY("B", 1, 1, {sku}),
}


class TestOfferSkus:
    @pytest.mark.parametrize("kind", sorted(OFFERS_FOR))
    @given(found=base_and_spelling())
    def test_an_offer_for_a_sku_applies_to_its_spellings(
        self, kind: str, found: tuple[str, str]
    ) -> None:
        base, sku = found
        offer = OFFERS_FOR[kind](base)
        as_named = price(quote(base, [offer], quantity=2))
        respelt = price(quote(sku, [offer], quantity=2))
        assert as_named.total == respelt.total
        assert [ln.net for ln in as_named.lines] == [ln.net for ln in respelt.lines]
        assert [a.amount for a in as_named.applied] == [
            a.amount for a in respelt.applied
        ]
        assert as_named.total < price(quote(base, [], quantity=2)).total
        assert sku == respelt.lines[0].sku  # reported as the channel sent it

    @given(base_and_spelling())
    def test_an_offer_named_in_another_spelling_applies_to_the_line(
        self, found: tuple[str, str]
    ) -> None:
        base, sku = found
        assert nets(base, [PercentOff("P", 60, {base})]) == nets(
            base, [PercentOff("P", 60, {sku})]
        )

    def test_the_trials_flash_coupon_on_the_sku_is_held_under_the_floor(
        self,
    ) -> None:
        for sku in SPELLINGS:
            checked = validate(quote(sku, [PercentOff("F", 60, {TEAPOT})]), FLOOR)
            assert [cny("79.60")] == [v.actual for v in checked.violations], sku

    def test_an_offer_naming_two_spellings_of_one_sku_applies_once(self) -> None:
        offer = PercentOff("P", 10, {"TEA", "tea "})
        assert [cny("179.10"), cny("60.00")] == nets("Tea", [offer])
        assert [cny("179.10"), cny("60.00")] == nets(
            "Tea", [PercentOff("P", 10, {"TEA"})]
        )

    def test_an_offer_on_a_min_spend_counts_every_spelling(self) -> None:
        # Two lines of one SKU spelt two ways reach 满减 398.00 together.
        lines = [
            OrderLine("L1", TEAPOT, 1, cny("199.00")),
            OrderLine("L2", "yixing-teapot ", 1, cny("199.00")),
        ]
        offer = AmountOff("M", cny("50.00"), {TEAPOT}, min_spend=cny("398.00"))
        totals = price(Quote("TB-1", "taobao", lines, [offer]))
        assert not totals.refused
        assert cny("348.00") == totals.total

    def test_offers_still_compare_by_the_skus_they_were_given(self) -> None:
        # The folded keys are the offer's own cache, not part of its value.
        assert PercentOff("P", 10, {"TEA"}) != PercentOff("P", 10, {"tea"})
        assert "_keys" not in repr(PercentOff("P", 10, {"TEA"}))
        assert PercentOff("P", Decimal(10), {"TEA"}) == PercentOff("P", 10, {"TEA"})
        assert hash(PercentOff("P", 10, {"TEA"})) == hash(PercentOff("P", 10, {"TEA"}))

    @given(base_and_spelling())
    def test_the_fold_is_the_limits_fold(self, found: tuple[str, str]) -> None:
        base, sku = found
        assert normalize_sku(base) == normalize_sku(sku)


def test_the_folds_kept_are_bounded() -> None:
    # Every line's SKU is folded through a kept dict: a flood of new SKUs
    # must not grow it without end. (Imported here: the module is new, and
    # the other tests run against the code before it.)
    _skus = importlib.import_module("orderkit.pricing._skus")
    for n in range(_skus._MOST_KEYS + 10):
        assert f"sku-{n}" == _skus.sku_key(f"SKU-{n} ")
    assert len(_skus._KEYS) <= _skus._MOST_KEYS
    assert "x" * 200 == _skus.sku_key("X" * 200)
    assert "X" * 200 not in _skus._KEYS
