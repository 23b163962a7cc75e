"""Money: an exact `Decimal` amount in one ISO 4217 currency.

Rules, each pinned by a test:

- Amounts are `Decimal`, `int` or a plain decimal string (`"12.30"`, `"-5"`);
  `float`, `bool`, NaN, infinities and strings such as `"1e3"` or `"12,30"` are
  refused with `InvalidMoney`.
- An amount is stored at exactly the currency's minor unit (`CNY` 2 places,
  `JPY` 0, `KWD` 3). The constructor never rounds: an amount with more places
  than the currency allows is refused, unless they are only trailing zeros
  (`Money("1.000", "JPY")` is 1 JPY: no value changes). Rounding happens only
  where you ask for it, with a named rounding mode (`Money.rounded`,
  `Money.scaled`). Zero has no sign: `"-0.00"` is `0.00`.
- Arithmetic and comparison work within one currency; mixing raises
  `CurrencyMismatch`. A Money adds, subtracts and orders against a Money
  only, and multiplies by an int quantity only; it is never divided. Any
  other operand (`money * 1.5`, `money / 3`, `0 + money`, `money < 0`)
  raises `InvalidOperand`, naming it, with what to use instead.
- `split(total, weights)` divides an amount by the largest-remainder method,
  so the parts always sum exactly to the total.

```python
>>> from orderkit.money import Money, split
>>> Money("199.00", "USD") * 3 - Money("10", "USD")
Money('587.00', 'USD')
>>> split(Money("10.00", "CNY"), [1, 1, 1])
(Money('3.34', 'CNY'), Money('3.33', 'CNY'), Money('3.33', 'CNY'))

```

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, NoReturn, final

import attrs

from orderkit._decimal import MAX_DIGITS, context
from orderkit._iso4217 import MINOR_UNITS
from orderkit.errors import (
    CurrencyMismatch,
    InvalidMoney,
    InvalidOperand,
    UnknownCurrency,
    ValidationError,
)


__all__ = ["Currency", "DEFAULT_ROUNDING", "Money", "split"]

DEFAULT_ROUNDING = ROUND_HALF_UP
"""The rounding mode `Money.rounded` and `Money.scaled` use unless told otherwise.

