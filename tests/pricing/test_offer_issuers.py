"""Offers by issuer: a store coupon (店铺券) stacks with a platform one (平台券)."""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.errors import InvalidOffer, StructureError, ValidationError
from orderkit.money import Money
from orderkit.orders import OrderLine
from orderkit.pricing import (
    AmountOff,
    BuyXGetY,
    FixedPrice,
    FreeShipping,
    Offer,
    PercentOff,
    PriceFloor,
    PricingPolicy,
    Quote,
    StackingPolicy,
    ViolationCode,
    _totals,
    price,
    validate,
)
from orderkit.serialization import make_converter
from orderkit.services import DeskPolicy
from orderkit.testing.strategies import money, order_lines


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


TEAPOT = OrderLine("L1", "YIXING-TEAPOT", 2, cny("199.00"), "紫砂壶")
CUPS = OrderLine("L2", "CELADON-CUP", 3, cny("29.90"), "青瓷杯")
AMOUNTS = StackingPolicy(combinable=[("amount", "amount")], max_per_issuer=1)


def store(code: str, amount: str, issuer: str = "teahouse") -> AmountOff:
    return AmountOff(code, cny(amount), issuer=issuer)


def quote(offers: list[Offer], *, shipping: Money | None = None) -> Quote:
    return Quote("TB-3001", "taobao", [TEAPOT, CUPS], offers, shipping)


def refusals(offers: list[Offer], policy: StackingPolicy) -> list[tuple[str, str]]:
    return [(r.offer.code, r.reason) for r in price(quote(offers), policy).refused]


class TestTheTrialCase:
    """Amount offers combine; one per issuer."""

    def test_a_store_and_a_platform_coupon_stack(self) -> None:
        totals = price(
            quote([store("SHOP10", "10.00"), store("TM20", "20.00", "tmall")]), AMOUNTS
        )

        assert totals.refused == ()
        assert [a.offer.code for a in totals.applied] == ["SHOP10", "TM20"]
        assert cny("457.70") == totals.total

    def test_a_second_store_coupon_is_refused(self) -> None:
        offers: list[Offer] = [
            store("SHOP10", "10.00"),
            store("SHOP5", "5.00"),
            store("TM20", "20.00", "tmall"),
        ]

        totals = price(quote(offers), AMOUNTS)

        [refused] = totals.refused
        assert (1, "max_per_issuer") == (refused.index, refused.reason)
        assert refused.offer == offers[1]
        assert "'SHOP5'" in refused.message
        assert "'teahouse'" in refused.message
        assert refused.subtotal is None
        assert cny("457.70") == totals.total

    def test_without_the_cap_the_issuer_changes_nothing(self) -> None:
        policy = StackingPolicy(combinable=[("amount", "amount")])
        offers: list[Offer] = [store("SHOP10", "10.00"), store("SHOP5", "5.00")]

        assert price(quote(offers), policy).refused == ()
        assert cny("472.70") == price(quote(offers), policy).total

    def test_offers_without_an_issuer_do_not_count(self) -> None:
        offers: list[Offer] = [
            AmountOff("A", cny("1.00")),
            AmountOff("B", cny("1.00")),
            store("SHOP10", "10.00"),
            AmountOff("C", cny("1.00")),
        ]

        assert refusals(offers, AMOUNTS) == []

    def test_the_cap_is_per_issuer(self) -> None:
        policy = StackingPolicy(max_per_issuer=2)
        offers: list[Offer] = [
            store("S1", "1.00"),
            store("T1", "1.00", "tmall"),
            store("S2", "1.00"),
            store("T2", "1.00", "tmall"),
            store("S3", "1.00"),
            store("T3", "1.00", "tmall"),
        ]

        assert refusals(offers, policy) == [
            ("S3", "max_per_issuer"),
            ("T3", "max_per_issuer"),
        ]

    def test_issuers_are_compared_exactly(self) -> None:
        offers: list[Offer] = [store("S1", "1.00", "shop"), store("S2", "1.00", "Shop")]

        assert refusals(offers, AMOUNTS) == []

    def test_every_kind_counts(self) -> None:
        # The policy's order, not the claim's: the fixed price comes first.
        offers: list[Offer] = [
            FreeShipping("SHIP", issuer="teahouse"),
            PercentOff("P10", 10, issuer="teahouse"),
            BuyXGetY("B2G1", 2, 1, {"CELADON-CUP"}, issuer="teahouse"),
            FixedPrice("NOW99", cny("99.00"), {"YIXING-TEAPOT"}, issuer="teahouse"),
            store("SHOP10", "10.00"),
        ]

        totals = price(
            quote(offers, shipping=cny("12.00")), StackingPolicy(max_per_issuer=1)
        )

        assert [a.offer.code for a in totals.applied] == ["NOW99"]
        assert [(r.offer.code, r.reason) for r in totals.refused] == [
            ("B2G1", "max_per_issuer"),
            ("SHOP10", "max_per_issuer"),
            ("P10", "max_per_issuer"),
            ("SHIP", "max_per_issuer"),
        ]

    def test_an_offer_refused_otherwise_does_not_count(self) -> None:
        # The first store coupon is under its threshold: the second applies.
        spend = AmountOff(
            "SPEND999", cny("50.00"), min_spend=cny("999.00"), issuer="teahouse"
        )
        offers: list[Offer] = [spend, store("SHOP10", "10.00")]

        assert refusals(offers, AMOUNTS) == [("SPEND999", "min_spend")]


