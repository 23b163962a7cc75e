"""The common quote's fast path prices and validates as the general path does."""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from orderkit.money import Currency, Money
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
    TotalsPolicy,
    _totals,
    validate,
)
from orderkit.testing.strategies import currencies, money, order_lines


SKUS = ["RETRO-CLOCK", "VELVET-LAMP", "TEAK-STOOL", "JADE-TEAPOT"]
skus = st.frozensets(st.sampled_from(SKUS), max_size=2)
some_skus = st.frozensets(st.sampled_from(SKUS), min_size=1, max_size=2)
caps = st.none() | st.integers(min_value=0, max_value=100).map(Decimal)


def offers(currency: Currency) -> st.SearchStrategy[Offer]:
    """One offer of any kind; an amount sometimes in another currency."""
    amounts = money(currency, min_minor=0, max_minor=10**8)
    elsewhere = st.sampled_from(["CNY", "USD", "JPY"]).flatmap(
        lambda code: money(code, min_minor=0, max_minor=10**6)
    )
    return st.one_of(
        st.builds(AmountOff, st.just("A1"), amounts | elsewhere, skus),
        st.builds(AmountOff, st.just("A2"), amounts),  # the common quote's
        st.builds(PercentOff, st.just("P1"), st.integers(0, 100), skus),
        st.builds(FixedPrice, st.just("F1"), amounts | elsewhere, some_skus),
        st.builds(FreeShipping, st.just("S1")),
        st.builds(
            BuyXGetY, st.just("B1"), st.integers(1, 3), st.integers(1, 2), some_skus
        ),
    )


@st.composite
def quotes(draw: st.DrawFn) -> Quote:
    """Quotes of 0 to 2 offers (the fast path takes 0 or 1), any currency."""
    currency = draw(currencies())
    lines = draw(
        st.lists(
            order_lines(currency),
            min_size=1,
            max_size=5,
            unique_by=lambda line: line.line_id,
        )
    )
    figure = st.none() | money(currency, min_minor=0, max_minor=10**6)
    quote = Quote(
        "O-1",
        "taobao",
        lines,
        draw(st.lists(offers(currency), max_size=2)),
        shipping=draw(figure),
        tax=draw(figure),
        taxes_included=draw(st.booleans()),
    )
    computed = _totals.price(quote).total
    stated = draw(
        st.sampled_from([None, computed, computed - Money("0.01", "CNY")])
        if computed.currency.code == "CNY"
        else st.none() | st.just(computed) | money(currency) | money("CNY")
    )
    return Quote(
        quote.order_id,
        quote.channel,
        quote.lines,
        quote.offers,
        quote.shipping,
        quote.tax,
        stated,
        quote.taxes_included,
    )


@st.composite
def policies(draw: st.DrawFn, quote: Quote) -> PricingPolicy:
    """Floors on some of the quote's SKUs, in its currency or not, and caps."""
    floors = []
    for sku in sorted({line.sku for line in quote.lines}):
        if draw(st.booleans()):
            currency = draw(st.just(quote.currency) | currencies())
            price = draw(money(currency, min_minor=0, max_minor=10**7))
            floors.append(PriceFloor(sku, price))
    stacking = StackingPolicy(line_cap=draw(caps), order_cap=draw(caps))
    totals = draw(st.sampled_from(TotalsPolicy))
    return PricingPolicy(stacking=stacking, floors=floors, totals=totals)


def _general(quote: Quote, policy: StackingPolicy, *, stacking: bool) -> _totals.Totals:
    """`_price` without its fast path, from `Money.minor` itself."""
    gross = [line.unit_price.minor * line.quantity for line in quote.lines]
    ship = 0 if quote.shipping is None else quote.shipping.minor
    return _totals._price_offers(
        quote, policy, quote.currency, gross, ship, stacking=stacking
    )


def _parts(totals: _totals.Totals) -> tuple[object, ...]:
    """Every field of the totals and their lines, lazy Money fields built."""
    lines = tuple(
        (
            *(line.line_id, line.sku, line.quantity, line.unit_price, line.gross),
            *(line.line_discount, line.order_discount, line.net, line.net_unit_price),
        )
        for line in totals.lines
    )
    return (totals, totals.goods, totals.net_goods, totals.total, lines)


class TestFastPath:
    """`_price` and `validate` give what the general path gives, every field."""

    @given(quotes(), caps, caps, st.booleans())
    def test_price_is_the_general_paths(
        self,
        quote: Quote,
        line_cap: Decimal | None,
        order_cap: Decimal | None,
        stacking: bool,
    ) -> None:
        policy = StackingPolicy(line_cap=line_cap, order_cap=order_cap)

        fast = _totals._price(quote, policy, stacking=stacking)
        general = _general(quote, policy, stacking=stacking)

        assert _parts(fast) == _parts(general)
        assert fast.applied == general.applied
        assert fast.refused == general.refused

    @given(st.data(), quotes())
    def test_validate_is_the_general_paths(
        self, data: st.DataObject, quote: Quote
    ) -> None:
        policy = data.draw(policies(quote))

        fast = validate(quote, policy)
        with mock.patch.object(_totals, "_price_simple", return_value=None):
            general = validate(quote, policy)

        assert fast == general
        assert _parts(fast.totals) == _parts(general.totals)
        assert fast.hold_reason == general.hold_reason

    def test_the_common_quote_takes_the_fast_path(self) -> None:
        line = OrderLine("L1", "TEAK-STOOL", 3, Money("19.90", "CNY"))
        quote = Quote("O-1", "taobao", [line], [AmountOff("A", Money("10", "CNY"))])

        with mock.patch.object(_totals, "_price_offers") as general:
            totals = _totals._price(quote, StackingPolicy(), stacking=True)

        general.assert_not_called()
        assert Money("49.70", "CNY") == totals.total
