"""Money: exact amounts in one ISO 4217 currency, and `split` by largest remainder."""

import decimal
import operator
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from iso4217 import Currency as IsoCurrency

from orderkit._iso4217 import MINOR_UNITS
from orderkit.errors import (
    CurrencyMismatch,
    InvalidMoney,
    OrderkitError,
    UnknownCurrency,
    ValidationError,
)
from orderkit.money import Currency, Money, split
from orderkit.orders import OrderLine
from orderkit.pricing import Quote, price
from orderkit.testing.strategies import currencies, money


# A RETRO-CLOCK sells for 199.00 CNY; a VELVET-LAMP for 99.00 CNY.
CLOCK_PRICE = Money("199.00", "CNY")
LAMP_PRICE = Money("99.00", "CNY")

_SAME_CURRENCY_OPS: list[Callable[[Money, Money], object]] = [
    operator.add,
    operator.sub,
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
]

_WEIGHT = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.decimals(min_value=0, max_value=10**6, places=4),
)
_WEIGHTS = st.lists(_WEIGHT, min_size=1, max_size=12).filter(
    lambda weights: any(w > 0 for w in weights)
)
_TOTALS = money(min_minor=-(10**12), max_minor=10**12)


def _exact_shares(total: Money, weights: list[int | Decimal]) -> list[Fraction]:
    whole = sum((Fraction(w) for w in weights), Fraction(0))
    return [Fraction(total.minor) * Fraction(w) / whole for w in weights]


class TestConstruction:
    """A Money is built from a Decimal, an int or a plain decimal string."""

    @pytest.mark.parametrize(
        ("amount", "currency", "expected"),
        [
            (Decimal("199.00"), "CNY", Decimal("199.00")),
            (Decimal(199), "CNY", Decimal("199.00")),
            (199, "CNY", Decimal("199.00")),
            (-5, "CNY", Decimal("-5.00")),
            ("199.00", "CNY", Decimal("199.00")),
            ("199.5", "CNY", Decimal("199.50")),
            ("+12.30", "CNY", Decimal("12.30")),
            ("-12.30", "CNY", Decimal("-12.30")),
            ("1500", "JPY", Decimal(1500)),
            ("1.234", "KWD", Decimal("1.234")),
            ("1.2340", "KWD", Decimal("1.234")),
            ("0.1234", "CLF", Decimal("0.1234")),
            (Decimal("1e3"), "CNY", Decimal("1000.00")),
        ],
    )
    def test_amount_is_stored_at_the_minor_unit(
        self, amount: Decimal | int | str, currency: str, expected: Decimal
    ) -> None:
        actual = Money(amount, currency).amount
        assert expected == actual
        assert expected.as_tuple().exponent == actual.as_tuple().exponent

    def test_a_currency_object_is_accepted(self) -> None:
        assert Money("199.00", "CNY") == Money("199.00", Currency("CNY"))

    def test_zero_is_nothing_of_the_currency(self) -> None:
        assert Money("0.00", "CNY") == Money.zero("CNY")

    @given(money())
    def test_the_amount_string_rebuilds_the_same_money(self, value: Money) -> None:
        assert value == Money(str(value.amount), value.currency)