class TestTheOrderOfRefusals:
    """A refusal names the first rule broken, the cap per issuer after `max_stacked`."""

    def test_a_duplicate_code_first(self) -> None:
        offers: list[Offer] = [store("SHOP10", "10.00"), store("SHOP10", "10.00")]

        assert refusals(offers, AMOUNTS) == [("SHOP10", "duplicate_code")]

    def test_exclusive_before(self) -> None:
        policy = StackingPolicy(exclusive={"amount"}, max_per_issuer=1)
        offers: list[Offer] = [store("S1", "1.00"), store("S2", "1.00")]

        assert refusals(offers, policy) == [("S2", "exclusive")]

    def test_max_stacked_before(self) -> None:
        policy = StackingPolicy(max_stacked=1, max_per_issuer=1)
        offers: list[Offer] = [store("S1", "1.00"), store("S2", "1.00")]

        assert refusals(offers, policy) == [("S2", "max_stacked")]

    def test_not_combinable_after(self) -> None:
        # Amounts alone do not combine: the issuer's cap is named first.
        policy = StackingPolicy(combinable=[("amount", "percent")], max_per_issuer=1)
        offers: list[Offer] = [store("S1", "1.00"), store("S2", "1.00")]

        assert refusals(offers, policy) == [("S2", "max_per_issuer")]

    def test_currency_first(self) -> None:
        usd = AmountOff("S2", Money("1.00", "USD"), issuer="teahouse")
        offers: list[Offer] = [store("S1", "1.00"), usd]

        assert refusals(offers, AMOUNTS) == [("S2", "currency_mismatch")]


class TestValidate:
    """A second store coupon holds the order, as a stack over `max_stacked` does."""

    def test_reported_as_max_stacked_is(self) -> None:
        offers: list[Offer] = [store("SHOP10", "10.00"), store("SHOP5", "5.00")]
        by_issuer = validate(quote(offers), PricingPolicy(stacking=AMOUNTS))
        by_count = validate(
            quote(offers),
            PricingPolicy(
                stacking=StackingPolicy(
                    combinable=[("amount", "amount")], max_stacked=1
                )
            ),
        )

        [violation] = by_issuer.violations
        [mirror] = by_count.violations
        assert violation.code is mirror.code is ViolationCode.OFFER_REFUSED
        assert (violation.path, violation.expected, violation.actual) == (
            mirror.path,
            mirror.expected,
            mirror.actual,
        )
        assert ("offers[1]", None, "SHOP5") == (
            violation.path,
            violation.expected,
            violation.actual,
        )
        assert by_issuer.accepted_total is None
        assert by_issuer.hold_reason is not None
        assert "'teahouse'" in by_issuer.hold_reason

    def test_floors_are_checked_with_every_claimed_offer(self) -> None:
        # What the buyer tried to pay: both store coupons, 100.00 off.
        offers: list[Offer] = [store("SHOP60", "60.00"), store("SHOP40", "40.00")]
        floors = [PriceFloor("YIXING-TEAPOT", cny("160.00"))]
        policy = PricingPolicy(stacking=AMOUNTS, floors=floors)

        codes = [v.code for v in validate(quote(offers), policy).violations]

        assert codes == [ViolationCode.OFFER_REFUSED, ViolationCode.BELOW_FLOOR]


class TestChecks:
    """An issuer is printable text of 1 to 255 characters; the cap a positive int."""

    @pytest.mark.parametrize(
        "make",
        [
            lambda issuer: AmountOff("A", cny("1.00"), issuer=issuer),
            lambda issuer: PercentOff("P", 10, issuer=issuer),
            lambda issuer: FreeShipping("F", issuer=issuer),
            lambda issuer: FixedPrice("X", cny("1.00"), {"SKU"}, issuer=issuer),
            lambda issuer: BuyXGetY("B", 1, 1, {"SKU"}, issuer=issuer),
        ],
        ids=["amount", "percent", "free_shipping", "fixed_price", "buy_x_get_y"],
    )
    @pytest.mark.parametrize(
        "issuer", ["", "  ", "shop\n1", "\ud800", "x" * 256, 7, b"shop"]
    )
    def test_a_bad_issuer_is_refused(
        self, make: Callable[[object], Offer], issuer: object
    ) -> None:
        with pytest.raises(ValidationError) as raised:
            make(issuer)

        assert raised.value.field == "issuer"
        assert raised.value.value == issuer

    @pytest.mark.parametrize("issuer", [None, "x", "x" * 255, "天猫 平台券"])
    def test_a_good_issuer(self, issuer: str | None) -> None:
        assert issuer == AmountOff("A", cny("1.00"), issuer=issuer).issuer

    @pytest.mark.parametrize("most", [0, -1, True, 1.5, "1", Decimal(1)])
    def test_a_bad_cap_is_refused(self, most: object) -> None:
        with pytest.raises(InvalidOffer) as raised:
            StackingPolicy(max_per_issuer=most)  # type: ignore[arg-type]

        assert raised.value.field == "max_per_issuer"
        assert raised.value.value == most

    def test_the_defaults(self) -> None:
        assert StackingPolicy().max_per_issuer is None
        assert AmountOff("A", cny("1.00")).issuer is None
        assert "issuer=None" in repr(AmountOff("A", cny("1.00")))


