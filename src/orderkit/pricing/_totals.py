"""Totals: an order's lines and offers, priced exactly at the minor unit."""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Final, final

import attrs

from orderkit._decimal import MAX_DIGITS, context
from orderkit._fast import builder, draft, setters
from orderkit._iso4217 import MINOR_UNITS
from orderkit._validate import Validator, as_tuple, instance_of, text
from orderkit.errors import (
    CurrencyMismatch,
    EmptyOrder,
    InvalidMoney,
    InvalidOffer,
    ValidationError,
)
from orderkit.money import Currency, Money, split
from orderkit.orders import Order, OrderLine
from orderkit.pricing._offers import (
    OFFER_TYPES,
    AmountOff,
    BuyXGetY,
    FixedPrice,
    FreeShipping,
    Offer,
    PercentOff,
    StackingPolicy,
)
from orderkit.pricing._skus import _KEYS, sku_key


# Its own context: the host's default (an Inexact trap) never changes a price.
_EXACT = context(decimal.DivisionByZero, prec=60, rounding=ROUND_HALF_UP)
_ONE = Decimal(1)
_new_money = object.__new__
_set_amount, _set_currency = setters(Money)
# Powers of ten by minor units, as Decimals: `_EXACT.multiply` by one, and
# `_EXACT.scaleb` by a negative one, cost less than `scaleb` by an int
# (which converts it on every call), and are as exact.
_TENS: Final = tuple(
    Decimal(10**units) for units in range(max(MINOR_UNITS.values()) + 1)
)
_DOWN: Final = tuple(Decimal(-units) for units in range(len(_TENS)))
_multiply: Final = _EXACT.multiply
_scaleb: Final = _EXACT.scaleb


def _money(minor: int, currency: Currency) -> Money:
    # Exact integers of minor units need no validation: skip Money's checks.
    result = _new_money(Money)
    _set_amount(result, _scaleb(minor, _DOWN[currency.minor_units]))
    _set_currency(result, currency)
    return result


def _minor(money: Money) -> int:
    """`money.minor`, for the hot paths: one exact multiplication."""
    return int(_multiply(money.amount, _TENS[money.currency.minor_units]))


