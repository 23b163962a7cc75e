"""Money's operators: any operand they do not take raises `InvalidOperand`.

A Money adds, subtracts and orders against a Money of its currency, and
multiplies by an int quantity; nothing else. Python's own refusal is a bare
`TypeError: unsupported operand type(s)` that says neither which value was
wrong nor what to use instead, so every arithmetic and ordering operator
refuses with `InvalidOperand` naming the operand (`field="other"`, on either
side) and saying what to do; it stays a `TypeError`, as it was.
"""

import operator
import pickle
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.errors import CurrencyMismatch, InvalidOperand, OrderkitError
from orderkit.money import Money, split
from orderkit.testing.strategies import currencies, money


# A RETRO-CLOCK sells for 199.00 CNY.
CLOCK_PRICE = Money("199.00", "CNY")
# The same, where a test applies an operator mypy rightly refuses: these
# tests are of what the operators do at run time, in untyped code.
UNTYPED_PRICE: Any = CLOCK_PRICE

Operator = Callable[[Any, Any], object]

_ADDING: list[Operator] = [operator.add, operator.sub]
_ORDERING: list[Operator] = [operator.lt, operator.le, operator.gt, operator.ge]
_MULTIPLYING: list[Operator] = [operator.mul, operator.pow]
_DIVIDING: list[Operator] = [
    operator.truediv,
    operator.floordiv,
    operator.mod,
    divmod,
]
_ALL = _ADDING + _ORDERING + _MULTIPLYING + _DIVIDING

# What each kind of operator's message tells the caller to use instead.
_HINTS: dict[Operator, tuple[str, ...]] = {
    **dict.fromkeys(_ADDING, ("Money of the same currency", "Money.zero('CNY')")),
    **dict.fromkeys(_ORDERING, ("Money of the same currency", "Money.zero('CNY')")),
    **dict.fromkeys(_MULTIPLYING + _DIVIDING, ("scaled(factor)", "split(")),
}

# Values that are not Money, of as many kinds as a caller might hand over.
_NOT_MONEY = st.one_of(
    st.integers(),
    st.booleans(),
    st.decimals(),
    st.floats(),
    st.fractions(),
    st.complex_numbers(),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.tuples(st.integers()),
    currencies(),
)


def _refused(call: Callable[[], object], operand: object) -> InvalidOperand:
    with pytest.raises(InvalidOperand) as caught:
        call()
    error = caught.value
    assert error.field == "other"
    assert error.value is operand
    return error


def _takes(op: Operator, operand: object) -> bool:
    # The one operand any of these takes besides a Money: an int quantity.
    return op is operator.mul and type(operand) is int


@pytest.mark.parametrize("op", _ALL)
@given(operand=_NOT_MONEY)
def test_any_other_operand_on_the_right_is_refused_by_name(
    op: Operator, operand: object
) -> None:
    if _takes(op, operand):
        return
    _refused(lambda: op(CLOCK_PRICE, operand), operand)


@pytest.mark.parametrize("op", _ALL)
@given(operand=_NOT_MONEY)
def test_any_other_operand_on_the_left_is_refused_by_name(
    op: Operator, operand: object
) -> None:
    if _takes(op, operand):
        return
    if op is operator.mod and isinstance(operand, str | bytes):
        return  # `"%s" % money` is string formatting, which str does itself
    if op is operator.pow and isinstance(operand, Fraction):
        # Fraction.__pow__ hands anything it does not know to float(self).
        with pytest.raises(InvalidOperand) as caught:
            op(operand, CLOCK_PRICE)
        assert caught.value.value == float(operand)
        return
    _refused(lambda: op(operand, CLOCK_PRICE), operand)


@pytest.mark.parametrize("op", _ALL)
@pytest.mark.parametrize(
    "operand",
    [
        pytest.param(1.5, id="float"),
        pytest.param(Decimal("0.333"), id="Decimal"),
        pytest.param(3, id="int"),
        pytest.param(True, id="bool"),
        pytest.param(None, id="None"),
    ],
)
def test_the_message_says_what_to_use_instead(op: Operator, operand: object) -> None:
    if _takes(op, operand):
        return
    for call in (lambda: op(CLOCK_PRICE, operand), lambda: op(operand, CLOCK_PRICE)):
        message = str(_refused(call, operand))
        for hint in _HINTS[op]:
            assert hint in message


