"""Totals: exact at the minor unit, split to the cent, never negative."""

from __future__ import annotations

import pickle
from decimal import Decimal

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.errors import (
    CurrencyMismatch,
    EmptyOrder,
    InvalidMoney,
    InvalidOffer,
    ValidationError,
)
from orderkit.money import Money, split
from orderkit.orders import Address, Buyer, Order, OrderLine
from orderkit.pricing import (
    AMOUNT_FIRST,
    PERCENT_FIRST,
    AmountOff,
    FreeShipping,
    NetLine,
    PercentOff,
    Quote,
    StackingPolicy,
    allocate,
    apply_offers,
    expected_total,
    price,
    validate,
)
from orderkit.pricing._totals import split_minor


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


TEAPOT = OrderLine("L1", "YIXING-TEAPOT", 2, cny("199.00"), "紫砂壶")
CUPS = OrderLine("L2", "CELADON-CUP", 3, cny("29.90"), "青瓷杯")
TEA = OrderLine("L3", "LONGJING-250G", 1, cny("89.50"), "龙井")


def quote(*offers: object, **figures: object) -> Quote:
    return Quote("TB-1001", "taobao", [TEAPOT, CUPS, TEA], offers, **figures)  # type: ignore[arg-type]


class TestExpectedTotal:
    """The seed rule: sum(unit price x quantity) - discounts + shipping (+ tax)."""

    def test_no_offers_is_goods_plus_shipping(self) -> None:
        q = quote(shipping=cny("12.00"))

        assert cny("589.20") == expected_total(q)

    def test_order_discount_shipping_and_tax(self) -> None:
        q = quote(
            AmountOff("SAVE20", cny("20.00")), shipping=cny("12.00"), tax=cny("7.80")
        )

        totals = price(q)

        assert cny("577.20") == totals.goods
        assert cny("20.00") == totals.order_discounts
        assert cny("577.00") == totals.total

    def test_tax_included_in_prices_is_not_added(self) -> None:
        q = quote(tax=cny("66.30"), taxes_included=True)

        assert cny("577.20") == expected_total(q)

    def test_line_discount_and_order_discount_are_told_apart(self) -> None:
        q = quote(
            PercentOff("TEAPOT10", 10, skus={"YIXING-TEAPOT"}),
            AmountOff("STORE5", cny("5.00")),
        )

        totals = price(q, StackingPolicy(order=PERCENT_FIRST))

        assert cny("39.80") == totals.line_discounts
        assert cny("5.00") == totals.order_discounts
        assert cny("39.80") == totals.lines[0].line_discount
        assert cny("532.40") == totals.total

    def test_amount_first_takes_the_percent_of_what_is_left(self) -> None:
        q = quote(
            PercentOff("TEAPOT10", 10, skus={"YIXING-TEAPOT"}),
            AmountOff("STORE5", cny("5.00")),
        )

        totals = price(q, StackingPolicy(order=AMOUNT_FIRST))

        # STORE5 gives the teapots 3.45 of its 5.00; 10% of 394.55 is 39.46.
        assert cny("39.46") == totals.line_discounts
        assert cny("532.74") == totals.total
        assert ["STORE5", "TEAPOT10"] == [a.offer.code for a in totals.applied]

    def test_free_shipping_takes_shipping_off(self) -> None:
        q = quote(FreeShipping("FREESHIP"), shipping=cny("12.00"))

        totals = price(q)

        assert cny("12.00") == totals.shipping_discount
        assert cny("577.20") == totals.total

    def test_order_discount_is_split_to_the_fen(self) -> None:
        q = Quote(
            "TB-1002",
            "taobao",
            [OrderLine(f"L{i}", f"SKU-{i}", 1, cny("1.00")) for i in range(3)],
            [AmountOff("TENFEN", cny("0.10"))],
        )

        totals = price(q)

        assert [cny("0.04"), cny("0.03"), cny("0.03")] == [
            line.order_discount for line in totals.lines
        ]

    def test_a_discount_larger_than_the_goods_stops_at_zero(self) -> None:
        q = quote(AmountOff("HUGE", cny("10000.00")), shipping=cny("12.00"))

        totals = price(q)

        assert cny("12.00") == totals.total
        assert all(line.net == cny("0.00") for line in totals.lines)