def split_minor(units: int, weights: Sequence[int]) -> list[int]:
    """Split `units` over integer `weights` by largest remainder.

    The same parts as `orderkit.money.split` for the same amount in minor
    units (ties to the earlier part), with integers only; all-zero weights
    give all-zero parts.
    """
    whole = sum(weights)
    if whole <= 0:
        return [0] * len(weights)
    parts = [units * weight // whole for weight in weights]
    left = units - sum(parts)
    if left:
        remainders = [units * weight % whole for weight in weights]
        # Largest remainder first; a stable sort keeps ties in order even
        # reversed, so a tie goes to the earlier part.
        by_remainder = sorted(
            range(len(parts)), key=remainders.__getitem__, reverse=True
        )
        for i in by_remainder[:left]:
            parts[i] += 1
    return parts


def _check_size(quote: Quote) -> None:
    """Refuse a quote whose goods, or the most it can come to, Money cannot hold.

    Each line fits Money; their sum may not, nor that sum with shipping and
    tax (offers only take off). Refused here, `price` and `validate` never
    meet a total they could not return. The error names the part that
    brings the sum over.
    """
    # Exact below 10**28 minor units (60 digits of precision), and never
    # rounded under it above: the host's context plays no part.
    add, multiply = _EXACT.add, _EXACT.multiply
    most = Decimal(0)
    for line in quote.lines:
        most = add(most, multiply(line.unit_price.amount, line.quantity))
    _check_most(quote, "lines", quote.lines, most)
    if quote.shipping is not None:
        most = add(most, quote.shipping.amount)
        _check_most(quote, "shipping", quote.shipping, most)
    if quote.tax is not None and not quote.taxes_included:
        most = add(most, quote.tax.amount)
        _check_most(quote, "tax", quote.tax, most)


def _check_most(quote: Quote, field: str, value: object, most: Decimal) -> None:
    currency = quote.currency
    # Money's own rule: at most MAX_DIGITS significant digits at the minor unit.
    if not most or most.adjusted() + 1 + currency.minor_units <= MAX_DIGITS:
        return
    raise InvalidMoney(
        field,
        value,
        f"brings the quote to {most} {currency.code}, over the"
        f" {MAX_DIGITS} significant digits Money holds",
    )


def _lines(value: Iterable[OrderLine]) -> tuple[OrderLine, ...]:
    lines = as_tuple(value, "lines", OrderLine)
    if not lines:
        raise EmptyOrder("lines", lines, "a quote needs at least one line")
    currency = lines[0].unit_price.currency
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if line.unit_price.currency != currency:
            raise CurrencyMismatch(
                f"lines[{i}].unit_price", line.unit_price.currency.code, currency.code
            )
        if line.line_id in seen:
            raise ValidationError(
                f"lines[{i}].line_id", line.line_id, "repeats an earlier line id"
            )
        seen.add(line.line_id)
    return lines


def _offers(value: Iterable[Offer]) -> tuple[Offer, ...]:
    given: object = value
    if isinstance(given, str | bytes) or not isinstance(given, Iterable):
        raise InvalidOffer("offers", value, "must be a sequence of offers")
    offers = tuple(given)
    for i, offer in enumerate(offers):
        if not isinstance(offer, OFFER_TYPES):
            raise InvalidOffer(f"offers[{i}]", offer, "not an offer of a known kind")
    return offers


def _optional_money(field: str) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if value is not None and type(value) is not Money:
            raise ValidationError(field, value, "must be a Money or None")

    return check


@final
@attrs.frozen(slots=True)
class Quote:
    """An order as priced: its lines, the offers claimed, and the channel's figures.

    The `Order` aggregate holds what was bought; a quote adds what the
    channel says about money: the offers (coupons, promotions) it applied,
    shipping, tax, and the total it charged. `price` computes what the
    total should be; `validate` compares the two.

    Attributes:
        order_id: The order's id.
        channel: The sales channel, which picks the pricing policy.
        lines: The order's lines, at least one, all in one currency.
        offers: The offers claimed, in the order they were claimed.
        shipping: Shipping charged, before a free-shipping offer; `None`
            for none.
        tax: Tax the channel states; `None` for none.
        stated_total: The total the channel says the buyer pays, if it
            says; may be in another currency or negative (a violation).
        taxes_included: Whether prices already include the tax (then it is
            not added to the total).

    Raises:
        EmptyOrder: There are no lines.
        CurrencyMismatch: Lines, shipping or tax in different currencies.
        InvalidOffer: An offer is not an offer of a known kind.
        ValidationError: A line id repeats, or shipping or tax is negative.
        InvalidMoney: The lines' `unit_price * quantity` sum, or that sum
            with shipping and tax (where added), has more significant digits
            than `Money` holds (`field` is `lines`, `shipping` or `tax`,
            whichever brings it over).

    .. versionadded:: 0.1.0
    """

    order_id: str = attrs.field(validator=text("order_id"))
    channel: str = attrs.field(validator=text("channel"))
    lines: tuple[OrderLine, ...] = attrs.field(converter=_lines)
    offers: tuple[Offer, ...] = attrs.field(default=(), converter=_offers)
    shipping: Money | None = attrs.field(
        default=None, validator=_optional_money("shipping")
    )
    tax: Money | None = attrs.field(default=None, validator=_optional_money("tax"))
    stated_total: Money | None = attrs.field(
        default=None, validator=_optional_money("stated_total")
    )
    taxes_included: bool = attrs.field(
        default=False, validator=instance_of("taxes_included", bool)
    )

    def __attrs_post_init__(self) -> None:
        currency = self.currency
        for name, amount in (("shipping", self.shipping), ("tax", self.tax)):
            if amount is None:
                continue
            if amount.currency != currency:
                raise CurrencyMismatch(name, amount.currency.code, currency.code)
            if amount.amount < 0:
                raise ValidationError(name, amount, "must not be negative")
        _check_size(self)

    @classmethod
    def from_order(  # noqa: PLR0913 - the channel's figures, keyword-only
        cls,
        order: Order,
        *,
        offers: Iterable[Offer] = (),
        shipping: Money | None = None,
        tax: Money | None = None,
        stated_total: Money | None = None,
        taxes_included: bool = False,
    ) -> Quote:
        """Build a quote from an order and the channel's figures for it."""
        return cls(
            order.order_id,
            order.channel,
            order.lines,
            tuple(offers),
            shipping,
            tax,
            stated_total,
            taxes_included,
        )

    @property
    def currency(self) -> Currency:
        """The currency of the lines."""
        return self.lines[0].unit_price.currency


@final
@attrs.frozen(slots=True)
class NetLine:
    """One line after the offers: its price, its discounts and what is left.

    `gross - line_discount - order_discount == net`, exactly, and the nets of
    an order's lines sum to its net goods total.

    Attributes:
        line_id: The order line's id.
        sku: The line's SKU.
        quantity: Units on the line.
        unit_price: The unit price before discounts.
        gross: `unit_price * quantity`.
        line_discount: Discounts of offers aimed at this line's SKU.
        order_discount: This line's share of order-wide discounts.
        net: What the line costs after every discount, never negative.

    .. versionadded:: 0.1.0
    """

    line_id: str
    sku: str
    quantity: int
    unit_price: Money
    gross: Money
    line_discount: Money
    order_discount: Money
    net: Money
    # Set by `_net_lines` only: the currency and the four amounts in minor
    # units. Pricing builds ten lines an order and most callers read none of
    # their amounts, so the Money fields are left unset and built on first
    # read (`__getattr__`); out of eq, hash and repr, which read the fields.
    _minor: tuple[Currency, int, int, int, int] | None = attrs.field(
        default=None, init=False, eq=False, hash=False, repr=False
    )

    if not TYPE_CHECKING:  # hidden from mypy, which would accept any name

        def __getattr__(self, name: str) -> Any:  # noqa: ANN401
            # Only called when the slot is unset: a lazy line's Money fields.
            return _lazy_money(self, name, _LAZY_FIELDS, _SET_FIELD)

    def below(self, floor: Money) -> bool:
        """Return whether the net unit price is below `floor`, exactly.

        Compares `net < floor * quantity`, so no rounding of a unit price
        (199.00 / 3) can hide a line one cent under its floor.

        Raises:
            CurrencyMismatch: The floor is in another currency.
        """
        minor = self._minor
        currency = self.net.currency if minor is None else minor[0]
        # Identity first: attrs' != on Currency is slow, and amounts nearly
        # always share the one instance of a currency.
        if floor.currency is not currency and floor.currency != currency:
            raise CurrencyMismatch("floor", floor.currency.code, currency.code)
        if minor is not None:
            # Minor units, exact as both amounts are: no Money built.
            return minor[4] < floor.minor * self.quantity
        # Decimal, not Money: no Money built per line; exact in its own
        # context, whatever the caller's.
        return self.net.amount < _EXACT.multiply(floor.amount, self.quantity)

    @property
    def net_unit_price(self) -> Money:
        """The net price of one unit, rounded down to the minor unit."""
        exact = _EXACT.divide(self.net.amount, Decimal(self.quantity))
        return Money.rounded(exact, self.net.currency, decimal.ROUND_FLOOR)


def net_below(line: NetLine, floor: Money, least: int) -> bool:
    """`line.below(floor)` for a floor in the line's currency, `least` minor units.

    A line `_net_lines` made compares in minor units, without `floor.minor`.
    """
    minor = line._minor  # noqa: SLF001 - NetLine's own parts, in its module
    if minor is None:
        return line.below(floor)
    return minor[4] < least * line.quantity


# The lazy Money fields of a NetLine, by their index in `NetLine._minor`.
def _lazy_money(
    instance: NetLine | Totals,
    name: str,
    fields: Mapping[str, int],
    setters: Mapping[str, Callable[[object, Money], None]],
) -> Money:
    """Build, keep and return the lazy Money field `name` of `instance`.

    `fields` gives each lazy field's place in `instance._minor`; any other
    name, or an instance built with its Money fields, has no such attribute.
    """
    index = fields.get(name)
    # The currency, then amounts in minor units at the places `fields` names;
    # `_minor` itself is read only for a lazy field: unset, it would recurse.
    minor: tuple[Any, ...] | None = (
        None if index is None else instance._minor  # noqa: SLF001 - its own
    )
    if index is None or minor is None:
        msg = f"{type(instance).__name__!r} object has no attribute {name!r}"
        raise AttributeError(msg)
    value = _money(minor[index], minor[0])
    setters[name](instance, value)
    return value


_LAZY_FIELDS = {"gross": 1, "line_discount": 2, "order_discount": 3, "net": 4}
_SET_FIELD = {name: NetLine.__dict__[name].__set__ for name in _LAZY_FIELDS}
# NetLine's draft (`orderkit._fast.draft`): plain attribute stores, cheaper
# than its slots' setters. `_net_lines` leaves the lazy fields unset.
_NetLineDraft = draft(NetLine)


def _net_lines(
    lines: Sequence[OrderLine],
    currency: Currency,
    gross: list[int],
    line_off: list[int],
    order_off: list[int],
) -> tuple[NetLine, ...]:
    """The NetLines of `lines`, whose Money fields are built when first read.

    Each equal to `NetLine(..., gross, line_discount, order_discount, net)`
    with those amounts as Money; no validation runs (the parts are exact
    ints). One loop for all lines: a call per line costs more than its body.
    """
    made: list[NetLine] = []
    for line, line_gross, off_line, off_order in zip(
        lines, gross, line_off, order_off, strict=True
    ):
        result = _NetLineDraft()
        result.line_id = line.line_id
        result.sku = line.sku
        result.quantity = line.quantity
        result.unit_price = line.unit_price
        net = line_gross - off_line - off_order
        # fmt: off
        result._minor = (  # noqa: SLF001 - its own lazy slot
            currency, line_gross, off_line, off_order, net,
        )
        # fmt: on
        result.__class__ = NetLine
        made.append(result)
    return tuple(made)


@final
@attrs.frozen(slots=True)
class AppliedOffer:
    """An offer that was applied, and how much it took off.

    Attributes:
        index: Its position in the offers claimed.
        offer: The offer.
        amount: What it took off, after the caps.

    .. versionadded:: 0.1.0
    """

    index: int
    offer: Offer
    amount: Money


# Applied offers are built of checked parts: AppliedOffer has no checks.
_new_applied: Final = builder(AppliedOffer)


@final
@attrs.frozen(slots=True)
class RefusedOffer:
    """An offer the stacking policy, its currency or its minimum spend kept out.

    Attributes:
        index: Its position in the offers claimed.
        offer: The offer.
        reason: `"exclusive"`, `"not_combinable"`, `"max_stacked"`,
            `"max_per_issuer"`, `"duplicate_code"`, `"currency_mismatch"`
            or `"min_spend"`.
        message: The reason in words.
        subtotal: For `"min_spend"`, the goods measured against the offer's
            `min_spend` (see `AmountOff.min_spend`); `None` for the others.

    .. versionadded:: 0.1.0
    """

    index: int
    offer: Offer
    reason: str
    message: str
    subtotal: Money | None = None


@final
@attrs.frozen(slots=True)
class Totals:
    """What an order should cost, line by line, with every offer accounted for.

    `total = goods - line_discounts - order_discounts + shipping -
    shipping_discount (+ tax unless taxes_included)`, exactly.

    Attributes:
        currency: The order's currency.
        lines: Every line after the offers, in order.
        goods: `sum(unit_price * quantity)`.
        line_discounts: Discounts of offers aimed at SKUs.
        order_discounts: Order-wide discounts, split over the lines.
        shipping: Shipping charged before offers.
        shipping_discount: What free-shipping offers took off shipping.
        tax: The tax stated.
        taxes_included: Whether the tax is inside the prices already.
        total: What the buyer should pay.
        applied: The offers applied, in the order of application.
        refused: The offers kept out, in the order of application.

    .. versionadded:: 0.1.0
    """

    currency: Currency
    lines: tuple[NetLine, ...]
    goods: Money
    line_discounts: Money
    order_discounts: Money
    shipping: Money
    shipping_discount: Money
    tax: Money
    taxes_included: bool
    total: Money
    applied: tuple[AppliedOffer, ...]
    refused: tuple[RefusedOffer, ...]
    # Set by `_totals` only: the currency and six amounts in minor units, as
    # `NetLine._minor`. Most callers read the total alone (`validate`), so
    # the other Money fields are left unset and built on first read.
    _minor: tuple[Currency, int, int, int, int, int, int] | None = attrs.field(
        default=None, init=False, eq=False, hash=False, repr=False
    )

    if not TYPE_CHECKING:  # hidden from mypy, which would accept any name

        def __getattr__(self, name: str) -> Any:  # noqa: ANN401
            # Only called when the slot is unset: lazy totals' Money fields.
            return _lazy_money(self, name, _LAZY_TOTALS, _SET_TOTALS_FIELD)

    @property
    def net_goods(self) -> Money:
        """The goods after every discount: the sum of the lines' nets."""
        return self.goods - self.line_discounts - self.order_discounts


# The lazy Money fields of Totals, by their index in `Totals._minor`.
_LAZY_TOTALS = {
    "goods": 1,
    "line_discounts": 2,
    "order_discounts": 3,
    "shipping": 4,
    "shipping_discount": 5,
    "tax": 6,
}
_SET_TOTALS_FIELD = {name: Totals.__dict__[name].__set__ for name in _LAZY_TOTALS}
# Totals' draft (`orderkit._fast.draft`): `_totals` fills it, lazy fields unset.
_TotalsDraft = draft(Totals)


DEFAULT_STACKING = StackingPolicy()


def _refusal(  # noqa: PLR0911 - one answer per rule, in the policy's order
    offer: Offer,
    currency: Currency,
    taken: list[Offer],
    policy: StackingPolicy,
    *,
    stacking: bool,
) -> tuple[str, str] | None:
    amount = (
        offer.amount
        if type(offer) is AmountOff
        else offer.price
        if type(offer) is FixedPrice
        else offer.min_spend
        if type(offer) is PercentOff or type(offer) is FreeShipping
        else None
    )
    # Identity first: attrs' != on Currency is slow, and amounts nearly
    # always share the one instance of a currency.
    if (
        amount is not None
        and amount.currency is not currency
        and amount.currency != currency
    ):
        return (
            "currency_mismatch",
            (
                f"offer {offer.code!r} is in {amount.currency.code}, "
                f"the order in {currency.code}"
            ),
        )
    if not stacking or not taken:
        # Every rule below refuses an offer for the ones taken before it.
        return None
    if any(other.code == offer.code for other in taken):
        return "duplicate_code", f"offer {offer.code!r} is claimed twice"
    if taken and (
        offer.kind in policy.exclusive or any(o.kind in policy.exclusive for o in taken)
    ):
        return "exclusive", f"offer {offer.code!r} cannot stack with an exclusive offer"
    if policy.max_stacked is not None and len(taken) >= policy.max_stacked:
        return (
            "max_stacked",
            f"offer {offer.code!r} would stack more than {policy.max_stacked} offers",
        )
    most = policy.max_per_issuer
    issuer = offer.issuer
    if (
        most is not None
        and issuer is not None
        and sum(other.issuer == issuer for other in taken) >= most
    ):
        return (
            "max_per_issuer",
            f"offer {offer.code!r} would stack more than {most} offers of {issuer!r}",
        )
    for other in taken:
        if not policy.combines(offer.kind, other.kind):
            return (
                "not_combinable",
                (
                    f"offer {offer.code!r} ({offer.kind}) does not combine with "
                    f"{other.code!r} ({other.kind})"
                ),
            )
    return None


def _percent_of(units: int, percent: Decimal) -> int:
    share = _EXACT.divide(_EXACT.multiply(Decimal(units), percent), 100)
    return int(share.quantize(_ONE, rounding=ROUND_HALF_UP, context=_EXACT))


def _wanted(offer: Offer, nets: list[int], lines: Sequence[OrderLine]) -> list[int]:
    """What one offer would take off each target line, before caps."""
    if type(offer) is PercentOff:
        return split_minor(_percent_of(sum(nets), offer.percent), nets)
    if type(offer) is AmountOff:
        return split_minor(min(_minor(offer.amount), sum(nets)), nets)
    if type(offer) is FixedPrice:
        price = _minor(offer.price)
        return [
            max(0, n - price * ln.quantity) for n, ln in zip(nets, lines, strict=True)
        ]
    if type(offer) is not BuyXGetY:  # FreeShipping takes nothing off the goods
        return [0] * len(nets)
    group = offer.buy + offer.get
    # The free units are worth what the line's units cost so far: an earlier
    # offer (a fixed price, a percent off) made them cheaper already. Rounded
    # down, so the merchant never gives away more than the free units.
    return [
        n * ((ln.quantity // group) * offer.get) // ln.quantity
        for n, ln in zip(nets, lines, strict=True)
    ]


def apply_offers(
    lines: Sequence[OrderLine],
    offers: Sequence[Offer],
    *,
    shipping: Money | None = None,
    policy: StackingPolicy = DEFAULT_STACKING,
) -> Totals:
    """Apply offers to lines under a stacking policy; tax is left out.

    Offers are taken in the policy's order of application; each one's
    discount is computed on the lines' net amounts so far and split over its
    lines in proportion to them by largest remainder, so the parts sum to
    the whole to the minor unit. No line ever goes below zero.

    Args:
        lines: The order's lines, at least one, in one currency.
        offers: The offers claimed.
        shipping: Shipping charged, for free-shipping offers.
        policy: The stacking policy.

    Returns:
        The totals, with the offers applied and the ones refused.

    Raises:
        EmptyOrder: There are no lines.
        CurrencyMismatch: Lines or shipping in different currencies.
        InvalidOffer: An offer is not an offer of a known kind.
    """
    quote = Quote("-", "-", lines, offers, shipping)
    return _price(quote, policy, stacking=True)


def price(quote: Quote, policy: StackingPolicy = DEFAULT_STACKING) -> Totals:
    """Price a quote: apply its offers under `policy`, add shipping and tax.

    Returns:
        The totals; `.total` is what the buyer should pay.
    """
    return _price(quote, policy, stacking=True)


def expected_total(quote: Quote, policy: StackingPolicy = DEFAULT_STACKING) -> Money:
    """What the buyer should pay for a quote: `price(quote, policy).total`.

    `sum(unit_price * qty) - line discounts - order discounts + shipping
    (+ tax where the channel adds it)`, exact at the minor unit.
    """
    return _price(quote, policy, stacking=True).total


def allocate(totals: Totals, amount: Money) -> tuple[Money, ...]:
    """Split an order-level amount (shipping, a refund) over the lines.

    In proportion to the lines' net amounts, or their quantities when every
    line is free, with `orderkit.money.split`: the parts sum to `amount`
    exactly.

    Raises:
        CurrencyMismatch: `amount` is in another currency than the order.
    """
    if amount.currency != totals.currency:
        raise CurrencyMismatch("amount", amount.currency.code, totals.currency.code)
    weights = [line.net.minor for line in totals.lines]
    if not any(weights):
        weights = [line.quantity for line in totals.lines]
    return split(amount, weights)


def _price(quote: Quote, policy: StackingPolicy, *, stacking: bool) -> Totals:
    lines = quote.lines
    currency = lines[0].unit_price.currency  # `quote.currency`, inlined
    # `_minor` inlined: the lines are one currency, and this runs on every
    # line of every order.
    scale = _TENS[currency.minor_units]
    gross = [int(_multiply(ln.unit_price.amount, scale)) * ln.quantity for ln in lines]
    ship = 0 if quote.shipping is None else _minor(quote.shipping)
    if (
        len(quote.offers) <= 1
        and policy.line_cap is None
        and policy.order_cap is None
        and (simple := _price_simple(quote, currency, gross, ship)) is not None
    ):
        return simple
    return _price_offers(quote, policy, currency, gross, ship, stacking=stacking)


def _price_offers(  # noqa: PLR0913 - `_price`'s quote and what it read of it
    quote: Quote,
    policy: StackingPolicy,
    currency: Currency,
    gross: list[int],
    ship: int,
    *,
    stacking: bool,
) -> Totals:
    """`_price` of any quote; `gross` and `ship` in minor units, as it read them."""
    lines = quote.lines
    offers = quote.offers
    count = len(lines)
    line_off = [0] * count
    order_off = [0] * count
    goods = sum(gross)
    ship_off = 0
    line_room = (
        None if policy.line_cap is None else _percent_floors(gross, policy.line_cap)
    )
    order_room = (
        None if policy.order_cap is None else _percent_floor(goods, policy.order_cap)
    )

    ranked: Sequence[int] = range(len(offers))  # one offer: nothing to order
    if len(offers) > 1:
        ranked = sorted(ranked, key=lambda i: (policy.rank(offers[i].kind), i))
    taken: list[Offer] = []
    applied: list[AppliedOffer] = []
    refused: list[RefusedOffer] = []
    for index in ranked:
        offer = offers[index]
        # Its threshold against its goods as they stand: the offers before
        # it applied, not itself.
        refusal = _refusal(offer, currency, taken, policy, stacking=stacking) or _short(
            offer,
            lines,
            currency,
            gross=gross,
            spent=(line_off, order_off),
            stacking=stacking,
        )
        if refusal is not None:
            refused.append(RefusedOffer(index, offer, *refusal))
            continue
        taken.append(offer)
        if type(offer) is FreeShipping:
            off = ship - ship_off
            ship_off += off
            applied.append(_new_applied(index, offer, _money(off, currency)))
            continue
        skus = offer.skus
        targets, aimed = _targets(lines, offer)
        nets = [gross[i] - line_off[i] - order_off[i] for i in targets]
        wanted = _wanted(offer, nets, aimed)
        if order_room is not None and sum(wanted) > order_room:
            wanted = split_minor(order_room, wanted)
        for k, i in enumerate(targets):
            part = min(wanted[k], nets[k])
            if line_room is not None:
                part = min(part, line_room[i])
                line_room[i] -= part
            wanted[k] = part
            if skus:
                line_off[i] += part
            else:
                order_off[i] += part
        taken_off = sum(wanted)
        if order_room is not None:
            order_room -= taken_off
        applied.append(_new_applied(index, offer, _money(taken_off, currency)))

    return _totals(
        quote,
        gross=gross,
        line_off=line_off,
        order_off=order_off,
        shipping=(ship, ship_off),
        applied=applied,
        refused=refused,
    )


def _short(  # noqa: PLR0913 - the offer, and `_price_offers`' running sums
    offer: Offer,
    lines: Sequence[OrderLine],
    currency: Currency,
    *,
    gross: list[int],
    spent: tuple[list[int], list[int]],
    stacking: bool,
) -> tuple[str, str, Money] | None:
    """The `"min_spend"` refusal of an offer whose goods are under its threshold.

    Its goods are its target lines (every line for free shipping) at their
    gross less the line and order discounts `spent` so far; `None` for an
    offer without a threshold, one that reaches it, or without `stacking`
    (every claimed offer applied). The threshold is in the order's
    currency: `_refusal` refused any other.
    """
    if not stacking or type(offer) is FixedPrice or type(offer) is BuyXGetY:
        return None
    least = offer.min_spend
    if least is None:
        return None
    targets, _ = _targets(lines, offer)
    line_off, order_off = spent
    goods = sum(gross[i] - line_off[i] - order_off[i] for i in targets)
    if goods >= _minor(least):
        return None
    subtotal = _money(goods, currency)
    message = (
        f"offer {offer.code!r} needs a spend of {least}, its goods come to {subtotal}"
    )
    return "min_spend", message, subtotal


def _price_simple(
    quote: Quote, currency: Currency, gross: list[int], ship: int
) -> Totals | None:
    """`_price_offers` of the common quote, or `None` for it to price the quote.

    The common quote claims no offer, or one amount off the whole order in
    its currency without a minimum spend, under a policy without caps
    (`_price` checks the caps).
    One offer is never refused for others (`max_stacked` and
    `max_per_issuer` count the offers taken before it), ranked or capped,
    so what `_price_offers` does for it comes down to one split over the gross
    amounts: each part is at most its line's gross (the amount is at most
    their sum, and no line's gross is negative), so no line goes below zero
    and nothing is cut. `test_validate_fast_path` holds the two equal.
    """
    offers = quote.offers
    if not offers:
        applied = []
        parts = [0] * len(gross)
    else:
        offer = offers[0]
        if (
            type(offer) is not AmountOff
            or offer.skus
            or offer.min_spend is not None
            or offer.amount.currency is not currency
        ):
            return None
        parts = split_minor(min(_minor(offer.amount), sum(gross)), gross)
        applied = [_new_applied(0, offer, _money(sum(parts), currency))]
    return _totals(
        quote,
        gross=gross,
        line_off=[0] * len(gross),
        order_off=parts,
        shipping=(ship, 0),
        applied=applied,
        refused=[],
    )


def _targets(
    lines: Sequence[OrderLine], offer: Offer
) -> tuple[Sequence[int], Sequence[OrderLine]]:
    """The lines an offer aims at, by index and themselves: all without SKUs.

    A line is aimed at when its SKU folds equal to one of the offer's
    (`sku_key`), as purchase limits match SKUs. A SKU spelled as the offer
    spells it needs no folding: most lines are matched without it.
    """
    if type(offer) is FreeShipping or not offer.skus:
        return range(len(lines)), lines
    skus = offer.skus
    keys = offer._keys  # noqa: SLF001 - folded once per offer, in its package
    known = _KEYS.get  # `sku_key`, without a call for a SKU folded before
    targets = [
        i
        for i, line in enumerate(lines)
        if line.sku in skus or (known(line.sku) or sku_key(line.sku)) in keys
    ]
    return targets, [lines[i] for i in targets]


def _totals(  # noqa: PLR0913 - the parts of one result
    quote: Quote,
    *,
    gross: list[int],
    line_off: list[int],
    order_off: list[int],
    shipping: tuple[int, int],
    applied: list[AppliedOffer],
    refused: list[RefusedOffer],
) -> Totals:
    currency = quote.lines[0].unit_price.currency  # `quote.currency`, inlined
    ship, ship_off = shipping
    goods = sum(gross)
    tax = 0 if quote.tax is None else _minor(quote.tax)
    total_line_off = sum(line_off)
    total_order_off = sum(order_off)
    total = goods - total_line_off - total_order_off + ship - ship_off
    if not quote.taxes_included:
        total += tax
    # `Quote` refused goods and totals Money cannot hold: `_money` needs no check.
    result = _TotalsDraft()
    result.currency = currency
    result.lines = _net_lines(quote.lines, currency, gross, line_off, order_off)
    result.taxes_included = quote.taxes_included
    result.total = _money(total, currency)
    result.applied = tuple(applied)
    result.refused = tuple(refused)
    # fmt: off
    result._minor = (  # noqa: SLF001 - its own lazy slot
        currency, goods, total_line_off, total_order_off, ship, ship_off, tax,
    )
    # fmt: on
    result.__class__ = Totals
    totals: Totals = result
    return totals


def _percent_floor(units: int, percent: Decimal) -> int:
    # Integers only: a cap is checked on every line of every order.
    numerator, denominator = percent.as_integer_ratio()
    return units * numerator // (denominator * 100)


def _percent_floors(units: list[int], percent: Decimal) -> list[int]:
    """`_percent_floor` of each of `units`, taking the percent's ratio once."""
    numerator, denominator = percent.as_integer_ratio()
    denominator *= 100
    return [u * numerator // denominator for u in units]