class TestTheFastPath:
    """One amount off is never refused by the cap: it keeps the fast path."""

    def test_one_offer_with_the_cap_takes_it(self) -> None:
        one = quote([store("SHOP10", "10.00")])

        with mock.patch.object(_totals, "_price_offers") as general:
            totals = _totals._price(
                one, StackingPolicy(max_per_issuer=1), stacking=True
            )

        general.assert_not_called()
        assert cny("477.70") == totals.total


class TestSerialization:
    """The converter reads and writes both fields; documents without them load."""

    @pytest.mark.parametrize(
        "offer",
        [
            store("SHOP10", "10.00"),
            PercentOff("P", 10, {"CELADON-CUP"}, min_spend=cny("1.00"), issuer="tmall"),
            FreeShipping("F", issuer="tmall"),
            FixedPrice("X", cny("1.00"), {"SKU"}, issuer="shop"),
            BuyXGetY("B", 1, 1, {"SKU"}, issuer="shop"),
        ],
    )
    def test_offers_round_trip(self, offer: Offer) -> None:
        converter = make_converter()

        assert "issuer" in converter.unstructure(offer)
        assert offer == converter.loads(converter.dumps(offer), type(offer))
        assert offer == converter.structure(converter.unstructure(offer), Offer)

    def test_the_policy_round_trips(self) -> None:
        converter = make_converter()

        written = converter.unstructure(AMOUNTS)

        assert 1 == written["max_per_issuer"]
        assert AMOUNTS == converter.structure(written, StackingPolicy)

    @pytest.mark.parametrize(
        ("document", "expected"),
        [
            (
                b'{"code":"X","amount":{"amount":"15.00","currency":"CNY"},"skus":[]}',
                AmountOff("X", cny("15.00")),
            ),
            (b'{"code":"P","percent":"10","skus":[]}', PercentOff("P", 10)),
            (b'{"code":"F"}', FreeShipping("F")),
        ],
    )
    def test_old_offers_load(self, document: bytes, expected: Offer) -> None:
        converter = make_converter().copy(forbid_extra_keys=True)

        loaded = converter.loads(document, type(expected))

        assert expected == loaded
        assert loaded.issuer is None

    def test_an_old_policy_loads(self) -> None:
        converter = make_converter().copy(forbid_extra_keys=True)

        loaded = converter.loads(b'{"max_stacked":2}', StackingPolicy)

        assert StackingPolicy(max_stacked=2) == loaded
        assert loaded.max_per_issuer is None

    def test_a_bad_cap_is_refused_on_read(self) -> None:
        with pytest.raises(StructureError) as raised:
            make_converter().structure({"max_per_issuer": 0}, StackingPolicy)

        assert raised.value.field == "max_per_issuer"

    def test_the_desk_reads_it_from_toml(self) -> None:
        config = tomllib.loads(
            """
            [desk]
            locations = ["SH-1"]

            [desk.pricing.stacking]
            combinable = [["amount", "amount"]]
            max_per_issuer = 1
            """
        )
        converter = make_converter().copy(forbid_extra_keys=True)

        policy = converter.structure(config["desk"], DeskPolicy)

        assert AMOUNTS == policy.pricing.stacking
        assert policy == converter.structure(converter.unstructure(policy), DeskPolicy)


@given(
    st.lists(order_lines("CNY"), min_size=1, max_size=4, unique_by=lambda x: x.line_id),
    st.lists(
        st.tuples(
            money("CNY", min_minor=0, max_minor=10**6),
            st.none() | st.sampled_from(["teahouse", "tmall", "jd"]),
        ),
        max_size=6,
    ),
    st.none() | st.integers(1, 3),
)
def test_at_most_the_cap_of_one_issuer_applies(
    lines: list[OrderLine],
    claimed: list[tuple[Money, str | None]],
    most: int | None,
) -> None:
    offers = [
        AmountOff(f"C{i}", amount, issuer=issuer)
        for i, (amount, issuer) in enumerate(claimed)
    ]
    policy = StackingPolicy(combinable=[("amount", "amount")], max_per_issuer=most)

    totals = price(Quote("O-1", "taobao", lines, offers), policy)

    applied = Counter(a.offer.issuer for a in totals.applied if a.offer.issuer)
    claimed_by = Counter(issuer for _, issuer in claimed if issuer)
    for issuer, count in claimed_by.items():
        expected = count if most is None else min(count, most)
        assert expected == applied[issuer]
    # The first `most` of each issuer, in the order claimed, are the ones taken.
    assert all(r.reason == "max_per_issuer" for r in totals.refused)
    assert len(totals.applied) + len(totals.refused) == len(offers)