class TestTooLargeForMoney:
    """Lines Money holds may sum to more than it holds: refused, never returned."""

    def test_goods_over_28_digits_are_refused(self) -> None:
        line = OrderLine("L1", "GOLD", 10, cny("99999999999999999999999999.99"))

        with pytest.raises(InvalidMoney) as caught:
            price(Quote("O-1", "taobao", [line]))

        assert caught.value.field == "lines"

    def test_the_largest_total_money_holds_is_priced(self) -> None:
        line = OrderLine("L1", "GOLD", 1, cny("99999999999999999999999999.99"))

        assert price(Quote("O-1", "taobao", [line])).total == line.unit_price

    def test_a_quote_money_cannot_total_is_refused_when_built(self) -> None:
        # 10**9 units at 10**18 CNY: each figure fits Money, the goods do not.
        line = OrderLine("L1", "GOLD", 10**9, cny("1" + "0" * 18))

        with pytest.raises(InvalidMoney) as caught:
            Quote("O-1", "taobao", [line])

        assert (caught.value.field, caught.value.value) == ("lines", (line,))
        assert "1000000000000000000000000000.00 CNY" in str(caught.value)

    @pytest.mark.parametrize(
        ("figures", "field"),
        [
            ({"shipping": cny("0.02")}, "shipping"),
            ({"shipping": cny("0.01"), "tax": cny("0.01")}, "tax"),
        ],
    )
    def test_shipping_or_tax_that_bring_it_over_are_named(
        self, figures: dict[str, Money], field: str
    ) -> None:
        line = OrderLine("L1", "GOLD", 1, cny("99999999999999999999999999.98"))

        with pytest.raises(InvalidMoney) as caught:
            Quote("O-1", "taobao", [line], **figures)  # type: ignore[arg-type]

        assert (caught.value.field, caught.value.value) == (field, figures[field])

    def test_tax_inside_the_prices_adds_nothing(self) -> None:
        line = OrderLine("L1", "GOLD", 1, cny("99999999999999999999999999.98"))
        q = Quote(
            "O-1",
            "taobao",
            [line],
            shipping=cny("0.01"),
            tax=cny("5.00"),
            taxes_included=True,
        )

        assert validate(q).accepted_total == cny("99999999999999999999999999.99")

    def test_the_largest_quote_validates(self) -> None:
        lines = [
            OrderLine("L1", "GOLD", 3, cny("33333333333333333333333333.32")),
            OrderLine("L2", "SILVER", 7, cny("0.00")),
        ]
        q = Quote("O-1", "taobao", lines, shipping=cny("0.01"), tax=cny("0.02"))

        assert validate(q).accepted_total == cny("99999999999999999999999999.99")

    @given(
        prices=st.lists(st.integers(1, 10**28 - 1), min_size=1, max_size=3),
        quantity=st.integers(1, 10**9),
        shipping=st.integers(0, 10**28 - 1),
    )
    def test_validate_never_raises_for_a_quote_that_was_built(
        self, prices: list[int], quantity: int, shipping: int
    ) -> None:
        def minor(units: int) -> Money:
            return Money(Decimal(units).scaleb(-2), "CNY")

        lines = [
            OrderLine(f"L{i}", f"SKU-{i}", quantity, minor(p))
            for i, p in enumerate(prices)
        ]
        if sum(prices) * quantity + shipping >= 10**28:
            with pytest.raises(InvalidMoney) as caught:
                Quote("O-1", "taobao", lines, shipping=minor(shipping))
            assert caught.value.field in {"lines", "shipping"}
            return
        q = Quote("O-1", "taobao", lines, shipping=minor(shipping))

        assert validate(q).accepted_total == price(q).total


class TestQuote:
    """A quote refuses bad input with a typed error naming field and value."""

    def test_from_order_keeps_the_lines(self) -> None:
        order = Order(
            "TB-1001",
            "taobao",
            Buyer("buyer-7"),
            Address("CN", "浙江省", "杭州市"),
            [TEAPOT, CUPS],
            pendulum.datetime(2026, 11, 11, tz="UTC"),
        )

        q = Quote.from_order(order, shipping=cny("12.00"))

        assert (order.order_id, order.lines) == (q.order_id, q.lines)
        assert "CNY" == q.currency.code

    def test_lines_in_two_currencies(self) -> None:
        dollars = OrderLine("L9", "IPOD", 1, Money("199.00", "USD"))

        with pytest.raises(CurrencyMismatch) as caught:
            Quote("X", "taobao", [TEAPOT, dollars])

        assert "lines[1].unit_price" == caught.value.field

    def test_shipping_in_another_currency(self) -> None:
        with pytest.raises(CurrencyMismatch) as caught:
            quote(shipping=Money("5.00", "USD"))

        assert "shipping" == caught.value.field

    def test_negative_tax(self) -> None:
        with pytest.raises(ValidationError) as caught:
            quote(tax=cny("-1.00"))

        assert ("tax", cny("-1.00")) == (caught.value.field, caught.value.value)

    def test_no_lines(self) -> None:
        with pytest.raises(EmptyOrder):
            Quote("X", "taobao", [])

    def test_repeated_line_id(self) -> None:
        with pytest.raises(ValidationError, match=r"lines\[1\]\.line_id"):
            Quote("X", "taobao", [TEAPOT, TEAPOT])

    def test_something_that_is_not_an_offer(self) -> None:
        with pytest.raises(InvalidOffer) as caught:
            quote({"kind": "bogus", "amount": "5"})

        assert "offers[0]" == caught.value.field

    def test_stated_total_must_be_money(self) -> None:
        with pytest.raises(ValidationError, match="stated_total"):
            quote(stated_total=409.94)