class TestRefusedAmounts:
    """Floats, bools, non-finite numbers and strings that are not plain decimals."""

    @pytest.mark.parametrize(
        "amount",
        [
            pytest.param(12.3, id="float"),
            pytest.param(0.1, id="float-0.1"),
            pytest.param(True, id="True"),
            pytest.param(False, id="False"),
            pytest.param(Decimal("NaN"), id="NaN"),
            pytest.param(Decimal("sNaN"), id="sNaN"),
            pytest.param(Decimal("Infinity"), id="Infinity"),
            pytest.param(Decimal("-Infinity"), id="-Infinity"),
            pytest.param("NaN", id="str-NaN"),
            pytest.param("Infinity", id="str-Infinity"),
            pytest.param("1e3", id="exponent"),
            pytest.param("12,30", id="decimal-comma"),
            pytest.param("1,299.00", id="thousands-separator"),
            pytest.param("1_000", id="underscore"),
            pytest.param(" 12", id="leading-space"),
            pytest.param("12.30 ", id="trailing-space"),
            pytest.param("", id="empty"),
            pytest.param("١٢", id="arabic-indic-digits"),
            pytest.param("0x10", id="hex"),
            pytest.param(None, id="None"),
            pytest.param([199], id="list"),
        ],
    )
    def test_refused_with_invalid_money(self, amount: Any) -> None:
        with pytest.raises(InvalidMoney) as caught:
            Money(amount, "CNY")
        field = "amount"
        assert field == caught.value.field
        # Identity, not equality: Decimal NaNs never compare equal.
        assert amount is caught.value.value

    def test_invalid_money_is_a_value_error(self) -> None:
        with pytest.raises(ValueError, match="amount"):
            Money(12.3, "CNY")  # type: ignore[arg-type]

    def test_message_names_the_field_and_the_value(self) -> None:
        with pytest.raises(InvalidMoney) as caught:
            Money("12,30", "CNY")
        assert "amount" in str(caught.value)
        assert "'12,30'" in str(caught.value)

    @pytest.mark.parametrize(
        ("amount", "currency"),
        [
            ("12.345", "CNY"),
            (Decimal("12.345"), "CNY"),
            ("1.5", "JPY"),
            (Decimal("1.50"), "JPY"),
            ("1.2345", "KWD"),
            ("0.00001", "CLF"),
        ],
    )
    def test_more_places_than_the_currency_has_are_refused(
        self, amount: Decimal | str, currency: str
    ) -> None:
        with pytest.raises(InvalidMoney) as caught:
            Money(amount, currency)
        field = "amount"
        assert field == caught.value.field
        assert amount is caught.value.value
        assert currency in str(caught.value)

    def test_an_amount_beyond_decimal_precision_is_refused(self) -> None:
        too_large = 10**30
        with pytest.raises(InvalidMoney) as caught:
            Money(too_large, "CNY")
        assert too_large == caught.value.value


class TestCurrency:
    """Currencies come from the ISO 4217 table; unknown codes are refused."""

    @pytest.mark.parametrize(
        ("code", "expected"), [("CNY", 2), ("JPY", 0), ("KWD", 3), ("CLF", 4)]
    )
    def test_minor_units(self, code: str, expected: int) -> None:
        assert expected == Currency(code).minor_units
        assert expected == Money(0, code).currency.minor_units

    @pytest.mark.parametrize(
        ("code", "expected"),
        [("CNY", Decimal("0.01")), ("JPY", Decimal(1)), ("KWD", Decimal("0.001"))],
    )
    def test_quantum_is_the_smallest_unit(self, code: str, expected: Decimal) -> None:
        assert expected == Currency(code).quantum

    @pytest.mark.parametrize(
        "code",
        [
            pytest.param("cny", id="lowercase"),
            pytest.param("RMB", id="not-iso"),
            pytest.param("XXX", id="no-minor-unit"),
            pytest.param("XAU", id="gold"),
            pytest.param("", id="empty"),
            pytest.param(" CNY", id="padded"),
        ],
    )
    def test_unknown_codes_are_refused_by_currency_and_money(self, code: str) -> None:
        with pytest.raises(UnknownCurrency) as from_currency:
            Currency(code)
        with pytest.raises(UnknownCurrency) as from_money:
            Money("199.00", code)
        field = "currency"
        for caught in (from_currency, from_money):
            assert field == caught.value.field
            assert code == caught.value.value
            assert repr(code) in str(caught.value)

    def test_a_numeric_code_is_refused(self) -> None:
        numeric = 156
        with pytest.raises(UnknownCurrency) as caught:
            Money("199.00", numeric)  # type: ignore[arg-type]
        assert numeric == caught.value.value

    def test_unknown_currency_is_a_lookup_error_and_a_value_error(self) -> None:
        with pytest.raises(LookupError):
            Currency("RMB")
        with pytest.raises(ValueError, match="RMB"):
            Currency("RMB")

    def test_currencies_are_equal_by_code(self) -> None:
        assert Currency("CNY") == Currency("CNY")
        assert Currency("CNY") != Currency("USD")
        assert hash(Currency("CNY")) == hash(Currency("CNY"))

    def test_repr(self) -> None:
        expected = "Currency('CNY')"
        assert expected == repr(Currency("CNY"))


