"""Discount offers and the policy that says how they stack."""

from __future__ import annotations

import decimal
import enum
from collections.abc import Iterable
from decimal import Decimal
from typing import ClassVar, Final, final

import attrs

from orderkit._validate import (
    MAX_NAME_LENGTH,
    Validator,
    optional_name,
    positive_int,
    text,
)
from orderkit.errors import InvalidOffer
from orderkit.money import Money
from orderkit.pricing._skus import sku_keys


@final
class OfferKind(enum.StrEnum):
    """The kinds of offer a stacking policy orders, excludes and combines.

    .. versionadded:: 0.1.0
    """

    PERCENT = "percent"
    AMOUNT = "amount"
    FIXED_PRICE = "fixed_price"
    FREE_SHIPPING = "free_shipping"
    BUY_X_GET_Y = "buy_x_get_y"


def offer_kind(value: OfferKind | str, field: str = "kind") -> OfferKind:
    """Return the `OfferKind` of a kind or its string value.

    Raises:
        InvalidOffer: The value is not a known offer kind.
    """
    try:
        return OfferKind(value)
    except ValueError:
        known = ", ".join(k.value for k in OfferKind)
        raise InvalidOffer(
            field, value, f"unknown offer kind; one of {known}"
        ) from None


def _percent(value: Decimal | int | str) -> Decimal:
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value)
        except decimal.InvalidOperation:
            raise InvalidOffer("percent", value, "must be a decimal number") from None
    else:
        raise InvalidOffer(
            "percent", value, "must be a Decimal, an int or a decimal string"
        )
    if not number.is_finite() or not 0 <= number <= 100:
        raise InvalidOffer("percent", value, "must be from 0 to 100")
    return number


def _skus(value: Iterable[str]) -> frozenset[str]:
    given: object = value
    if isinstance(given, str) or not isinstance(given, Iterable):
        raise InvalidOffer("skus", value, "must be a collection of SKUs")
    items = tuple(given)
    for sku in items:
        if not isinstance(sku, str) or not sku.strip():
            raise InvalidOffer("skus", value, "every SKU must be a non-empty string")
    return frozenset(items)


def _required_skus(value: Iterable[str]) -> frozenset[str]:
    skus = _skus(value)
    if not skus:
        raise InvalidOffer("skus", value, "name at least one SKU")
    return skus


def _folded(offer: PercentOff | AmountOff | FixedPrice | BuyXGetY) -> frozenset[str]:
    # Folded once per offer: `price` matches every line of every order to it.
    return sku_keys(offer.skus)


def _keys_field() -> frozenset[str]:
    """The offer's SKUs folded (`sku_key`), to match lines on; not compared."""
    return attrs.field(
        init=False,
        eq=False,
        repr=False,
        default=attrs.Factory(_folded, takes_self=True),
    )


def _money_at_least_zero(field: str) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if type(value) is not Money:
            raise InvalidOffer(field, value, "must be a Money")
        if value.amount < 0:
            raise InvalidOffer(field, value, "must not be negative")

    return check


def _check_min_spend(instance: object, _attribute: object, value: object) -> None:
    if value is None:
        return
    if type(value) is not Money:
        raise InvalidOffer("min_spend", value, "must be a Money, or None")
    if value.amount < 0:
        raise InvalidOffer("min_spend", value, "must not be negative")
    # An amount off names its currency; a percent or free shipping has none
    # but its threshold's, which pricing holds against the order's.
    if type(instance) is AmountOff and value.currency != instance.amount.currency:
        raise InvalidOffer(
            "min_spend",
            value,
            f"must be in the offer's currency, {instance.amount.currency.code}",
        )


_min_spend: Final[Validator] = _check_min_spend
# Who funds an offer (a store, the platform): names as long as a SKU's.
_issuer: Final[Validator] = optional_name("issuer", MAX_NAME_LENGTH)