@pytest.mark.parametrize("op", _ALL)
def test_a_refusal_is_still_a_type_error(op: Operator) -> None:
    # Python raised TypeError here before; `except TypeError` keeps working.
    error: object = _refused(lambda: op(CLOCK_PRICE, 1.5), 1.5)
    assert isinstance(error, TypeError)
    assert isinstance(error, OrderkitError)


def test_a_money_times_a_money_is_refused() -> None:
    _refused(lambda: UNTYPED_PRICE * CLOCK_PRICE, CLOCK_PRICE)


def test_three_argument_pow_is_refused() -> None:
    _refused(lambda: pow(UNTYPED_PRICE, 2, 5), 2)


def test_sum_without_a_start_says_to_give_one() -> None:
    error = _refused(lambda: sum([UNTYPED_PRICE, CLOCK_PRICE]), 0)
    assert "sum(amounts, Money.zero('CNY'))" in str(error)


def test_a_refusal_pickles() -> None:
    error = _refused(lambda: UNTYPED_PRICE / 3, 3)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert isinstance(copy, InvalidOperand)
    assert (copy.field, copy.value, str(copy)) == ("other", 3, str(error))


class TestWhatStillWorks:
    """The operators' own operands, equality and the unary operators."""

    @given(money("CNY"), money("CNY"))
    def test_money_adds_subtracts_and_orders_against_money(
        self, a: Money, b: Money
    ) -> None:
        assert (a + b).amount == a.amount + b.amount
        assert (a - b).amount == a.amount - b.amount
        assert (a < b, a <= b, a > b, a >= b) == (
            a.amount < b.amount,
            a.amount <= b.amount,
            a.amount > b.amount,
            a.amount >= b.amount,
        )

    @given(money("JPY"), st.integers(min_value=-1000, max_value=1000))
    def test_money_multiplies_by_an_int_on_either_side(
        self, price: Money, quantity: int
    ) -> None:
        assert (price * quantity).amount == price.amount * quantity
        assert quantity * price == price * quantity

    def test_sum_with_a_start_and_the_unary_operators(self) -> None:
        total = sum([CLOCK_PRICE, CLOCK_PRICE], Money.zero("CNY"))
        assert Money("398.00", "CNY") == total
        assert Money("-199.00", "CNY") == -CLOCK_PRICE
        assert CLOCK_PRICE == abs(-CLOCK_PRICE)
        assert (Money("99.50", "CNY"),) * 2 == split(CLOCK_PRICE, [1, 1])

    def test_another_currency_is_still_a_currency_mismatch(self) -> None:
        with pytest.raises(CurrencyMismatch) as caught:
            CLOCK_PRICE + Money("1.00", "USD")
        assert type(caught.value) is CurrencyMismatch

    @given(operand=_NOT_MONEY)
    def test_equality_with_anything_else_is_false(self, operand: object) -> None:
        assert CLOCK_PRICE != operand
        assert operand != CLOCK_PRICE
        assert not CLOCK_PRICE == operand  # noqa: SIM201 - `==` itself is tested
        try:
            hash(operand)
        except TypeError:  # a list, a signalling NaN
            return
        assert operand not in {CLOCK_PRICE: "clock"}

    def test_money_works_in_sets_and_dicts_beside_other_types(self) -> None:
        mixed = {CLOCK_PRICE, Money("199.00", "CNY"), 199, "199.00", None}
        assert len(mixed) == 4
        assert Money("199.00", "CNY") in mixed
        assert {CLOCK_PRICE: 1}[Money("199.00", "CNY")] == 1

    def test_string_formatting_with_percent_is_untouched(self) -> None:
        assert "199.00 CNY" == "%s" % CLOCK_PRICE  # noqa: UP031 - `%` itself

    def test_fractions_and_decimals_are_refused_on_either_side(self) -> None:
        third, one = Fraction(1, 3), Decimal(1)
        _refused(lambda: third * UNTYPED_PRICE, third)
        _refused(lambda: one + UNTYPED_PRICE, one)