class TestIsoTable:
    """orderkit's minor-unit table is exactly ISO 4217's (via the iso4217 package)."""

    def test_table_matches_iso4217(self) -> None:
        expected = {c.code: c.exponent for c in IsoCurrency if c.exponent is not None}
        assert expected == MINOR_UNITS

    def test_every_code_in_the_table_builds_a_currency(self) -> None:
        for code, units in MINOR_UNITS.items():
            assert units == Currency(code).minor_units


class TestRounded:
    """`Money.rounded` rounds to the minor unit, half-up unless told otherwise."""

    @pytest.mark.parametrize(
        ("amount", "currency", "expected"),
        [
            ("2.345", "CNY", "2.35"),
            ("2.355", "CNY", "2.36"),
            ("2.344", "CNY", "2.34"),
            ("-2.345", "CNY", "-2.35"),
            ("0.5", "JPY", "1"),
            ("1.5", "JPY", "2"),
            ("1.2345", "KWD", "1.235"),
            ("199.00", "CNY", "199.00"),
        ],
    )
    def test_default_is_half_up(
        self, amount: str, currency: str, expected: str
    ) -> None:
        assert Money(expected, currency) == Money.rounded(amount, currency)

    @pytest.mark.parametrize(
        ("amount", "currency", "expected"),
        [
            ("2.345", "CNY", "2.34"),
            ("2.355", "CNY", "2.36"),
            ("-2.345", "CNY", "-2.34"),
            ("0.5", "JPY", "0"),
            ("1.5", "JPY", "2"),
            ("2.5", "JPY", "2"),
        ],
    )
    def test_half_even_when_asked(
        self, amount: str, currency: str, expected: str
    ) -> None:
        actual = Money.rounded(amount, currency, ROUND_HALF_EVEN)
        assert Money(expected, currency) == actual

    @given(
        currencies(),
        st.decimals(min_value=-(10**9), max_value=10**9, places=6),
    )
    def test_rounding_moves_at_most_half_a_unit(
        self, currency: Currency, amount: Decimal
    ) -> None:
        rounded = Money.rounded(amount, currency)
        assert abs(rounded.amount - amount) <= currency.quantum / 2

    @pytest.mark.parametrize("amount", [2.345, "1e3", Decimal("NaN")])
    def test_refuses_what_the_constructor_refuses(self, amount: Any) -> None:
        with pytest.raises(InvalidMoney) as caught:
            Money.rounded(amount, "CNY")
        assert amount is caught.value.value


class TestScaled:
    """`scaled` multiplies by an exact rate and rounds to the minor unit."""

    @pytest.mark.parametrize(
        ("factor", "expected"),
        [
            ("0.85", "169.15"),
            (Decimal("0.85"), "169.15"),
            ("0.333", "66.27"),
            (2, "398.00"),
            ("-1", "-199.00"),
        ],
    )
    def test_scaled_rounds_half_up(
        self, factor: Decimal | int | str, expected: str
    ) -> None:
        assert Money(expected, "CNY") == CLOCK_PRICE.scaled(factor)

    def test_scaled_with_another_rounding(self) -> None:
        # 0.50 * 0.05 = 0.025: half-up gives 0.03, half-even 0.02.
        half = Money("0.50", "CNY")
        assert Money("0.03", "CNY") == half.scaled("0.05")
        assert Money("0.02", "CNY") == half.scaled("0.05", ROUND_HALF_EVEN)

    def test_a_long_factor_rounds_once(self) -> None:
        # Just under half a fen: rounded first at 50 digits it would be half
        # a fen, and then round up.
        factor = decimal.Context(prec=100).subtract(Decimal("0.005"), Decimal("1E-60"))

        assert Money("0.00", "CNY") == Money("1.00", "CNY").scaled(factor)

    @given(
        amount=st.decimals(places=2, min_value=-(10**25), max_value=10**25),
        factor=st.decimals(allow_nan=False, allow_infinity=False, places=40),
    )
    def test_scaled_is_the_exact_product_rounded_once(
        self, amount: Decimal, factor: Decimal
    ) -> None:
        exact = decimal.Context(prec=200).multiply(amount, factor)
        expected = exact.quantize(Decimal("0.01"), rounding=decimal.ROUND_HALF_UP)
        try:
            got = Money(amount, "CNY").scaled(factor)
        except InvalidMoney:
            assert len(expected.as_tuple().digits) > 28  # too large to hold
        else:
            assert Money(expected, "CNY") == got

    @pytest.mark.parametrize("factor", [0.85, True, "1e-1", Decimal("NaN")])
    def test_refuses_an_inexact_factor(self, factor: Any) -> None:
        with pytest.raises(InvalidMoney) as caught:
            CLOCK_PRICE.scaled(factor)
        expected = "factor"
        assert expected == caught.value.field
        assert factor is caught.value.value