@final
@attrs.frozen(slots=True)
class PercentOff:
    """A percentage off the order's goods, or off the lines of some SKUs.

    Attributes:
        code: The offer's code as the buyer or the channel names it.
        percent: From 0 to 100 (`Decimal("15")` is 15% off).
        skus: The SKUs it applies to; empty means the whole order (an
            order discount), otherwise it is a line discount. SKUs are
            matched folded, as `orderkit.dedupe.normalize_sku`
            folds them and purchase limits match them: case, Unicode width
            (full-width forms) and surrounding or repeated whitespace do
            not count, so `"tea-1"` names the lines of `"TEA-1"`,
            `"TEA-1 "` and `"TEA-1"` in full-width letters, and two SKUs
            that fold equal are one. Punctuation counts: `"A-1"` is not `"A1"`.
        min_spend: The least its goods must come to for it to apply
            ("10% off orders over 200.00", 满折); `None` for no threshold.
            Measured as for `AmountOff.min_spend`, in the order's currency
            (a threshold in another is refused as `"currency_mismatch"`).
        issuer: Who issued it (a store, the platform), for
            `StackingPolicy.max_per_issuer`; `None` for none.

    Raises:
        InvalidOffer: The percent is a float or outside 0..100, or
            `min_spend` is not a Money or is negative.
        ValidationError: `issuer` is not `None` or printable text of 1 to
            255 characters.

    .. versionadded:: 0.1.0
    """

    kind: ClassVar[OfferKind] = OfferKind.PERCENT
    code: str = attrs.field(validator=text("code"))
    percent: Decimal = attrs.field(converter=_percent)
    skus: frozenset[str] = attrs.field(default=frozenset(), converter=_skus)
    min_spend: Money | None = attrs.field(default=None, validator=_min_spend)
    issuer: str | None = attrs.field(default=None, validator=_issuer)
    _keys: frozenset[str] = _keys_field()


@final
@attrs.frozen(slots=True)
class AmountOff:
    """A fixed amount off the order's goods, or off the lines of some SKUs.

    The amount is split over the lines it applies to in proportion to their
    net amounts, and never takes more than they are worth.

    Attributes:
        code: The offer's code (`"TENOFF"`).
        amount: The amount off, zero or more.
        skus: The SKUs it applies to; empty means the whole order. SKUs
            are matched folded, as for `PercentOff.skus`.
        min_spend: The least its goods must come to for it to apply (满减:
            "15.00 off orders over 100.00"); `None` for no threshold. Its
            goods are the lines it applies to (of its SKUs, or all), at
            their net amounts just before it: `unit_price * quantity` less
            what the offers applied before it in the policy's order took
            off them, as its own discount is computed. So with
            `AMOUNT_FIRST` a fixed price, a buy-X-get-Y, or an amount off
            claimed before it lowers the subtotal, and a percent off does
            not; offers refused do not either. Shipping and tax never
            count. Reaching the threshold exactly is enough. Below it, the
            offer is refused (`RefusedOffer.reason` `"min_spend"`) and
            `validate` reports `below_min_spend`.
        issuer: Who issued the offer and funds it (a store, the
            platform: 店铺券, 平台券), for `StackingPolicy.max_per_issuer`;
            `None` for an offer that counts against no issuer.

    Raises:
        InvalidOffer: The amount is not a Money or is negative, or
            `min_spend` is not a Money in the amount's currency, or is
            negative.
        ValidationError: `issuer` is not `None` or printable text of 1 to
            255 characters.

    .. versionadded:: 0.1.0
    """

    kind: ClassVar[OfferKind] = OfferKind.AMOUNT
    code: str = attrs.field(validator=text("code"))
    amount: Money = attrs.field(validator=_money_at_least_zero("amount"))
    skus: frozenset[str] = attrs.field(default=frozenset(), converter=_skus)
    min_spend: Money | None = attrs.field(default=None, validator=_min_spend)
    issuer: str | None = attrs.field(default=None, validator=_issuer)
    _keys: frozenset[str] = _keys_field()


@final
@attrs.frozen(slots=True)
class FixedPrice:
    """The listed SKUs sell at one unit price (a "now only 99" deal).

    A line already cheaper than the price keeps its price.

    Attributes:
        code: The offer's code.
        price: The unit price, zero or more.
        skus: The SKUs it applies to, at least one; matched folded, as
            for `PercentOff.skus`.
        issuer: Who issued it (a store, the platform), for
            `StackingPolicy.max_per_issuer`; `None` for none.

    .. versionadded:: 0.1.0
    """

    kind: ClassVar[OfferKind] = OfferKind.FIXED_PRICE
    code: str = attrs.field(validator=text("code"))
    price: Money = attrs.field(validator=_money_at_least_zero("price"))
    skus: frozenset[str] = attrs.field(converter=_required_skus)
    issuer: str | None = attrs.field(default=None, validator=_issuer)
    _keys: frozenset[str] = _keys_field()