class TestNetLine:
    """Priced lines build their Money on first read, and behave as if built."""

    def priced(self) -> tuple[NetLine, NetLine]:
        line = price(quote(PercentOff("P10", Decimal(10)))).lines[1]
        built = NetLine(
            line.line_id,
            line.sku,
            line.quantity,
            line.unit_price,
            line.gross,
            line.line_discount,
            line.order_discount,
            line.net,
        )
        # A fresh line: reading `line`'s fields above built its Money.
        return price(quote(PercentOff("P10", Decimal(10)))).lines[1], built

    def test_equal_hash_and_repr_as_built(self) -> None:
        lazy, built = self.priced()

        assert lazy == built
        assert hash(lazy) == hash(built)
        assert repr(lazy) == repr(built)
        assert cny("80.73") == lazy.net

    def test_copies_keep_the_amounts(self) -> None:
        lazy, built = self.priced()

        assert pickle.loads(pickle.dumps(lazy)) == built  # noqa: S301 - our own bytes
        assert attrs.evolve(lazy, sku="X").net == built.net

    def test_below_is_the_same_either_way(self) -> None:
        lazy, built = self.priced()

        for floor in ("26.91", "26.92", "26.90"):
            assert lazy.below(cny(floor)) == built.below(cny(floor))
        with pytest.raises(CurrencyMismatch):
            lazy.below(Money("1.00", "USD"))

    def test_unknown_attribute_raises(self) -> None:
        lazy, _ = self.priced()

        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            getattr(lazy, "nope")  # noqa: B009 - the attribute is the test


class TestAllocate:
    """Shipping and refunds are split over the lines to the cent."""

    def test_shipping_split_by_net_amounts(self) -> None:
        parts = allocate(price(quote()), cny("12.00"))

        assert cny("12.00") == sum(parts, cny("0"))
        assert split(cny("12.00"), [39800, 8970, 8950]) == parts

    def test_free_lines_split_by_quantity(self) -> None:
        totals = price(quote(PercentOff("ALLFREE", 100)))

        assert (cny("2.00"), cny("3.00"), cny("1.00")) == allocate(totals, cny("6.00"))

    def test_another_currency(self) -> None:
        with pytest.raises(CurrencyMismatch):
            allocate(price(quote()), Money("1.00", "USD"))


# Properties -----------------------------------------------------------------

prices = st.integers(min_value=0, max_value=10**7).map(
    lambda m: Money.from_minor(m, "CNY")
)


@st.composite
def order_lines(draw: st.DrawFn) -> list[OrderLine]:
    count = draw(st.integers(min_value=1, max_value=8))
    skus = ["TEAPOT", "CUP", "TEA", "TRAY"]
    return [
        OrderLine(
            f"L{i}",
            draw(st.sampled_from(skus)),
            draw(st.integers(min_value=1, max_value=50)),
            draw(prices),
        )
        for i in range(count)
    ]


offers = st.one_of(
    st.builds(
        PercentOff,
        st.sampled_from(["P1", "P2"]),
        st.integers(min_value=0, max_value=100),
        st.sets(st.sampled_from(["TEAPOT", "CUP"]), max_size=2),
    ),
    st.builds(
        AmountOff,
        st.sampled_from(["A1", "A2"]),
        prices,
        st.sets(st.sampled_from(["TEA", "TRAY"]), max_size=2),
    ),
    st.builds(FreeShipping, st.just("FS")),
)
caps = st.none() | st.integers(min_value=0, max_value=100).map(Decimal)
policies = st.builds(StackingPolicy, line_cap=caps, order_cap=caps)


class TestProperties:
    """Never negative, deterministic, and the lines sum to the goods exactly."""

    @given(order_lines(), st.lists(offers, max_size=5), prices, policies)
    def test_totals_never_negative(
        self,
        lines: list[OrderLine],
        claimed: list[AmountOff],
        ship: Money,
        policy: StackingPolicy,
    ) -> None:
        totals = apply_offers(lines, claimed, shipping=ship, policy=policy)

        assert totals.total.amount >= 0
        assert all(line.net.amount >= 0 for line in totals.lines)

    @given(order_lines(), st.lists(offers, max_size=5), policies)
    def test_net_lines_sum_to_the_goods_total(
        self, lines: list[OrderLine], claimed: list[AmountOff], policy: StackingPolicy
    ) -> None:
        totals = apply_offers(lines, claimed, policy=policy)

        assert totals.net_goods == sum((line.net for line in totals.lines), cny("0"))
        for line in totals.lines:
            assert line.gross - line.line_discount - line.order_discount == line.net
        applied = sum((a.amount for a in totals.applied), cny("0"))
        assert applied == totals.line_discounts + totals.order_discounts

    @given(order_lines(), st.lists(offers, max_size=5), policies)
    def test_application_is_deterministic(
        self, lines: list[OrderLine], claimed: list[AmountOff], policy: StackingPolicy
    ) -> None:
        assert apply_offers(lines, claimed, policy=policy) == apply_offers(
            lines, claimed, policy=policy
        )

    @given(
        st.integers(min_value=0, max_value=10**9),
        st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12),
    )
    def test_split_minor_is_money_split(self, units: int, weights: list[int]) -> None:
        if not any(weights):
            assert [0] * len(weights) == split_minor(units, weights)
            return
        expected = split(Money.from_minor(units, "CNY"), weights)

        assert [m.minor for m in expected] == split_minor(units, weights)