class TestArithmetic:
    """Addition, subtraction, negation and comparison within one currency."""

    def test_price_arithmetic(self) -> None:
        assert Money("298.00", "CNY") == CLOCK_PRICE + LAMP_PRICE
        assert Money("100.00", "CNY") == CLOCK_PRICE - LAMP_PRICE
        assert Money("-199.00", "CNY") == -CLOCK_PRICE
        assert Money("199.00", "CNY") == abs(-CLOCK_PRICE)

    def test_comparisons(self) -> None:
        assert LAMP_PRICE < CLOCK_PRICE
        assert LAMP_PRICE <= CLOCK_PRICE
        assert Money("199", "CNY") <= CLOCK_PRICE
        assert Money("199", "CNY") >= CLOCK_PRICE
        assert not Money("199", "CNY") < CLOCK_PRICE
        assert not Money("199", "CNY") > CLOCK_PRICE
        assert Money("199.01", "CNY") > CLOCK_PRICE
        assert Money("199.01", "CNY") >= CLOCK_PRICE

    @given(money("CNY"), money("CNY"))
    def test_add_and_sub_are_exact(self, a: Money, b: Money) -> None:
        assert a == (a + b) - b
        assert a + b == b + a
        assert a.amount + b.amount == (a + b).amount
        assert Money.zero("CNY") == a - a

    @given(money("CNY"), money("CNY"))
    def test_comparison_follows_the_amounts(self, a: Money, b: Money) -> None:
        assert (a.amount < b.amount) == (a < b)
        assert (a.amount <= b.amount) == (a <= b)
        assert (a.amount > b.amount) == (a > b)
        assert (a.amount >= b.amount) == (a >= b)

    @given(money("KWD"))
    def test_results_keep_the_minor_unit(self, a: Money) -> None:
        for result in (a + a, a - a, -a, a * 3):
            assert Decimal("0.001").as_tuple().exponent == (
                result.amount.as_tuple().exponent
            )

    @pytest.mark.parametrize("op", _SAME_CURRENCY_OPS)
    def test_mixing_currencies_raises_currency_mismatch(
        self, op: Callable[[Money, Money], object]
    ) -> None:
        usd = Money("27.99", "USD")
        with pytest.raises(CurrencyMismatch) as caught:
            op(CLOCK_PRICE, usd)
        assert CLOCK_PRICE.currency.code == caught.value.expected
        assert usd.currency.code == caught.value.value
        field = "currency"
        assert field == caught.value.field
        assert isinstance(caught.value, ValueError)

    @pytest.mark.parametrize("op", _SAME_CURRENCY_OPS)
    @given(money("CNY"), money("USD"))
    def test_mixing_currencies_always_raises(
        self, op: Callable[[Money, Money], object], cny: Money, usd: Money
    ) -> None:
        with pytest.raises(CurrencyMismatch):
            op(cny, usd)
        with pytest.raises(CurrencyMismatch):
            op(usd, cny)

    @pytest.mark.parametrize("op", [operator.add, operator.sub])
    @pytest.mark.parametrize("other", [199, Decimal("199.00"), "199.00", None])
    def test_adding_a_bare_number_is_a_type_error(
        self, op: Callable[[Any, Any], object], other: object
    ) -> None:
        with pytest.raises(TypeError):
            op(CLOCK_PRICE, other)
        with pytest.raises(TypeError):
            op(other, CLOCK_PRICE)

    @pytest.mark.parametrize("op", [operator.lt, operator.le, operator.gt, operator.ge])
    @pytest.mark.parametrize("other", [0, None])
    def test_ordering_against_a_bare_number_is_a_type_error(
        self, op: Callable[[Any, Any], object], other: object
    ) -> None:
        # As for any two unorderable types; an AttributeError would escape
        # handlers written for the comparison.
        with pytest.raises(TypeError):
            op(CLOCK_PRICE, other)

    def test_equality_across_currencies_is_false_not_an_error(self) -> None:
        assert Money("1.00", "CNY") != Money("1.00", "USD")