@final
@attrs.frozen(slots=True)
class FreeShipping:
    """Shipping costs the buyer nothing.

    Attributes:
        code: The offer's code.
        min_spend: The least the order's goods must come to for shipping
            to be free (包邮门槛, "free shipping over 99.00"); `None` for no
            threshold. Measured as for `AmountOff.min_spend`, on every line:
            after every goods offer in `AMOUNT_FIRST` and `PERCENT_FIRST`,
            which apply free shipping last. In the order's currency (a
            threshold in another is refused as `"currency_mismatch"`).
        issuer: Who issued it (a store, the platform), for
            `StackingPolicy.max_per_issuer`; `None` for none.

    Raises:
        InvalidOffer: `min_spend` is not a Money or is negative.
        ValidationError: `issuer` is not `None` or printable text of 1 to
            255 characters.

    .. versionadded:: 0.1.0
    """

    kind: ClassVar[OfferKind] = OfferKind.FREE_SHIPPING
    code: str = attrs.field(validator=text("code"))
    min_spend: Money | None = attrs.field(default=None, validator=_min_spend)
    issuer: str | None = attrs.field(default=None, validator=_issuer)


@final
@attrs.frozen(slots=True)
class BuyXGetY:
    """Buy `buy` units of a SKU and get `get` more free, within one line.

    A line of 5 with buy 2, get 1 has one free unit (5 // 3 groups of 3).
    A free unit is worth what the line's units cost when the offer applies:
    after a fixed price or a percent off that came first, that lower price
    (rounded down to the minor unit). Its `issuer`, as `AmountOff.issuer`;
    its `skus` (at least one) are matched folded, as for `PercentOff.skus`.

    .. versionadded:: 0.1.0
    """

    kind: ClassVar[OfferKind] = OfferKind.BUY_X_GET_Y
    code: str = attrs.field(validator=text("code"))
    buy: int = attrs.field(validator=positive_int("buy"))
    get: int = attrs.field(validator=positive_int("get"))
    skus: frozenset[str] = attrs.field(converter=_required_skus)
    issuer: str | None = attrs.field(default=None, validator=_issuer)
    _keys: frozenset[str] = _keys_field()


Offer = PercentOff | AmountOff | FixedPrice | FreeShipping | BuyXGetY
"""Any offer: `PercentOff`, `AmountOff`, `FixedPrice`, `FreeShipping`, `BuyXGetY`.

.. versionadded:: 0.1.0
"""
OFFER_TYPES: Final = (PercentOff, AmountOff, FixedPrice, FreeShipping, BuyXGetY)

AMOUNT_FIRST: Final[tuple[OfferKind, ...]] = (
    OfferKind.FIXED_PRICE,
    OfferKind.BUY_X_GET_Y,
    OfferKind.AMOUNT,
    OfferKind.PERCENT,
    OfferKind.FREE_SHIPPING,
)
"""Fixed prices, then buy-X-get-Y, then amounts off, then percentages off.

The default order: a percentage taken after an amount off costs the
merchant less. `StackingPolicy(order=PERCENT_FIRST)` reverses the two.

.. versionadded:: 0.1.0
"""

PERCENT_FIRST: Final[tuple[OfferKind, ...]] = (
    OfferKind.FIXED_PRICE,
    OfferKind.BUY_X_GET_Y,
    OfferKind.PERCENT,
    OfferKind.AMOUNT,
    OfferKind.FREE_SHIPPING,
)
"""Like `AMOUNT_FIRST`, but percentages off before amounts off.

.. versionadded:: 0.1.0
"""