Half-up (四舍五入) is what buyers and Chinese tax invoices expect.
"""


# Money never depends on the caller's decimal context: exact operations run in
# this one, which raises instead of rounding (50 digits is far beyond any
# amount of money), and rounding happens only where a mode is named; the wide
# one rounds at 50 digits where a result is rounded next anyway.
_EXACT = context(decimal.Inexact)
_WIDE = context(decimal.DivisionByZero)
_ROUNDING_MODES = frozenset(
    {
        decimal.ROUND_CEILING,
        decimal.ROUND_DOWN,
        decimal.ROUND_FLOOR,
        decimal.ROUND_HALF_DOWN,
        decimal.ROUND_HALF_EVEN,
        decimal.ROUND_HALF_UP,
        decimal.ROUND_UP,
        decimal.ROUND_05UP,
    }
)

# Plain decimal numbers only: an exponent or a thousands separator in a price
# is far more often a bug upstream than a legitimate format.
_PLAIN_DECIMAL = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


@final
@attrs.frozen(slots=True, repr=False)
class Currency:
    """An active ISO 4217 currency and its minor unit.

    `Currency("CNY")` looks the code up; the minor units come from the ISO
    table shipped with orderkit, so a currency cannot be built with wrong ones.

    Attributes:
        code: The three-letter code, upper case (`"CNY"`).
        minor_units: Decimal places of the smallest unit (`2` for fen).

    Raises:
        UnknownCurrency: The code is not an active ISO 4217 currency.

    .. versionadded:: 0.1.0
    """

    code: str
    minor_units: int = attrs.field(init=False, eq=False, hash=False)
    _quantum: Decimal = attrs.field(init=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        try:
            units = MINOR_UNITS[self.code]
        except (KeyError, TypeError):
            raise UnknownCurrency("currency", self.code) from None
        object.__setattr__(self, "minor_units", units)
        object.__setattr__(self, "_quantum", Decimal(1).scaleb(-units, context=_EXACT))

    def __repr__(self) -> str:
        return f"Currency({self.code!r})"

    @property
    def quantum(self) -> Decimal:
        """The smallest unit as a Decimal (`Decimal("0.01")` for CNY)."""
        return self._quantum


_CURRENCIES = {code: Currency(code) for code in MINOR_UNITS}


def _as_currency(value: Currency | str) -> Currency:
    if isinstance(value, Currency):
        return value
    try:
        return _CURRENCIES[value]
    except (KeyError, TypeError):
        raise UnknownCurrency("currency", value) from None


def _as_decimal(value: Decimal | int | str, field: str = "amount") -> Decimal:
    # bool is an int subclass; True dollars is never meant.
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidMoney(field, value, "must be a finite number")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str) and _PLAIN_DECIMAL.fullmatch(value):
        return Decimal(value)
    if isinstance(value, float):
        raise InvalidMoney(
            field, value, "floats are not exact; pass a Decimal, an int or a string"
        )
    raise InvalidMoney(field, value, "must be a Decimal, an int or a decimal string")


@final
@attrs.frozen(slots=True, init=False, repr=False, order=False)
class Money:
    """An exact amount of one currency.

    Args:
        amount: A `Decimal`, `int` or plain decimal string, with no more decimal
            places than the currency's minor unit allows.
        currency: A `Currency` or its ISO 4217 code.

    Raises:
        InvalidMoney: The amount is a float, not finite, not a plain decimal
            number, or has more decimal places than the currency allows.
        UnknownCurrency: The currency is not an active ISO 4217 code.

    .. versionadded:: 0.1.0
    """

    amount: Decimal
    currency: Currency

    def __init__(self, amount: Decimal | int | str, currency: Currency | str) -> None:
        # The common cases first: a decimal string (JSON) and a Decimal.
        cur = currency if type(currency) is Currency else _as_currency(currency)
        if type(amount) is str and _PLAIN_DECIMAL.fullmatch(amount):
            value = Decimal(amount)
        else:
            value = _as_decimal(amount)
        try:
            exact = value.quantize(cur._quantum, context=_EXACT)  # noqa: SLF001
        except decimal.Inexact:
            raise InvalidMoney(
                "amount",
                amount,
                f"{cur.code} has {cur.minor_units} decimal places; "
                "round explicitly with Money.rounded()",
            ) from None
        except decimal.DecimalException:
            raise InvalidMoney("amount", amount, "is too large") from None
        if exact:
            if exact.adjusted() + 1 + cur.minor_units > MAX_DIGITS:
                _check_size(exact, cur, amount)
        elif exact.is_signed():
            # "-0.00" is zero: it prints, serializes and sums as 0.00.
            exact = exact.copy_abs()
        _set_amount(self, exact)
        _set_currency(self, cur)

    @classmethod
    def rounded(
        cls,
        amount: Decimal | int | str,
        currency: Currency | str,
        rounding: str = DEFAULT_ROUNDING,
    ) -> Money:
        """Build a `Money`, rounding the amount to the currency's minor unit.

        Args:
            amount: Any finite plain decimal amount.
            currency: A `Currency` or its code.
            rounding: A `decimal` rounding mode, such as `decimal.ROUND_HALF_EVEN`.

        Returns:
            The rounded amount.

        Raises:
            InvalidMoney: As for `Money`, except for the number of places.
            ValidationError: `rounding` is not a `decimal` rounding mode.
        """
        cur = _as_currency(currency)
        if rounding not in _ROUNDING_MODES:
            raise ValidationError("rounding", rounding, "not a decimal rounding mode")
        value = _as_decimal(amount)
        try:
            rounded = value.quantize(cur.quantum, rounding=rounding, context=_WIDE)
        except decimal.DecimalException:
            raise InvalidMoney("amount", amount, "is too large") from None
        return cls(rounded, cur)

    @classmethod
    def zero(cls, currency: Currency | str) -> Money:
        """Return nothing of a currency: `Money.zero("CNY")` is `0.00 CNY`."""
        return cls(0, currency)

    @property
    def minor(self) -> int:
        """The amount in minor units (fen, cents): `123` for `1.23 CNY`."""
        return int(self.amount.scaleb(self.currency.minor_units, context=_EXACT))

    @classmethod
    def from_minor(cls, minor: int, currency: Currency | str) -> Money:
        """Build a `Money` from an integer count of minor units.

        Raises:
            InvalidMoney: `minor` is not an int (a bool or a float included),
                or too large for a `Money`.
        """
        if type(minor) is not int:
            raise InvalidMoney("minor", minor, "must be an int count of minor units")
        cur = _as_currency(currency)
        try:
            amount = Decimal(minor).scaleb(-cur.minor_units, context=_EXACT)
        except decimal.DecimalException:
            raise InvalidMoney("minor", minor, "is too large") from None
        return cls(amount, cur)

    def scaled(
        self, factor: Decimal | int | str, rounding: str = DEFAULT_ROUNDING
    ) -> Money:
        """Multiply by an exact factor (a rate such as `"0.85"`) and round.

        Args:
            factor: A Decimal, int or plain decimal string; never a float.
            rounding: A `decimal` rounding mode.

        Returns:
            The product at the currency's minor unit.
        """
        exact = _as_decimal(factor, "factor")
        digits = len(self.amount.as_tuple().digits) + len(exact.as_tuple().digits)
        # A product has at most as many digits as its factors together: at
        # that precision it is exact, and rounds once, in `rounding`'s mode.
        wide = _WIDE if digits <= _WIDE.prec else context(prec=digits)
        try:
            product = wide.multiply(self.amount, exact)
        except decimal.DecimalException:
            raise InvalidMoney("factor", factor, "is too large") from None
        return Money.rounded(product, self.currency, rounding)

    def _same(self, other: Money, field: str) -> None:
        if other.currency is not self.currency and other.currency != self.currency:
            raise CurrencyMismatch(field, other.currency.code, self.currency.code)

    def _exact(self, operation: str, a: Decimal, b: Decimal) -> Money:
        try:
            amount: Decimal = getattr(_EXACT, operation)(a, b)
        except decimal.DecimalException:
            raise InvalidMoney("amount", a, f"{operation} overflows") from None
        _check_size(amount, self.currency, amount)
        if not amount and amount.is_signed():
            amount = amount.copy_abs()  # 0.00 x -1 is 0.00, as `__init__` keeps it
        return self._new(amount)

    def _new(self, amount: Decimal) -> Money:
        # Exact results of exact amounts need no validation.
        result = object.__new__(Money)
        object.__setattr__(result, "amount", amount)
        object.__setattr__(result, "currency", self.currency)
        return result

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            raise _bad_operand(self, other, _ADD)
        self._same(other, "currency")
        return self._exact("add", self.amount, other.amount)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            raise _bad_operand(self, other, _ADD)
        self._same(other, "currency")
        return self._exact("subtract", self.amount, other.amount)

    def __mul__(self, quantity: int) -> Money:
        if type(quantity) is not int:  # bool is an int, but never a quantity
            raise _bad_operand(self, quantity, _MULTIPLY)
        return self._exact("multiply", self.amount, Decimal(quantity))

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        amount = self.amount
        return self._new(amount.copy_negate() if amount else amount)

    def __abs__(self) -> Money:
        return self._new(self.amount.copy_abs())

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            raise _bad_operand(self, other, _ORDER)
        self._same(other, "currency")
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            raise _bad_operand(self, other, _ORDER)
        self._same(other, "currency")
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            raise _bad_operand(self, other, _ORDER)
        self._same(other, "currency")
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            raise _bad_operand(self, other, _ORDER)
        self._same(other, "currency")
        return self.amount >= other.amount

    # Operators Money never takes, defined only to refuse with a typed error
    # that says what to use instead (Python's bare TypeError does not).
    # Hidden from mypy, which would otherwise accept `money / 3` or
    # `sum(moneys)` as valid: to a type checker Money keeps no such operator.
    if not TYPE_CHECKING:

        def __radd__(self, other: object) -> NoReturn:
            # Money + Money never gets here: `0 + money`, as `sum(moneys)`
            # without a start does.
            raise _bad_operand(self, other, _ADD)

        __rsub__ = __radd__

        def __truediv__(self, other: object) -> NoReturn:
            raise _bad_operand(self, other, _DIVIDE)

        __rtruediv__ = __floordiv__ = __rfloordiv__ = __truediv__
        __mod__ = __rmod__ = __divmod__ = __rdivmod__ = __truediv__

        def __pow__(self, other: object, modulo: object = None) -> NoReturn:
            raise _bad_operand(self, other, _MULTIPLY)

        def __rpow__(self, other: object, modulo: object = None) -> NoReturn:
            raise _bad_operand(self, other, _MULTIPLY)

    def __repr__(self) -> str:
        return f"Money({str(self.amount)!r}, {self.currency.code!r})"

    def __str__(self) -> str:
        return f"{self.amount} {self.currency.code}"


# Slot descriptors set the fields of a frozen instance directly.
_set_amount = Money.__dict__["amount"].__set__
_set_currency = Money.__dict__["currency"].__set__


# What to do instead, for each operator Money refuses an operand of: the
# message of the `InvalidOperand` that `_bad_operand` raises.
_ADD = (
    "a Money adds and subtracts only a Money of the same currency; "
    "to sum amounts, give sum() a start: sum(amounts, Money.zero({code!r}))"
)
_MULTIPLY = (
    "a Money is multiplied only by an int quantity; for a rate use "
    "money.scaled(factor), to share it out split(money, weights)"
)
_DIVIDE = (
    "a Money is not divided; to share it out use split(money, weights), "
    "for a rate money.scaled(factor)"
)
_ORDER = (
    "a Money is ordered only against a Money of the same currency, "
    "as Money.zero({code!r})"
)


def _bad_operand(money: Money, other: object, problem: str) -> InvalidOperand:
    # `other` is the operand that is not this Money, on either side.
    return InvalidOperand("other", other, problem.format(code=money.currency.code))


def _check_size(amount: Decimal, currency: Currency, given: object) -> None:
    if amount and amount.adjusted() + 1 + currency.minor_units > MAX_DIGITS:
        raise InvalidMoney(
            "amount", given, f"is too large (over {MAX_DIGITS} significant digits)"
        )


def split(total: Money, weights: Sequence[Decimal | int]) -> tuple[Money, ...]:
    """Divide `total` in proportion to `weights`, to the minor unit.

    Largest remainder: each part gets the floor of its exact share in minor
    units, and the units left over go one each to the parts with the largest
    remainders (ties to the earlier part). The parts always sum exactly to
    the total; a negative total is split as its absolute value, then negated.

    Args:
        total: The amount to divide (a discount, shipping, a refund).
        weights: Non-negative weights, at least one of them positive (line
            amounts or quantities).

    Returns:
        One part per weight, in the same order.

    Raises:
        InvalidMoney: A weight is negative, a float, or all weights are zero.

    .. versionadded:: 0.1.0
    """
    exact = [_as_decimal(w, f"weights[{i}]") for i, w in enumerate(weights)]
    for i, weight in enumerate(exact):
        if weight < 0:
            raise InvalidMoney(f"weights[{i}]", weights[i], "must not be negative")
    # Fractions, not Decimal: a Decimal sum rounds to the context's 28 digits.
    whole = sum((Fraction(w) for w in exact), Fraction(0))
    if whole <= 0:
        raise InvalidMoney(
            "weights", list(weights), "need at least one positive weight"
        )
    units = abs(total.minor)
    # Fractions keep every share exact, whatever the weights' precision.
    shares = [units * Fraction(w) / whole for w in exact]
    floors = [math.floor(s) for s in shares]
    left = units - sum(floors)
    by_remainder = sorted(range(len(shares)), key=lambda i: (floors[i] - shares[i], i))
    for i in by_remainder[:left]:
        floors[i] += 1
    sign = -1 if total.amount < 0 else 1
    return tuple(Money.from_minor(sign * f, total.currency) for f in floors)