class TestMultiplication:
    """Money times an int quantity, on either side; nothing else multiplies."""

    def test_quantity_on_either_side(self) -> None:
        assert Money("597.00", "CNY") == CLOCK_PRICE * 3
        assert Money("597.00", "CNY") == 3 * CLOCK_PRICE
        assert Money.zero("CNY") == CLOCK_PRICE * 0
        assert Money("-199.00", "CNY") == CLOCK_PRICE * -1

    @given(money("JPY"), st.integers(min_value=-1000, max_value=1000))
    def test_multiplication_is_repeated_addition(self, price: Money, qty: int) -> None:
        repeated = sum((price for _ in range(abs(qty))), Money.zero("JPY"))
        expected = repeated if qty >= 0 else -repeated
        assert expected == price * qty
        assert expected == qty * price

    @pytest.mark.parametrize(
        "factor",
        [
            pytest.param(1.5, id="float"),
            pytest.param(Decimal(2), id="Decimal"),
            pytest.param(True, id="bool"),
            pytest.param("3", id="str"),
            pytest.param(Money("2.00", "CNY"), id="Money"),
        ],
    )
    def test_anything_but_an_int_is_a_type_error(self, factor: object) -> None:
        with pytest.raises(TypeError):
            operator.mul(CLOCK_PRICE, factor)
        with pytest.raises(TypeError):
            operator.mul(factor, CLOCK_PRICE)


class TestMinorUnits:
    """`minor` and `from_minor` convert to and from integer minor units."""

    @pytest.mark.parametrize(
        ("amount", "currency", "expected"),
        [
            ("1.23", "CNY", 123),
            ("-1.23", "CNY", -123),
            ("1500", "JPY", 1500),
            ("1.234", "KWD", 1234),
            ("0.0001", "CLF", 1),
        ],
    )
    def test_minor(self, amount: str, currency: str, expected: int) -> None:
        assert expected == Money(amount, currency).minor
        assert Money(amount, currency) == Money.from_minor(expected, currency)

    @given(currencies(), st.integers(min_value=-(10**15), max_value=10**15))
    def test_from_minor_then_minor_round_trips(
        self, currency: Currency, minor: int
    ) -> None:
        assert minor == Money.from_minor(minor, currency).minor

    @given(money())
    def test_minor_then_from_minor_round_trips(self, value: Money) -> None:
        assert value == Money.from_minor(value.minor, value.currency)