def _order(value: Iterable[OfferKind | str]) -> tuple[OfferKind, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidOffer("order", value, "must be a sequence of offer kinds")
    kinds = tuple(offer_kind(k, f"order[{i}]") for i, k in enumerate(value))
    if sorted(kinds) != sorted(OfferKind):
        raise InvalidOffer("order", value, "must name every offer kind exactly once")
    return kinds


def _kinds(value: Iterable[OfferKind | str]) -> frozenset[OfferKind]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidOffer("exclusive", value, "must be a collection of offer kinds")
    return frozenset(offer_kind(k, "exclusive") for k in value)


def _pairs(
    value: Iterable[Iterable[OfferKind | str]] | None,
) -> frozenset[frozenset[OfferKind]] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidOffer("combinable", value, "must be pairs of offer kinds")
    pairs = []
    for i, pair in enumerate(value):
        given: object = pair
        kinds = tuple(given) if isinstance(given, Iterable) else ()
        if isinstance(pair, str) or len(kinds) != 2:
            raise InvalidOffer(f"combinable[{i}]", pair, "must be a pair of kinds")
        pairs.append(frozenset(offer_kind(k, f"combinable[{i}]") for k in kinds))
    return frozenset(pairs)


def _cap(field: str) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if value is None:
            return
        if type(value) is not Decimal or not value.is_finite() or not 0 <= value <= 100:
            raise InvalidOffer(field, value, "must be a Decimal from 0 to 100, or None")

    return check


def _positive_or_none(field: str) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if value is not None and (type(value) is not int or value < 1):
            raise InvalidOffer(field, value, "must be a positive int, or None")

    return check


@final
@attrs.frozen(slots=True)
class StackingPolicy:
    """How offers claimed together are chosen and applied.

    Offers are applied kind by kind in `order`, and in the order they were
    claimed within a kind. Walking them in that order, an offer is refused
    when an exclusive offer was taken already, when it is exclusive and
    another was taken, when `max_stacked` offers were taken, when it has an
    issuer and `max_per_issuer` offers of that issuer were taken, or when
    `combinable` is given and does not list its kind with the kind of each
    offer taken (a kind stacks with itself only if listed with itself).

    Attributes:
        order: Every `OfferKind` once, in the order of application
            (`AMOUNT_FIRST` or `PERCENT_FIRST`, or your own).
        exclusive: Kinds that never stack with any other offer.
        combinable: Pairs of kinds that may stack; `None` lets any
            non-exclusive kinds stack.
        max_stacked: At most this many offers per order; `None` for no limit.
        max_per_issuer: At most this many offers of one issuer per order
            (`1`: one store coupon and one platform coupon stack, two store
            coupons do not); offers without an issuer do not count.
            Compared exactly: `"shop-1"` and `"Shop-1"` are two issuers.
            `None` for no limit.
        line_cap: At most this percent of a line's price off it, across
            all offers (`Decimal("50")`); `None` for no cap.
        order_cap: At most this percent of the order's goods off them,
            across all offers; shipping is not counted.

    Raises:
        InvalidOffer: An unknown kind, an order that does not name every
            kind once, a cap outside 0..100, or `max_stacked` or
            `max_per_issuer` not a positive int.

    .. versionadded:: 0.1.0
    """

    order: tuple[OfferKind, ...] = attrs.field(default=AMOUNT_FIRST, converter=_order)
    exclusive: frozenset[OfferKind] = attrs.field(default=frozenset(), converter=_kinds)
    combinable: frozenset[frozenset[OfferKind]] | None = attrs.field(
        default=None, converter=_pairs
    )
    max_stacked: int | None = attrs.field(
        default=None, validator=_positive_or_none("max_stacked")
    )
    line_cap: Decimal | None = attrs.field(default=None, validator=_cap("line_cap"))
    order_cap: Decimal | None = attrs.field(default=None, validator=_cap("order_cap"))
    max_per_issuer: int | None = attrs.field(
        default=None, validator=_positive_or_none("max_per_issuer")
    )

    def rank(self, kind: OfferKind) -> int:
        """Return where offers of `kind` come in the order of application."""
        return self.order.index(kind)

    def combines(self, kind: OfferKind, other: OfferKind) -> bool:
        """Return whether an offer of `kind` may stack with one of `other`."""
        if kind in self.exclusive or other in self.exclusive:
            return False
        return self.combinable is None or frozenset({kind, other}) in self.combinable