class TestEqualityAndHash:
    """Money is a value: equal amounts of one currency are equal and hash alike."""

    def test_trailing_zeros_do_not_matter(self) -> None:
        assert Money("1.0", "CNY") == Money("1.00", "CNY")
        assert hash(Money("1.0", "CNY")) == hash(Money("1.00", "CNY"))
        assert [Money(1, "CNY")] == list(
            {Money("1.0", "CNY"), Money("1.00", "CNY"), Money(1, "CNY")}
        )

    @pytest.mark.parametrize(
        "make",
        [
            pytest.param(lambda: Money("-0", "CNY"), id="parsed"),
            pytest.param(lambda: Money(Decimal("-0.00"), "CNY"), id="decimal"),
            pytest.param(lambda: -Money.zero("CNY"), id="negated"),
            pytest.param(lambda: Money.zero("CNY") * -3, id="multiplied"),
            pytest.param(lambda: Money.rounded("-0.001", "CNY"), id="rounded"),
        ],
    )
    def test_zero_has_no_sign(self, make: Callable[[], Money]) -> None:
        """A statement or report never shows "-0.00": zero is zero."""
        zero = make()
        assert str(zero) == "0.00 CNY"
        assert not zero.amount.is_signed()

    @given(money())
    def test_negating_twice_is_the_same_money_with_its_sign(self, value: Money) -> None:
        negated = -value
        assert -negated == value
        assert negated.amount.is_signed() == (value.amount > 0)

    @given(money())
    def test_equal_money_hashes_alike(self, value: Money) -> None:
        again = Money.from_minor(value.minor, value.currency.code)
        assert value == again
        assert hash(value) == hash(again)

    def test_repr_and_str(self) -> None:
        expected = ("Money('199.00', 'CNY')", "Money('1500', 'JPY')", "199.00 CNY")
        assert expected == (
            repr(CLOCK_PRICE),
            repr(Money(1500, "JPY")),
            str(CLOCK_PRICE),
        )


class TestSplit:
    """`split` divides by largest remainder; the parts always sum to the total."""

    def test_docstring_example(self) -> None:
        expected = (
            Money("3.34", "CNY"),
            Money("3.33", "CNY"),
            Money("3.33", "CNY"),
        )
        assert expected == split(Money("10.00", "CNY"), [1, 1, 1])

    def test_discount_split_by_line_amounts(self) -> None:
        # A 10.00 CNY order discount across a RETRO-CLOCK and a VELVET-LAMP.
        parts = split(Money("10.00", "CNY"), [Decimal("199.00"), Decimal("99.00")])
        assert (Money("6.68", "CNY"), Money("3.32", "CNY")) == parts

    @given(_TOTALS, _WEIGHTS)
    def test_parts_sum_exactly_to_the_total(
        self, total: Money, weights: list[int | Decimal]
    ) -> None:
        parts = split(total, weights)
        assert len(weights) == len(parts)
        assert total == sum(parts, Money.zero(total.currency))
        assert all(p.currency == total.currency for p in parts)

    def test_parts_sum_exactly_with_weights_beyond_decimal_precision(self) -> None:
        # Weights with more digits than Decimal's default 28-digit context, and
        # a total Money accepts: their sum must not be rounded.
        weights = [
            Decimal(40999528447676345565774085319),
            Decimal(94313974921943328454307460629),
        ]
        total = Money.from_minor(6056441596673343280243397030, "CNY")
        parts = split(total, weights)
        assert total == sum(parts, Money.zero("CNY"))

    @given(_TOTALS, _WEIGHTS)
    def test_each_part_is_within_one_unit_of_its_exact_share(
        self, total: Money, weights: list[int | Decimal]
    ) -> None:
        parts = split(total, weights)
        for part, share in zip(parts, _exact_shares(total, weights), strict=True):
            assert abs(Fraction(part.minor) - share) < 1

    @given(_TOTALS, _WEIGHTS)
    def test_a_negative_total_splits_as_the_negated_positive_one(
        self, total: Money, weights: list[int | Decimal]
    ) -> None:
        expected = tuple(-part for part in split(total, weights))
        assert expected == split(-total, weights)

    @given(
        _TOTALS,
        st.integers(min_value=1, max_value=20),
        st.integers(min_value=1, max_value=10**6),
    )
    def test_equal_weights_give_near_equal_parts_larger_first(
        self, total: Money, count: int, weight: int
    ) -> None:
        sizes = [abs(p.minor) for p in split(total, [weight] * count)]
        assert sorted(sizes, reverse=True) == sizes
        assert max(sizes) - min(sizes) <= 1

    @given(_TOTALS, st.lists(st.integers(min_value=0, max_value=3), min_size=1))
    def test_a_zero_weight_gets_nothing(self, total: Money, drawn: list[int]) -> None:
        weights = [*drawn, 1]
        parts = split(total, weights)
        for weight, part in zip(weights, parts, strict=True):
            if weight == 0:
                assert Money.zero(total.currency) == part

    @pytest.mark.parametrize("weights", [[0, 0, 0], [], [Decimal(0)]])
    def test_no_positive_weight_is_refused(self, weights: list[int | Decimal]) -> None:
        with pytest.raises(InvalidMoney) as caught:
            split(CLOCK_PRICE, weights)
        expected = "weights"
        assert expected == caught.value.field

    @pytest.mark.parametrize(
        ("weights", "field", "bad"),
        [
            ([3, -1], "weights[1]", -1),
            ([Decimal("-0.5"), 2], "weights[0]", Decimal("-0.5")),
            ([1.5, 1], "weights[0]", 1.5),
            ([1, True], "weights[1]", True),
        ],
    )
    def test_negative_float_and_bool_weights_are_refused(
        self, weights: list[Any], field: str, bad: object
    ) -> None:
        with pytest.raises(InvalidMoney) as caught:
            split(CLOCK_PRICE, weights)
        assert field == caught.value.field
        assert bad == caught.value.value
        assert type(bad) is type(caught.value.value)
        assert isinstance(caught.value, OrderkitError)


class TestContextIndependence:
    """Money ignores the caller's decimal context and never rounds silently."""

    def test_a_low_precision_context_changes_nothing(self) -> None:
        with decimal.localcontext(decimal.Context(prec=6)):
            total = Money("123456.78", "CNY") + Money("0.01", "CNY")

        assert Money("123456.79", "CNY") == total

    def test_minor_units_sign_and_splits_ignore_a_low_precision_context(
        self,
    ) -> None:
        m = Money("1234567.89", "USD")
        with decimal.localcontext(decimal.Context(prec=6)):
            minor, negated, absolute = m.minor, -m, abs(-m)
            parts = split(m, [1, 1])

        assert minor == 123456789
        assert negated == Money("-1234567.89", "USD")
        assert absolute == m
        assert sum(parts, Money.zero("USD")) == m

    def test_prices_ignore_a_low_precision_context(self) -> None:
        quote = Quote(
            "o-1", "shop", [OrderLine("L1", "SKU-1", 1, Money("1234567.89", "CNY"))]
        )
        with decimal.localcontext(decimal.Context(prec=6)):
            total = price(quote).total

        assert total == Money("1234567.89", "CNY")

    def test_from_minor_too_large_is_refused(self) -> None:
        with pytest.raises(InvalidMoney) as caught:
            Money.from_minor(10**60 + 1, "USD")

        assert "minor" == caught.value.field

    def test_a_host_trapping_inexact_in_the_default_context_changes_nothing(
        self,
    ) -> None:
        """`decimal.DefaultContext` is where a host sets its process's defaults."""
        trapped = decimal.DefaultContext.traps[decimal.Inexact]
        decimal.DefaultContext.traps[decimal.Inexact] = True
        try:
            rounded = Money.rounded("12.345", "CNY")
            scaled = Money("10.00", "CNY").scaled("0.3333")
        finally:
            decimal.DefaultContext.traps[decimal.Inexact] = trapped
        assert (rounded, scaled) == (Money("12.35", "CNY"), Money("3.33", "CNY"))

    def test_an_amount_too_large_to_print_is_invalid_money(self) -> None:
        with pytest.raises(InvalidMoney) as caught:
            Money(10**5000, "CNY")
        assert "bits" in str(caught.value)

    def test_a_product_too_large_to_hold_exactly_is_refused(self) -> None:
        with pytest.raises(InvalidMoney):
            Money("9" * 26, "CNY") * 1000

    def test_rounding_mode_must_be_a_decimal_mode(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Money.rounded("1.005", "CNY", "bogus")

        assert ("rounding", "bogus") == (caught.value.field, caught.value.value)

    @pytest.mark.parametrize("minor", [True, 1.0, "100"])
    def test_from_minor_needs_an_int(self, minor: object) -> None:
        with pytest.raises(InvalidMoney) as caught:
            Money.from_minor(minor, "CNY")  # type: ignore[arg-type]

        assert "minor" == caught.value.field
